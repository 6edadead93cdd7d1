--[[ Give up a node id: delete its liveness key if we still hold it.
  KEYS[1] verk:node:<id>
  ARGV[1] our value, <hostname>:<pid>:<token>
  Returns: 1 when deleted, 0 when another process holds it (left alone) ]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
