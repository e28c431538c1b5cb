/**
 * Lua scripts of the Redis backplane. Each runs atomically in Redis, which is what makes capacity,
 * identities and room removal hold cluster-wide under concurrent calls from many nodes.
 *
 * Key layout (P = redis.prefix, default "sb:"; K = a room key "<namespace>/<name>"):
 *   P room:K          hash  createdAt, lastActivity, options (JSON); createdBy (P created-by:A) when counted
 *   P members:K       hash  peerId → member record (JSON, names its node)
 *   P rooms           set   every room key
 *   P due:empty       zset  K → when the empty room is to be removed
 *   P due:idle        zset  K → when the room expires without activity
 *   P alias:NS/ALIAS  string holder {peerId, node[, owner]} (JSON; owner: an opaque hash, see sbClaim)
 *   P mail:NS/ALIAS   list  addressed deliveries waiting for the alias's holder: "<from>\n<frame>",
 *                           oldest first; PEXPIREd past its last push (MailboxOptions.ttlMs)
 *   P nodes           zset  node id → last presence refresh (ms)
 *   P node-rooms:N    set   rooms node N has (had) members in — for dead-node cleanup
 *   P node-aliases:N  set   alias keys node N claimed — for dead-node cleanup
 *   P created-by:A    set   `P room:K` of the live rooms client address A created (rooms.maxPerAddress)
 * Channels: P n:N (deliveries to peers on node N), P r:K (publications to room K).
 *
 * A room and its place in its creator's set are written and removed together, in one script, so
 * the count cannot drift by a crash of any node. Removal finds the set through the room's own
 * `createdBy` field (the one key a script reaches without being handed it). And the count is
 * checked against the rooms themselves before a refusal (quota_full): an entry whose room record
 * is gone — evicted, deleted by hand, lost in a partial restore — stops counting, so nothing can
 * hold an address's quota forever.
 */

/** Shared: removing a room, and with it its place in its creator's count. */
const DROP_ROOM = `
local function drop_room(room, members, rooms, due_empty, due_idle, key)
  local created = redis.call('HGET', room, 'createdBy')
  if created then redis.call('SREM', created, room) end
  redis.call('DEL', room, members)
  redis.call('SREM', rooms, key)
  redis.call('ZREM', due_empty, key)
  redis.call('ZREM', due_idle, key)
end
`;

/**
 * Shared: the per-address quota. `created` is the address's set, `max` its limit (0: not counted).
 * At the limit, a few entries picked at random are checked against their rooms and dropped when the
 * room is gone, then the count is read again: a bounded cost per refusal (an address at its quota
 * may keep asking), and any stale entry is found after a few refusals.
 */
const QUOTA = `
local function quota_full(created, max)
  if max <= 0 or redis.call('SCARD', created) < max then return false end
  for _, room in ipairs(redis.call('SRANDMEMBER', created, 8)) do
    if redis.call('HGET', room, 'createdBy') ~= created then redis.call('SREM', created, room) end
  end
  return redis.call('SCARD', created) >= max
end
local function count_room(room, created, max)
  if max <= 0 then return end
  redis.call('HSET', room, 'createdBy', created)
  redis.call('SADD', created, room)
end
`;

/** Shared tail: what a room does when a member leaves at `now`; true when the room went with it (empty, no grace). */
const AFTER_LEAVE = `${DROP_ROOM}
local function after_leave(room, members, rooms, due_empty, due_idle, key, now)
  if redis.call('EXISTS', room) == 0 then return end
  redis.call('HSET', room, 'lastActivity', now)
  local opts = cjson.decode(redis.call('HGET', room, 'options'))
  if redis.call('HLEN', members) == 0 then
    local ttl = tonumber(opts.emptyTtlMs) or 0
    if ttl <= 0 then
      drop_room(room, members, rooms, due_empty, due_idle, key)
      return true
    else
      redis.call('ZADD', due_empty, tonumber(now) + ttl, key)
    end
  else
    local idle = tonumber(opts.idleTtlMs) or 0
    if idle > 0 then redis.call('ZADD', due_idle, tonumber(now) + idle, key) end
  end
  return false
end
`;

/**
 * Shared: numbers, keeps and hands on one frame of a stored session (write-ahead: the seq exists only
 * with its entry). `owner` ('' any) must still hold the session. Returns the seq, -1 no such session,
 * -2 not owner's any more, -3 over the bound while it has no socket (nothing kept).
 */
const APPEND = `
local function keep(sk, lk, text, owner)
  local h = redis.call('HMGET', sk, 'node', 'last', 'first', 'bytes', 'max', 'deadline', 'loose')
  if not h[1] then return -1 end
  if owner ~= '' and h[1] ~= owner then return -2 end
  local n = #text
  local bytes = tonumber(h[4])
  local first = tonumber(h[3])
  local max = tonumber(h[5])
  if bytes + n > max and h[7] == '1' then
    -- Trimmed since the last count: bytes is only an upper bound. Count what is kept.
    bytes = 0
    for _, e in ipairs(redis.call('LRANGE', lk, 0, -1)) do bytes = bytes + #e - string.find(e, ' ', 1, true) end
    redis.call('HSET', sk, 'loose', '0')
  end
  if bytes + n > max then
    if tonumber(h[6]) > 0 then return -3 end
    while bytes + n > max do
      local e = redis.call('LPOP', lk)
      if not e then break end
      bytes = bytes - (#e - string.find(e, ' ', 1, true))
      first = first + 1
    end
  end
  local seq = tonumber(h[2]) + 1
  redis.call('RPUSH', lk, seq .. ' ' .. text)
  redis.call('HSET', sk, 'last', seq, 'first', first, 'bytes', bytes + n)
  return seq, h[1]
end
local function append(sk, lk, id, text, owner, prefix)
  local seq, node = keep(sk, lk, text, owner)
  if seq > 0 then redis.call('PUBLISH', prefix .. 'n:' .. node, 'F' .. id .. ' ' .. seq .. '\\n' .. text) end
  return seq
end
`;

export const SCRIPTS = {
  /**
   * KEYS room members rooms due:empty due:idle node-rooms created-by;
   * ARGV key peerId memberJson create defaultsJson maxCap now maxPerAddress (0: a room it creates is not counted).
   * Returns {0, code} or {1, createdAt, lastActivity, options, members, created(0|1), added(0|1)}.
   */
  sbJoin: {
    numberOfKeys: 7,
    lua: `${QUOTA}
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[4] ~= '1' then return {0, 'room-not-found'} end
  local quota = tonumber(ARGV[8])
  if quota_full(KEYS[7], quota) then return {0, 'room-quota'} end
  redis.call('HSET', KEYS[1], 'createdAt', ARGV[7], 'lastActivity', ARGV[7], 'options', ARGV[5])
  redis.call('SADD', KEYS[3], ARGV[1])
  count_room(KEYS[1], KEYS[7], quota)
  created = 1
end
local opts = cjson.decode(redis.call('HGET', KEYS[1], 'options'))
local max = tonumber(ARGV[6])
local cap = tonumber(opts.capacity) or max
if cap <= 0 or cap > max then cap = max end
local added = 1 - redis.call('HEXISTS', KEYS[2], ARGV[2])
if added == 1 and redis.call('HLEN', KEYS[2]) >= cap then return {0, 'room-full'} end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'lastActivity', ARGV[7])
redis.call('ZREM', KEYS[4], ARGV[1])
local idle = tonumber(opts.idleTtlMs) or 0
if idle > 0 then redis.call('ZADD', KEYS[5], tonumber(ARGV[7]) + idle, ARGV[1]) end
redis.call('SADD', KEYS[6], ARGV[1])
local room = redis.call('HMGET', KEYS[1], 'createdAt', 'lastActivity', 'options')
return {1, room[1], room[2], room[3], redis.call('HVALS', KEYS[2]), created, added}
`,
  },
  /** KEYS room members rooms due:empty due:idle; ARGV key peerId now. Returns 0 not there, 1 left, 2 left and the room went too. */
  sbLeave: {
    numberOfKeys: 5,
    lua: `${AFTER_LEAVE}
if redis.call('HDEL', KEYS[2], ARGV[2]) == 0 then return 0 end
if after_leave(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[3]) then return 2 end
return 1
`,
  },
  /**
   * KEYS room rooms due:empty created-by; ARGV key optionsJson now emptyTtlMs maxPerAddress (0: not counted).
   * Returns 1 created, 0 exists, 2 over the quota (checked first: a refused address never costs a name search).
   */
  sbCreate: {
    numberOfKeys: 4,
    lua: `${QUOTA}
local quota = tonumber(ARGV[5])
if quota_full(KEYS[4], quota) then return 2 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'createdAt', ARGV[3], 'lastActivity', ARGV[3], 'options', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
count_room(KEYS[1], KEYS[4], quota)
return 1
`,
  },
  /** KEYS room due:idle; ARGV key now */
  sbTouch: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastActivity', ARGV[2])
local opts = cjson.decode(redis.call('HGET', KEYS[1], 'options'))
local idle = tonumber(opts.idleTtlMs) or 0
if idle > 0 then redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + idle, ARGV[1]) end
return 1
`,
  },
  /**
   * Removes a room if it is (still) due in the given schedule; exactly one caller gets it.
   * KEYS room members rooms due:empty due:idle; ARGV key now which(empty|idle)
   * Returns 0, or {1, members...}.
   */
  sbSweepRoom: {
    numberOfKeys: 5,
    lua: `${DROP_ROOM}
local due_key = KEYS[4]
if ARGV[3] == 'idle' then due_key = KEYS[5] end
local due = redis.call('ZSCORE', due_key, ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
if ARGV[3] == 'empty' and redis.call('HLEN', KEYS[2]) > 0 then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 0
end
local members = redis.call('HVALS', KEYS[2])
drop_room(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1])
return {1, members}
`,
  },
  /**
   * KEYS alias node-aliases; ARGV holder-json peerId replace owner — claims the alias. A holder
   * other than peerId is replaced only with replace = '1' and, when owner is not '', only if it
   * was claimed with the same owner. Returns {1|0, previous-or-current holder JSON or ''}.
   */
  sbClaim: {
    numberOfKeys: 2,
    lua: `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if c.peerId ~= ARGV[2] and (ARGV[3] ~= '1' or (ARGV[4] ~= '' and c.owner ~= ARGV[4])) then return {0, cur} end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], KEYS[1])
return {1, cur or ''}
`,
  },
  /**
   * KEYS alias mail; ARGV channel-prefix head tail raw queue from max ttlMs — an addressed delivery
   * (Backplane.toAlias). Published to the holder's node channel as head .. peerId .. tail .. raw;
   * nobody holds the alias, or no node received it (the holder's node died and its presence has
   * not expired yet): with queue = '1', kept in the mailbox ("<from>\n<raw>") unless it already
   * holds max entries. Returns 'delivered', 'queued', 'full' or 'absent'.
   */
  sbDirect: {
    numberOfKeys: 2,
    lua: `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if redis.call('PUBLISH', ARGV[1] .. c.node, ARGV[2] .. cjson.encode(c.peerId) .. ARGV[3] .. ARGV[4]) > 0 then return 'delivered' end
end
if ARGV[5] ~= '1' then return 'absent' end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[7]) then return 'full' end
redis.call('RPUSH', KEYS[2], ARGV[6] .. '\\n' .. ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
return 'queued'
`,
  },
  /** KEYS mail — takes the whole mailbox, oldest first (its entries, "<from>\n<raw>"). */
  sbTakeMail: {
    numberOfKeys: 1,
    lua: `
local all = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return all
`,
  },
  /** KEYS mail; ARGV from — removes that sender's entries, keeping the others in order (and the TTL); returns how many went. */
  sbExpireMail: {
    numberOfKeys: 1,
    lua: `
local all = redis.call('LRANGE', KEYS[1], 0, -1)
if #all == 0 then return 0 end
local tag = ARGV[1] .. '\\n'
local kept = {}
for _, e in ipairs(all) do
  if string.sub(e, 1, #tag) ~= tag then kept[#kept + 1] = e end
end
local removed = #all - #kept
if removed == 0 then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
if #kept > 0 then
  redis.call('RPUSH', KEYS[1], unpack(kept))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return removed
`,
  },
  /** KEYS alias; ARGV peerId — deletes the alias only if that peer holds it */
  sbRelease: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).peerId == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`,
  },
  /** KEYS nodes; ARGV node staleBefore — removes a node's presence only if still stale (one winner) */
  sbExpireNode: {
    numberOfKeys: 1,
    lua: `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`,
  },
  /**
   * KEYS room members rooms due:empty due:idle; ARGV key node now prefix [keepJson] — removes a dead
   * node's members, except those whose session is in the store (sbNodeSessions gave them a deadline).
   * On a Redis Cluster the sessions live in other slots: the caller looked them up and passes the
   * peerIds to keep (keepJson) instead. Returns {roomRemoved(0|1), peerIds...}.
   */
  sbRemoveNodeMembers: {
    numberOfKeys: 5,
    lua: `${AFTER_LEAVE}
local keep = nil
if ARGV[5] then
  keep = {}
  for _, id in ipairs(cjson.decode(ARGV[5])) do keep[id] = true end
end
local function stored(id)
  if keep then return keep[id] == true end
  return redis.call('EXISTS', ARGV[4] .. 'sess:' .. id) == 1
end
local removed = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local ok, m = pcall(cjson.decode, all[i + 1])
  if ok and m.node == ARGV[2] and not (m.resumable and stored(all[i])) then
    redis.call('HDEL', KEYS[2], all[i])
    table.insert(removed, all[i])
  end
end
local gone = 0
if #removed > 0 and after_leave(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[3]) then gone = 1 end
table.insert(removed, 1, gone)
return removed
`,
  },
  /**
   * KEYS alias; ARGV node prefix [storedPeerId] — deletes the alias only if a peer of that node holds
   * it and has no stored session. On a Redis Cluster the session is in another slot: the caller
   * looked it up, and passes the holder it found with a session (or '') as storedPeerId.
   */
  sbReleaseNodeAlias: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local c = cjson.decode(cur)
if c.node ~= ARGV[1] then return 0 end
if ARGV[3] then
  if c.peerId == ARGV[3] then return 0 end
elseif redis.call('EXISTS', ARGV[2] .. 'sess:' .. c.peerId) == 1 then return 0 end
redis.call('DEL', KEYS[1])
return 1
`,
  },
  /**
   * Redis Cluster only: the per-address room quota, in the address's own slot (rooms live in
   * others, so the room scripts do not count). The set is a sorted set: room key → when it was
   * counted, so a room counted but not created yet (in flight on some node) is told from one that
   * is gone. KEYS created-by; ARGV roomKey max now. Returns 2 the room was counted already, 1
   * counted now, 0 the address is at its quota.
   */
  sbReserve: {
    numberOfKeys: 1,
    lua: `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`,
  },
  /*
   * Stored sessions (SessionStore; docs/operations.md, "Session resume across nodes"):
   *   P sess:<peerId>  hash  node last first bytes max win deadline tok prev subject ns rooms aliases [loose]
   *   P log:<peerId>   list  "<seq> <text>", oldest first (seqs first..last)
   *   P tok:<sha256>   string peerId, or "ended:<resumeError>" (a tombstone, with a TTL)
   *   P sess-due       zset  peerId -> deadline (detached sessions)
   *   P node-sess:N    set   peerIds of the sessions node N held
   * Entries are counted by their text's bytes (#text in Lua); after a trim `bytes` is an upper
   * bound (`loose` = 1) until the next append over the bound counts the log again.
   */
  /**
   * KEYS sess log node-sess tok; ARGV peerId node ns subject tokHash maxBytes windowMs last ifAbsent.
   * `last`: seqs already handed out (a session put back after the store lost it: resync).
   */
  sbOpenSession: {
    numberOfKeys: 4,
    lua: `
if ARGV[9] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'node', ARGV[2], 'last', ARGV[8], 'first', tonumber(ARGV[8]) + 1, 'bytes', 0, 'max', ARGV[6], 'win', ARGV[7], 'deadline', 0, 'tok', ARGV[5], 'prev', '', 'subject', ARGV[4], 'ns', ARGV[3], 'rooms', '[]', 'aliases', '[]')
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], ARGV[1])
return 1
`,
  },
  /**
   * Numbers, keeps and hands on one frame. KEYS sess log; ARGV peerId text owner('' any) prefix.
   * Returns the seq, -1 no such session, -2 not owner's any more, -3 over the bound with no socket.
   */
  sbAppend: {
    numberOfKeys: 2,
    lua: `${APPEND}
return append(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`,
  },
  /**
   * Many frames at once (a tick's appends, in order; on a cluster, of one slot bucket), each as
   * sbAppend would, handed on with one PUBLISH per node instead of one per frame: "M" then, per
   * frame, "<peerId> <seq> <len>\n<text>", len being the text's length as the caller measured it
   * (JavaScript's UTF-16 units: the receiver slices the decoded string with it).
   * KEYS sess log of each session the frames go to (then, up to the count the command was defined
   * for, the first two again: see scriptDefs); ARGV prefix n, the n sessions' peerIds, then
   * per frame: session (1..n) text owner len. Every key a frame touches is declared: on a Redis
   * Cluster whose slot is moving key by key, that is what makes Redis send the script where all of
   * them are (or ask to try again) instead of running it where half of a session is.
   * Returns each frame's sbAppend result, in order.
   */
  sbAppendMany: {
    numberOfKeys: 2,
    lua: `${APPEND}
local out, byNode, order = {}, {}, {}
local p, n = ARGV[1], tonumber(ARGV[2])
for a = 3 + n, #ARGV, 4 do
  local i = tonumber(ARGV[a])
  local id = ARGV[2 + i]
  local seq, node = keep(KEYS[2 * i - 1], KEYS[2 * i], ARGV[a + 1], ARGV[a + 2])
  out[#out + 1] = seq
  if seq > 0 then
    local parts = byNode[node]
    if not parts then
      parts = {'M'}
      byNode[node] = parts
      order[#order + 1] = node
    end
    parts[#parts + 1] = id .. ' ' .. seq .. ' ' .. ARGV[a + 3] .. '\\n'
    parts[#parts + 1] = ARGV[a + 1]
  end
end
for _, node in ipairs(order) do redis.call('PUBLISH', p .. 'n:' .. node, table.concat(byNode[node])) end
return out
`,
  },
  /**
   * A room event to every stored member but one, each into its own log (same rule as sbAppend).
   * KEYS members; ARGV text exceptPeerId prefix. Returns the peerIds whose logs overflowed.
   */
  sbFanout: {
    numberOfKeys: 1,
    lua: `${APPEND}
local over = {}
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  local ok, m = pcall(cjson.decode, v)
  if ok and m.resumable and m.peerId ~= ARGV[2] then
    local id = m.peerId
    if append(ARGV[3] .. 'sess:' .. id, ARGV[3] .. 'log:' .. id, id, ARGV[1], '', ARGV[3]) == -3 then table.insert(over, id) end
  end
end
return over
`,
  },
  /**
   * KEYS sess log; ARGV seq — forgets the entries up to seq (the client has them). The entries are
   * dropped unread (LTRIM: a frame's text never comes back into Lua, where Redis hashes every byte
   * of a string it makes); `bytes` stays as it was, an upper bound (`loose`) that the next append
   * finding itself over the bound counts again before it evicts or refuses anything.
   */
  sbTrim: {
    numberOfKeys: 2,
    lua: `
local h = redis.call('HMGET', KEYS[1], 'first', 'last')
if not h[1] then return 0 end
local first = tonumber(h[1])
local upto = math.min(tonumber(ARGV[1]), tonumber(h[2]))
if upto >= first then
  redis.call('LTRIM', KEYS[2], upto - first + 1, -1)
  redis.call('HSET', KEYS[1], 'first', upto + 1, 'loose', '1')
end
return 1
`,
  },
  /** KEYS sess log; ARGV afterSeq — the entries kept after afterSeq ("<seq> <text>", oldest first): a catch-up. */
  sbReadLog: {
    numberOfKeys: 2,
    lua: `
local first = tonumber(redis.call('HGET', KEYS[1], 'first'))
if not first then return {} end
local skip = math.max(0, tonumber(ARGV[1]) - first + 1)
return redis.call('LRANGE', KEYS[2], skip, -1)
`,
  },
  /** KEYS sess; ARGV rooms aliases */
  sbUpdateSession: {
    numberOfKeys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'rooms', ARGV[1], 'aliases', ARGV[2])
return 1
`,
  },
  /** KEYS sess log due; ARGV peerId node deadline ttlMs prefix — only if node still holds it, once */
  sbDetachSession: {
    numberOfKeys: 3,
    lua: `
local h = redis.call('HMGET', KEYS[1], 'node', 'deadline', 'tok', 'prev')
if not h[1] or h[1] ~= ARGV[2] or tonumber(h[2]) > 0 then return 0 end
redis.call('HSET', KEYS[1], 'deadline', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
local ttl = tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
for _, t in ipairs({h[3], h[4]}) do if t ~= '' then redis.call('PEXPIRE', ARGV[5] .. 'tok:' .. t, ttl) end end
return 1
`,
  },
  /**
   * A dead node's stored sessions: each gets its deadline (now + its window), once.
   * KEYS node-sess due; ARGV node now marginMs prefix. Returns how many.
   */
  sbNodeSessions: {
    numberOfKeys: 2,
    lua: `
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local sk = ARGV[4] .. 'sess:' .. id
  local h = redis.call('HMGET', sk, 'node', 'deadline', 'win', 'tok', 'prev')
  if h[1] == ARGV[1] and tonumber(h[2]) == 0 then
    local dl = tonumber(ARGV[2]) + tonumber(h[3])
    local ttl = tonumber(h[3]) + tonumber(ARGV[3])
    redis.call('HSET', sk, 'deadline', dl)
    redis.call('ZADD', KEYS[2], dl, id)
    redis.call('PEXPIRE', sk, ttl)
    redis.call('PEXPIRE', ARGV[4] .. 'log:' .. id, ttl)
    for _, t in ipairs({h[4], h[5]}) do if t ~= '' then redis.call('PEXPIRE', ARGV[4] .. 'tok:' .. t, ttl) end end
    n = n + 1
  end
end
redis.call('DEL', KEYS[1])
return n
`,
  },
  /**
   * Takes a session over for node ARGV[3]. KEYS tok due; ARGV tokHash newTokHash node subject afterSeq now prefix.
   * Returns {1, peerId, oldNode, ns, rooms, aliases, entries...} or {0, error[, peerId]}.
   */
  sbResumeSession: {
    numberOfKeys: 2,
    lua: `
local v = redis.call('GET', KEYS[1])
if not v then return {0, 'unknown-session'} end
if string.sub(v, 1, 6) == 'ended:' then return {0, string.sub(v, 7)} end
local p = ARGV[7]
local sk = p .. 'sess:' .. v
local lk = p .. 'log:' .. v
local h = redis.call('HMGET', sk, 'node', 'last', 'first', 'deadline', 'tok', 'prev', 'subject', 'ns', 'rooms', 'aliases')
if not h[1] or (h[5] ~= ARGV[1] and h[6] ~= ARGV[1]) then return {0, 'unknown-session'} end
if h[7] ~= ARGV[4] then return {0, 'identity-mismatch'} end
local dl = tonumber(h[4])
if dl > 0 and dl <= tonumber(ARGV[6]) then return {0, 'session-expired', v} end
local after = tonumber(ARGV[5])
if after > tonumber(h[2]) or after + 1 < tonumber(h[3]) then return {0, 'seq-out-of-range', v} end
for _, t in ipairs({h[5], h[6]}) do if t ~= '' and t ~= ARGV[1] then redis.call('DEL', p .. 'tok:' .. t) end end
redis.call('SET', p .. 'tok:' .. ARGV[2], v)
redis.call('PERSIST', p .. 'tok:' .. ARGV[1])
redis.call('HSET', sk, 'node', ARGV[3], 'deadline', 0, 'tok', ARGV[2], 'prev', ARGV[1])
redis.call('PERSIST', sk)
redis.call('PERSIST', lk)
redis.call('ZREM', KEYS[2], v)
redis.call('SREM', p .. 'node-sess:' .. h[1], v)
redis.call('SADD', p .. 'node-sess:' .. ARGV[3], v)
local out = {1, v, h[1], h[8], h[9], h[10]}
local skip = after - tonumber(h[3]) + 1
for _, e in ipairs(redis.call('LRANGE', lk, skip, -1)) do table.insert(out, e) end
return out
`,
  },
  /**
   * Ends a session, once. KEYS sess log due; ARGV peerId how rememberMs now onlyDue prefix.
   * Returns 0, or {node, ns, rooms, aliases} to the one caller that ended it.
   */
  sbEndSession: {
    numberOfKeys: 3,
    lua: `
local h = redis.call('HMGET', KEYS[1], 'node', 'deadline', 'tok', 'prev', 'ns', 'rooms', 'aliases')
if not h[1] then redis.call('ZREM', KEYS[3], ARGV[1]) return 0 end
local dl = tonumber(h[2])
if ARGV[5] == '1' and (dl == 0 or dl > tonumber(ARGV[4])) then
  if dl == 0 then redis.call('ZREM', KEYS[3], ARGV[1]) end
  return 0
end
for _, t in ipairs({h[3], h[4]}) do if t ~= '' then redis.call('SET', ARGV[6] .. 'tok:' .. t, 'ended:' .. ARGV[2], 'PX', ARGV[3]) end end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', ARGV[6] .. 'node-sess:' .. h[1], ARGV[1])
return {h[1], h[5], h[6], h[7]}
`,
  },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
/** A script as ioredis's defineCommand takes it. */
export interface ScriptDef {
  numberOfKeys: number;
  lua: string;
}

/**
 * How many sessions an sbAppendMany command is defined for: a script's key count is fixed when it
 * is defined, and ioredis routes (and, on a cluster, pipelines) a defined command by its first
 * argument, so the count cannot be passed as one. A run to fewer sessions pads its keys up to the
 * next size with its first session's keys (a key may be declared twice).
 */
export const MAX_RUN_SESSIONS = 16;
export const APPEND_MANY_SIZES = [1, 2, 4, 8, MAX_RUN_SESSIONS] as const;

/** The command that runs sbAppendMany for `sessions` sessions, and the key count it declares. */
export function appendManyCommand(sessions: number): { name: string; size: number } {
  const size = APPEND_MANY_SIZES.find((n) => n >= sessions);
  if (size === undefined) throw new RangeError(`sbAppendMany takes at most ${MAX_RUN_SESSIONS} sessions (${sessions})`);
  return { name: `sbAppendMany${size}`, size };
}

/** The commands to define for a script set: each script by its name, sbAppendMany once per size. */
export function scriptDefs(scripts: Record<string, ScriptDef>): [string, ScriptDef][] {
  const out: [string, ScriptDef][] = [];
  for (const [name, s] of Object.entries(scripts)) {
    if (name !== 'sbAppendMany') out.push([name, s]);
    else for (const n of APPEND_MANY_SIZES) out.push([appendManyCommand(n).name, { ...s, numberOfKeys: 2 * n }]);
  }
  return out;
}

/**
 * The scripts as run on a Redis Cluster: every PUBLISH is a sharded SPUBLISH, to a channel the
 * caller tagged with the script's own slot bucket (a script may touch nothing outside its slot).
 */
export const CLUSTER_SCRIPTS = Object.fromEntries(
  Object.entries(SCRIPTS as Record<ScriptName, ScriptDef>).map(([name, s]) => [name, { ...s, lua: s.lua.replaceAll("redis.call('PUBLISH'", "redis.call('SPUBLISH'") }]),
) as Record<ScriptName, ScriptDef>;
