-- Append a group's new entries to the ticker stream, in their order, in one call (an XADD each from
-- the client was most of an ingest group's round trip to Redis, in Python). Not a counter: no gate.
-- KEYS[1]: the ticker stream
-- ARGV[1]: the stream's approximate length cap (MAXLEN ~)
-- ARGV[2]: JSON [[field, value, field, value, ...], ...], one list per entry
local cap = ARGV[1]
for _, entry in ipairs(cjson.decode(ARGV[2])) do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', unpack(entry))
end
return 0
