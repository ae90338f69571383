-- put_conversation.lua: create or update a conversation record and move it
-- in the list indexes in the same atomic step.
--
-- KEYS[1] conversation hash, KEYS[2] message stream, KEYS[3] idempotency hash,
-- KEYS[4] (optional) the fence: the cluster's leader key
-- ARGV: 1 mode "create"|"update", 2 key prefix, 3 retention_s (0 = keep),
--       4 has agent "1"/"0", 5 agent id, 6 fence value (with KEYS[4]: the
--       writer's node id), 7.. field/value pairs (id first; never last_seq on
--       update: the store owns it)
-- With a fence, a writer that no longer holds the lease (a deposed leader
-- that has not noticed yet) changes nothing: error "not the leader".
-- Index keys (global, sorted sets scored by created_ts):
--   <prefix>:idx:all, <prefix>:idx:open (not closed),
--   <prefix>:idx:shopper:<shopper id>, <prefix>:idx:agent:<agent id>,
--   <prefix>:idx:followup (on its store's follow-up list: field followup = '1')
--   <prefix>:idx:expiring: "<id> US <shopper id> US <agent id>" scored by when
--   a closed conversation's keys expire, for trim_indexes.lua
local conv = KEYS[1]
local mode, prefix, retention = ARGV[1], ARGV[2], tonumber(ARGV[3])
local has_agent, agent = ARGV[4] == '1', ARGV[5]
if KEYS[4] and redis.call('GET', KEYS[4]) ~= ARGV[6] then
  return redis.error_reply('not the leader: node ' .. ARGV[6] .. ' no longer holds the lease')
end
local f = {}
for i = 7, #ARGV, 2 do f[ARGV[i]] = ARGV[i + 1] end
local id = f['id']
local exists = redis.call('EXISTS', conv) == 1
if mode == 'create' then
  if exists then return redis.error_reply('conversation ' .. id .. ' exists') end
else
  if not exists then return redis.error_reply('no conversation ' .. id) end
  local old = redis.call('HMGET', conv, 'shopper_id', 'agent_id')
  if old[1] then redis.call('ZREM', prefix .. ':idx:shopper:' .. old[1], id) end
  if old[2] then redis.call('ZREM', prefix .. ':idx:agent:' .. old[2], id) end
  redis.call('ZREM', prefix .. ':idx:open', id)
  redis.call('HDEL', conv, 'agent_id')
end
local args = {}
for i = 7, #ARGV do args[#args + 1] = ARGV[i] end
if has_agent then
  args[#args + 1] = 'agent_id'
  args[#args + 1] = agent
end
redis.call('HSET', conv, unpack(args))
local score = tonumber(f['created_ts']) or 0
redis.call('ZADD', prefix .. ':idx:all', score, id)
redis.call('ZADD', prefix .. ':idx:shopper:' .. f['shopper_id'], score, id)
if has_agent then redis.call('ZADD', prefix .. ':idx:agent:' .. agent, score, id) end
if f['followup'] == '1' then
  redis.call('ZADD', prefix .. ':idx:followup', score, id)
else
  redis.call('ZREM', prefix .. ':idx:followup', id)
end
if f['state'] ~= 'closed' then
  redis.call('ZADD', prefix .. ':idx:open', score, id)
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
  redis.call('PERSIST', KEYS[3])
elseif retention > 0 then
  -- Index entries of an expired conversation stay behind (readers skip them)
  -- until trim_indexes.lua removes them, from this list of what expires when.
  redis.call('EXPIRE', KEYS[1], retention)
  redis.call('EXPIRE', KEYS[2], retention)
  redis.call('EXPIRE', KEYS[3], retention)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local sep = string.char(31)
  redis.call('ZADD', prefix .. ':idx:expiring', now + retention * 1000,
             id .. sep .. f['shopper_id'] .. sep .. (has_agent and agent or ''))
end
return 'OK'
