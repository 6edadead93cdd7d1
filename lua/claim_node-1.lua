--[[ Take or refresh a node id's liveness key.
  KEYS[1] verk:node:<id>
  ARGV[1] our value, <hostname>:<pid>:<token>     ARGV[2] TTL in ms
  ARGV[3] a holder we may replace (one shown to be gone), or ""
  Returns: "RENEWED" when KEYS[1] held ARGV[1] and its TTL is fresh again;
  "TAKEN" when it was absent (or replaceable) and now holds ARGV[1]; otherwise
  the value of the live holder, unchanged ]]
local holder = redis.call("GET", KEYS[1])
if holder == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return "RENEWED"
end
if holder == false or (ARGV[3] ~= "" and holder == ARGV[3]) then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return "TAKEN"
end
return holder
