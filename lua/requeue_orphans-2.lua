--[[ Put back on the queue jobs that sit in this node's in-progress list but are
  not running here (a fetch whose reply was lost on a broken connection). Each
  moves only if it is still in the list.
  KEYS[1] inprogress:<q>:<node>   KEYS[2] queue:<q>
  ARGV[1..] exact payloads to move
  Returns: how many jobs were moved ]]
local moved = 0
for i = 1, #ARGV do
  if redis.call("LREM", KEYS[1], -1, ARGV[i]) == 1 then
    redis.call("RPUSH", KEYS[2], ARGV[i])
    moved = moved + 1
  end
end
return moved
