--[[ Settle a job that did not succeed: take it out of where it is and, in the
  same step, write its new payload to the retry set or the dead set. Doing both
  at once means a crash can neither lose the job nor leave two copies.
  KEYS[1] where the job is now: inprogress:<q>:<node> (list) or schedule/retry (zset)
  KEYS[2] retry            KEYS[3] dead
  ARGV[1] "list" or "zset" (the type of KEYS[1])
  ARGV[2] the exact payload to take out of KEYS[1]
  ARGV[3] "retry", "dead" or "drop" (drop: only take it out)
  ARGV[4] the new payload (unused for "drop")
  ARGV[5] retry time in epoch seconds (for "retry")
  ARGV[6] max dead jobs    ARGV[7] dead timeout in seconds
  Returns: 1 when settled; 0 when the payload was no longer in KEYS[1] (another
  node moved it, so nothing is written) ]]
local removed
if ARGV[1] == "zset" then
  removed = redis.call("ZREM", KEYS[1], ARGV[2])
else
  removed = redis.call("LREM", KEYS[1], -1, ARGV[2])
end
if removed == 0 then
  return 0
end
if ARGV[3] == "retry" then
  redis.call("ZADD", KEYS[2], ARGV[5], ARGV[4])
elseif ARGV[3] == "dead" then
  local time = redis.call("TIME")
  local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
  redis.call("ZADD", KEYS[3], string.format("%.6f", now), ARGV[4])
  redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", string.format("%.6f", now - tonumber(ARGV[7])))
  redis.call("ZREMRANGEBYRANK", KEYS[3], 0, -tonumber(ARGV[6]) - 1)
end
return 1
