--[[ List members of a sorted set whose time has come, judged by Redis' clock,
  so nodes whose clocks disagree still agree on what is due.
  KEYS[1] schedule or retry (zset, score = epoch seconds)
  ARGV[1] the most members to return
  Returns: { now seconds, now microseconds, score of the next member not yet
  returned or "" when there is none, member... } ]]
local time = redis.call("TIME")
local now = string.format("%d.%06d", tonumber(time[1]), tonumber(time[2]))
local due = redis.call("ZRANGE", KEYS[1], "-inf", now, "BYSCORE", "LIMIT", 0, ARGV[1])
local next_score = ""
local after = redis.call("ZRANGE", KEYS[1], #due, #due, "WITHSCORES")
if #after == 2 then
  next_score = after[2]
end
local reply = { time[1], time[2], next_score }
for i = 1, #due do
  reply[#reply + 1] = due[i]
end
return reply
