/**
 * Lua scripts of the Redis backplane. Each runs atomically in Redis, which is what makes capacity,
 * identities and room removal hold cluster-wide under concurrent calls from many nodes.
 *
 * Key layout (P = redis.prefix, default "sb:"; K = a room key "<namespace>/<name>"):
 *   P room:K          hash  createdAt, lastActivity, options (JSON)
 *   P members:K       hash  peerId → member record (JSON, names its node)
 *   P rooms           set   every room key
 *   P due:empty       zset  K → when the empty room is to be removed
 *   P due:idle        zset  K → when the room expires without activity
 *   P alias:NS/ALIAS  string holder {peerId, node} (JSON)
 *   P nodes           zset  node id → last presence refresh (ms)
 *   P node-rooms:N    set   rooms node N has (had) members in — for dead-node cleanup
 *   P node-aliases:N  set   alias keys node N claimed — for dead-node cleanup
 * Channels: P n:N (deliveries to peers on node N), P r:K (publications to room K).
 */

/** Shared tail: what a room does when a member leaves at `now` (ARGV[3]). */
const AFTER_LEAVE = `
local function after_leave(room, members, rooms, due_empty, due_idle, key, now)
  if redis.call('EXISTS', room) == 0 then return end
  redis.call('HSET', room, 'lastActivity', now)
  local opts = cjson.decode(redis.call('HGET', room, 'options'))
  if redis.call('HLEN', members) == 0 then
    local ttl = tonumber(opts.emptyTtlMs) or 0
    if ttl <= 0 then
      redis.call('DEL', room, members)
      redis.call('SREM', rooms, key)
      redis.call('ZREM', due_empty, key)
      redis.call('ZREM', due_idle, key)
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
  /** KEYS room members rooms due:empty due:idle node-rooms; ARGV key peerId memberJson create defaultsJson maxCap now */
  sbJoin: {
    numberOfKeys: 6,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[4] ~= '1' then return {0, 'room-not-found'} end
  redis.call('HSET', KEYS[1], 'createdAt', ARGV[7], 'lastActivity', ARGV[7], 'options', ARGV[5])
  redis.call('SADD', KEYS[3], ARGV[1])
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
  /** KEYS room rooms due:empty; ARGV key optionsJson now emptyTtlMs */
  sbCreate: {
    numberOfKeys: 3,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'createdAt', ARGV[3], 'lastActivity', ARGV[3], 'options', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) + tonumber(ARGV[4]), ARGV[1])
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
    lua: `
local due_key = KEYS[4]
if ARGV[3] == 'idle' then due_key = KEYS[5] end
local due = redis.call('ZSCORE', due_key, ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
if ARGV[3] == 'empty' and redis.call('HLEN', KEYS[2]) > 0 then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 0
end
local members = redis.call('HVALS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
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
