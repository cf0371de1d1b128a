-- The resync gate, run first by every script that moves counters (prepended when it is registered,
-- after a line `local SCRIPT = '<name>'`). See bigscreen/jobs/resync.py.
-- KEYS[1]: the gate (absent: normal; "journal": apply and record; "hold": record only)
-- KEYS[2]: the journal list
-- ARGV[1]: the change's tag: what SQL write it follows ("e:{event id}:{version}", "f:{activity id}"),
--          "clock" or "sched" (moves from the clock or the supervision schedule: replayed always),
--          or "!" (a resync replaying a recorded change: never recorded again)
-- The script's own KEYS and ARGV follow; they are shifted down before its body runs.
local GATE, JOURNAL, TAG = KEYS[1], KEYS[2], ARGV[1]
table.remove(KEYS, 1)
table.remove(KEYS, 1)
table.remove(ARGV, 1)
if TAG ~= '!' then
  local mode = redis.call('GET', GATE)
  if mode then
    local applied = mode == 'journal'
    redis.call('RPUSH', JOURNAL, cjson.encode({TAG, SCRIPT, applied, KEYS, ARGV}))
    if not applied then
      return -1  -- held: the resync applies it where it belongs
    end
  end
end
