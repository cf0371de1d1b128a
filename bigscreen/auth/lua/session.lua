-- Reads a session and slides its expiry, in one round trip (every request with a cookie makes it).
-- KEYS[1]: the session hash (fields of bigscreen.auth.sessions.Sessions.create, among them
--          "ends": unix time of the absolute end, "idle": seconds a session lives unused)
-- ARGV[1]: now, unix seconds
-- Returns the hash as HGETALL does, or an empty list when there is no session or it has ended
-- (an ended one is deleted). Its expiry slides to now + idle, never past its end.
local h = redis.call('HGETALL', KEYS[1])
local ends, idle
for i = 1, #h, 2 do
  if h[i] == 'ends' then ends = tonumber(h[i + 1]) elseif h[i] == 'idle' then idle = tonumber(h[i + 1]) end
end
local now = tonumber(ARGV[1])
if not (ends and idle) or ends <= now then
  if #h > 0 then redis.call('DEL', KEYS[1]) end
  return {}
end
redis.call('EXPIRE', KEYS[1], math.min(idle, ends - now))
return h
