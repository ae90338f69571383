-- append.lua: store one chat message at most once, and wake other nodes.
-- Atomic: idempotency check, seq allocation, XADD, idempotency record and
-- PUBLISH happen together or not at all (a script runs alone in Redis).
--
-- KEYS[1] conversation hash   <prefix>:{c:<id>}:conv
-- KEYS[2] message stream      <prefix>:{c:<id>}:msgs   (entry id = <seq>-0)
-- KEYS[3] idempotency hash    <prefix>:{c:<id>}:idem   (sender \x1f client_msg_id -> seq)
-- ARGV: 1 idempotency field, 2 allow_new ("1"/"0"), 3 ts, 4 from role,
--       5 from id, 6 from name, 7 text, 8 client_msg_id, 9 visibility,
--       10 wake-up channel ("" = no wake-up), 11 conversation id
-- Returns {2, seq} stored; {1, seq, {field, value, ...}} duplicate (the first
-- copy's fields); {0, 0} not stored (allow_new "0" and no earlier copy);
-- an error reply when the conversation does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('no conversation ' .. ARGV[11])
end
local seq = redis.call('HGET', KEYS[3], ARGV[1])
if seq then
  local e = redis.call('XRANGE', KEYS[2], seq, seq)
  local fields = {}
  if e[1] then fields = e[1][2] end
  return {1, tonumber(seq), fields}
end
if ARGV[2] ~= '1' then
  return {0, 0}
end
seq = redis.call('HINCRBY', KEYS[1], 'last_seq', 1)
redis.call('XADD', KEYS[2], seq .. '-0',
  'ts', ARGV[3], 'role', ARGV[4], 'from', ARGV[5], 'name', ARGV[6],
  'text', ARGV[7], 'cmid', ARGV[8], 'vis', ARGV[9])
redis.call('HSET', KEYS[3], ARGV[1], seq)
redis.call('HSET', KEYS[1], 'updated_ts', ARGV[3])
-- A closed conversation under retention carries a TTL: its new keys share it.
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
if ARGV[10] ~= '' then
  redis.call('PUBLISH', ARGV[10], cjson.encode({conversation_id = ARGV[11], seq = seq}))
end
return {2, seq}
