-- append_audit.lua: one entry at the end of a conversation's audit trail,
-- which lives as long as the conversation (same TTL once it is closed under
-- retention) and holds at most ARGV[2] entries (the oldest fall off).
--
-- KEYS[1] the audit list, KEYS[2] the conversation hash
-- ARGV: 1 the entry (JSON text), 2 most entries kept
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('no conversation for this audit entry')
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return 'OK'
