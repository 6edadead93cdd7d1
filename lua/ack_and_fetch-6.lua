--[[ Acknowledge finished jobs and take up to ARGV[1] new ones, in one call.
  Taken jobs move from the right (oldest) end of the queue to this node's
  in-progress list byte for byte; the node is registered as their owner.
  Nothing is taken while the queue is paused (on any node). Nothing at all is
  done when the node id is no longer ours (our liveness key expired or another
  process holds it): acking then could remove another process's entry.
  KEYS[1] queue:<q>        KEYS[2] inprogress:<q>:<node>
  KEYS[3] verk_nodes       KEYS[4] verk:node:<node>:queues
  KEYS[5] verk:paused      KEYS[6] verk:node:<node>
  ARGV[1] how many jobs to take (0 = only acknowledge)
  ARGV[2] node id          ARGV[3] queue name
  ARGV[4] our liveness value, <hostname>:<pid>:<token>
  ARGV[5..] exact payloads of finished jobs, removed from KEYS[2]
  Returns: { -1 } when the node id is not ours; otherwise { 1 if the queue is
  paused else 0, taken payloads oldest first... } ]]
if redis.call("GET", KEYS[6]) ~= ARGV[4] then
  return { -1 }
end
for i = 5, #ARGV do
  redis.call("LREM", KEYS[2], -1, ARGV[i])
end
local paused = redis.call("SISMEMBER", KEYS[5], ARGV[3])
local want = tonumber(ARGV[1])
if paused == 1 or want <= 0 then
  return { paused }
end
local newest_first = redis.call("LRANGE", KEYS[1], -want, -1)
local count = #newest_first
if count == 0 then
  return { 0 }
end
local oldest_first = {}
for i = count, 1, -1 do
  oldest_first[#oldest_first + 1] = newest_first[i]
end
redis.call("LTRIM", KEYS[1], 0, -count - 1)
-- LPUSH oldest first keeps the oldest at the right end, as LMOVE RIGHT LEFT would.
redis.call("LPUSH", KEYS[2], unpack(oldest_first))
redis.call("SADD", KEYS[3], ARGV[2])
redis.call("SADD", KEYS[4], ARGV[3])
table.insert(oldest_first, 1, 0)
return oldest_first
