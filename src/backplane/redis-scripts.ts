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
 *   P alias:NS/ALIAS  string holder {peerId, node} (JSON)
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

/** Shared tail: what a room does when a member leaves at `now` (ARGV[3]). */
const AFTER_LEAVE = `${DROP_ROOM}
local function after_leave(room, members, rooms, due_empty, due_idle, key, now)
  if redis.call('EXISTS', room) == 0 then return end
  redis.call('HSET', room, 'lastActivity', now)
  local opts = cjson.decode(redis.call('HGET', room, 'options'))
  if redis.call('HLEN', members) == 0 then
    local ttl = tonumber(opts.emptyTtlMs) or 0
    if ttl <= 0 then
      drop_room(room, members, rooms, due_empty, due_idle, key)
    else
      redis.call('ZADD', due_empty, tonumber(now) + ttl, key)
    end
  else
    local idle = tonumber(opts.idleTtlMs) or 0
    if idle > 0 then redis.call('ZADD', due_idle, tonumber(now) + idle, key) end
  end
end
`;

export const SCRIPTS = {
  /**
   * KEYS room members rooms due:empty due:idle node-rooms created-by;
   * ARGV key peerId memberJson create defaultsJson maxCap now maxPerAddress (0: a room it creates is not counted)
   */
  sbJoin: {
    numberOfKeys: 7,
    lua: `${QUOTA}
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[4] ~= '1' then return {0, 'room-not-found'} end
  local quota = tonumber(ARGV[8])
  if quota_full(KEYS[7], quota) then return {0, 'room-quota'} end
  redis.call('HSET', KEYS[1], 'createdAt', ARGV[7], 'lastActivity', ARGV[7], 'options', ARGV[5])
  redis.call('SADD', KEYS[3], ARGV[1])
  count_room(KEYS[1], KEYS[7], quota)
end
local opts = cjson.decode(redis.call('HGET', KEYS[1], 'options'))
local max = tonumber(ARGV[6])
local cap = tonumber(opts.capacity) or max
if cap <= 0 or cap > max then cap = max end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 and redis.call('HLEN', KEYS[2]) >= cap then return {0, 'room-full'} end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'lastActivity', ARGV[7])
redis.call('ZREM', KEYS[4], ARGV[1])
local idle = tonumber(opts.idleTtlMs) or 0
if idle > 0 then redis.call('ZADD', KEYS[5], tonumber(ARGV[7]) + idle, ARGV[1]) end
redis.call('SADD', KEYS[6], ARGV[1])
local room = redis.call('HMGET', KEYS[1], 'createdAt', 'lastActivity', 'options')
return {1, room[1], room[2], room[3], redis.call('HVALS', KEYS[2])}
`,
  },
  /** KEYS room members rooms due:empty due:idle; ARGV key peerId now */
  sbLeave: {
    numberOfKeys: 5,
    lua: `${AFTER_LEAVE}
if redis.call('HDEL', KEYS[2], ARGV[2]) == 0 then return 0 end
after_leave(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[3])
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
  /** KEYS alias node-aliases; ARGV holderJson peerId replace(0|1). Returns {ok, previousJson|''} */
  sbClaim: {
    numberOfKeys: 2,
    lua: `
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if c.peerId ~= ARGV[2] and ARGV[3] ~= '1' then return {0, cur} end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], KEYS[1])
return {1, cur or ''}
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
  /** KEYS room members rooms due:empty due:idle; ARGV key node now — removes a dead node's members */
  sbRemoveNodeMembers: {
    numberOfKeys: 5,
    lua: `${AFTER_LEAVE}
local removed = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local ok, m = pcall(cjson.decode, all[i + 1])
  if ok and m.node == ARGV[2] then
    redis.call('HDEL', KEYS[2], all[i])
    table.insert(removed, all[i])
  end
end
if #removed > 0 then after_leave(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[3]) end
return removed
`,
  },
  /** KEYS alias; ARGV node — deletes the alias only if a peer of that node holds it */
  sbReleaseNodeAlias: {
    numberOfKeys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).node == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`,
  },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
