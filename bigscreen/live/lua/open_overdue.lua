-- Open and overdue cases of many areas in one call (the wall's map colours).
-- KEYS[1..n]: area hashes
-- ARGV[1..m]: the status fields that count as open (st:reported, st:dispatched, ...)
-- Returns a flat list: open_1, overdue_1, open_2, overdue_2, ...
local out = {}
for _, key in ipairs(KEYS) do
  local values = redis.call('HMGET', key, 'overdue', unpack(ARGV))
  local open = 0
  for j = 2, #values do
    if values[j] then open = open + tonumber(values[j]) end
  end
  out[#out + 1] = open
  out[#out + 1] = tonumber(values[1]) or 0
end
return out
