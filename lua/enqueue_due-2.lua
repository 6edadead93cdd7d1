--[[ Move due jobs from a sorted set to their queues. Each job moves only if it
  is still in the set, so two nodes racing never enqueue one job twice. The
  payloads were edited by the caller (enqueued_at); Lua never re-encodes JSON.
  KEYS[1] schedule or retry (zset)    KEYS[2] queues (set)
  KEYS[3..] queue:<q> of each job, in the order of the ARGV triples
  ARGV[3i-2] the member as stored     ARGV[3i-1] the payload to push
  ARGV[3i] the queue name
  Returns: how many jobs were moved ]]
local moved = 0
for i = 1, #ARGV / 3 do
  if redis.call("ZREM", KEYS[1], ARGV[3 * i - 2]) == 1 then
    redis.call("LPUSH", KEYS[i + 2], ARGV[3 * i - 1])
    redis.call("SADD", KEYS[2], ARGV[3 * i])
    moved = moved + 1
  end
end
return moved
