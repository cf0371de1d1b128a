-- Apply one change-set to the live counters, atomically.
-- KEYS[1]: deadlines zset (open cases not yet overdue, score = deadline epoch s)
-- KEYS[2]: overdue set (open cases counted as overdue)
-- KEYS[3]: supervise zset (next supervision notice of a late case "case:{id}", scored by when)
-- KEYS[4..n]: counter hashes, referred to by index from ARGV
-- ARGV[1]: JSON {
--   "inc":  {"key_index": {field: delta, ...}, ...}    always applied
--   "exp":  [[key_index, unix_ts], ...]                EXPIREAT for dated keys, set when one of their fields is
--                                                      new (a hash made here, or made again after it emptied):
--                                                      a hash that had every field had its expiry already
--   "zadd": [[score, member], ...]                     cases that start waiting for their deadline
--   "done": [[member, {"key_index": {field: delta}}], ...]
--           cases leaving the open set: removed from the deadlines zset, and if they had been
--           counted overdue, their overdue fields are applied (negative deltas)
--   "due":  [[member, {"key_index": {field: delta}}], ...]
--           cases the sweep found past their deadline: counted overdue once, and their
--           first supervision notice scheduled at deadline + "first_s"
--   "first_s": seconds from the deadline to the first supervision notice
--   "move": [[old_member, new_member, score, {"key_index": {field: delta}}], ...]
--           an open case whose member changed (redispatched to another department): it keeps
--           its place in whichever of the two sets holds it; if overdue, the deltas move
--           its lateness from the old department to the new
--   "sched": [[score, subject], ...]   supervision notices scheduled (whistled calls, next levels)
--   "unsched": [subject, ...]          supervision subjects done (reported in, closed, last level sent)
-- }
-- Returns how many cases the sweep counted overdue (-1: held by a resync, see gate.lua).
local change = cjson.decode(ARGV[1])
local function case_of(member)
  return 'case:' .. string.match(member, '^(%d+)|')
end
local grown = {}  -- key indexes of the hashes that gained a field
local function increment(grouped)
  for index, fields in pairs(grouped) do
    local key = KEYS[tonumber(index)]
    for field, delta in pairs(fields) do
      local count = redis.call('HINCRBY', key, field, delta)
      if count == 0 then
        redis.call('HDEL', key, field)  -- back at zero: a hash holds only counts that are not
      elseif count == delta then
        grown[index] = true  -- the field is new (no hash holds a zero), and the hash may be
      end
    end
  end
end
increment(change.inc or {})
-- new cases, many to one ZADD (a call from Lua costs more than the members it adds); the
-- arguments of one call are bounded by Lua's stack, hence chunks
local zadd, ZADD_CHUNK = change.zadd or {}, 500
for first = 1, #zadd, ZADD_CHUNK do
  local args = {}
  for i = first, math.min(first + ZADD_CHUNK - 1, #zadd) do
    args[#args + 1] = zadd[i][1]
    args[#args + 1] = zadd[i][2]
  end
  redis.call('ZADD', KEYS[1], unpack(args))
end
for _, d in ipairs(change.done or {}) do
  redis.call('ZREM', KEYS[1], d[1])
  if redis.call('SREM', KEYS[2], d[1]) == 1 then
    redis.call('ZREM', KEYS[3], case_of(d[1]))
    increment(d[2])
  end
end
local counted = 0
for _, d in ipairs(change.due or {}) do
  local deadline = redis.call('ZSCORE', KEYS[1], d[1])
  if deadline and redis.call('ZREM', KEYS[1], d[1]) == 1 then
    redis.call('SADD', KEYS[2], d[1])
    redis.call('ZADD', KEYS[3], tonumber(deadline) + (change.first_s or 0), case_of(d[1]))
    counted = counted + 1
    increment(d[2])
  end
end
for _, m in ipairs(change.move or {}) do
  if redis.call('ZREM', KEYS[1], m[1]) == 1 then
    redis.call('ZADD', KEYS[1], m[3], m[2])
  end
  if redis.call('SREM', KEYS[2], m[1]) == 1 then
    redis.call('SADD', KEYS[2], m[2])
    increment(m[4])
  end
end
for _, z in ipairs(change.sched or {}) do
  redis.call('ZADD', KEYS[3], z[1], z[2])
end
for _, member in ipairs(change.unsched or {}) do
  redis.call('ZREM', KEYS[3], member)
end
for _, e in ipairs(change.exp or {}) do
  if grown[tostring(e[1])] then  -- an EXPIREAT per dated hash and change was a sixth of the script's calls
    redis.call('EXPIREAT', KEYS[e[1]], e[2])
  end
end
return counted
