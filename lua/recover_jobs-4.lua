--[[ Put some of a node's in-progress jobs back on their queue, counting each
  recovery, provided the node's liveness key says so (dead, or held by the
  caller). A job recovered more than ARGV[2] times (it keeps killing its
  worker) is left in place and returned, for the caller to send to the dead
  set with the reason.
  KEYS[1] verk:node:<id>   KEYS[2] inprogress:<q>:<id>   KEYS[3] queue:<q>
  KEYS[4] verk:recoveries (hash jid -> count, expires a week after its last change)
  ARGV[1] "" = only if KEYS[1] is absent; otherwise KEYS[1] must hold this value
  ARGV[2] the most recoveries allowed per job
  ARGV[3..] pairs: exact payload, its jid ("" when unknown: not counted)
  Returns: { jobs put back, poisoned payload... }, or { -1 } when the liveness
  condition failed ]]
local holder = redis.call("GET", KEYS[1])
if (ARGV[1] == "" and holder) or (ARGV[1] ~= "" and holder ~= ARGV[1]) then
  return { -1 }
end
local limit = tonumber(ARGV[2])
local moved = 0
local poisoned = {}
for i = 3, #ARGV, 2 do
  local payload, jid = ARGV[i], ARGV[i + 1]
  local count = 0
  if jid ~= "" then
    count = redis.call("HINCRBY", KEYS[4], jid, 1)
    redis.call("EXPIRE", KEYS[4], 604800)
  end
  if count > limit then
    poisoned[#poisoned + 1] = payload
  elseif redis.call("LREM", KEYS[2], 1, payload) == 1 then
    redis.call("RPUSH", KEYS[3], payload)
    moved = moved + 1
  end
end
table.insert(poisoned, 1, moved)
return poisoned
