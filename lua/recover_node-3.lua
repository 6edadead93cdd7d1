--[[ Put a node's in-progress jobs back on their queues (right end, so they run
  next), provided its liveness key says so: either the node is dead (key
  absent) or the caller owns the node id. Each list moves atomically, so
  recovery never duplicates a job by itself.
  KEYS[1] verk:node:<id>   KEYS[2] verk_nodes   KEYS[3] verk:node:<id>:queues
  ARGV[1] node id
  ARGV[2] "" = only if KEYS[1] is absent; otherwise KEYS[1] must hold this value
  ARGV[3] one queue name, or "" for every queue in KEYS[3]
  ARGV[4] "forget" = afterwards remove the node from KEYS[2] and delete KEYS[3]
  Derived keys: inprogress:<q>:<id> and queue:<q> for each queue q moved
  Returns: how many jobs were moved, or -1 when the liveness condition failed ]]
local holder = redis.call("GET", KEYS[1])
if ARGV[2] == "" then
  if holder then
    return -1
  end
elseif holder ~= ARGV[2] then
  return -1
end
local queues
if ARGV[3] == "" then
  queues = redis.call("SMEMBERS", KEYS[3])
else
  queues = { ARGV[3] }
end
local moved = 0
for _, queue in ipairs(queues) do
  local source = "inprogress:" .. queue .. ":" .. ARGV[1]
  local target = "queue:" .. queue
  while true do
    local chunk = redis.call("LRANGE", source, 0, 999)
    if #chunk == 0 then
      break
    end
    -- From the left (newest) to the right end of the queue: the oldest ends rightmost.
    redis.call("RPUSH", target, unpack(chunk))
    redis.call("LTRIM", source, #chunk, -1)
    moved = moved + #chunk
  end
end
if ARGV[4] == "forget" then
  redis.call("SREM", KEYS[2], ARGV[1])
  redis.call("DEL", KEYS[3])
end
return moved
