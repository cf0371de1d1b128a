-- Count field work (check-ins, patrols, visits) in the day hashes, atomically.
-- KEYS[1..n]: day hashes and duty sets, referred to by index from ARGV
-- ARGV[1]: JSON {
--   "inc":   {"key_index": {field: delta, ...}, ...}       patrols and visits: always applied
--   "duty":  [[set_index, hash_index, [worker, ...]], ...]  check-ins: each worker the set did not
--            hold yet is added and counted once in the hash's field "field" (wf:duty)
--   "field": the duty field's name
--   "exp":   [[key_index, unix_ts], ...]                    EXPIREAT (the day hashes' expiry)
-- }
-- Returns how many members the duty sets gained (over every area of the chain).
local change = cjson.decode(ARGV[1])
local CHUNK = 500  -- members per SADD: within Lua's limit on unpacked arguments
for index, fields in pairs(change.inc or {}) do
  local key = KEYS[tonumber(index)]
  for name, delta in pairs(fields) do
    redis.call('HINCRBY', key, name, delta)
  end
end
local arrived = 0
for _, d in ipairs(change.duty or {}) do
  local workers, added = d[3], 0
  for i = 1, #workers, CHUNK do
    added = added + redis.call('SADD', KEYS[d[1]], unpack(workers, i, math.min(i + CHUNK - 1, #workers)))
  end
  if added > 0 then
    redis.call('HINCRBY', KEYS[d[2]], change.field, added)
  end
  arrived = arrived + added
end
for _, e in ipairs(change.exp or {}) do
  redis.call('EXPIREAT', KEYS[e[1]], e[2])
end
return arrived
