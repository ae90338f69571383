-- trim_indexes.lua: removes from the list indexes the conversations whose
-- keys have expired (retention), at most ARGV[2] of them per call.
--
-- ARGV: 1 key prefix, 2 limit
-- Reads <prefix>:idx:expiring (see put_conversation.lua). An entry whose
-- conversation still exists (reopened, or closed again later with a new
-- expiry entry) is only dropped from the expiring list. Returns how many
-- conversations were trimmed.
local prefix, limit = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', prefix .. ':idx:expiring', '-inf', now, 'LIMIT', 0, limit)
local sep = string.char(31)
local trimmed = 0
for _, entry in ipairs(due) do
  local id, shopper, agent = string.match(entry, '^([^' .. sep .. ']*)' .. sep .. '([^' .. sep .. ']*)' .. sep .. '(.*)$')
  redis.call('ZREM', prefix .. ':idx:expiring', entry)
  if id and redis.call('EXISTS', prefix .. ':{c:' .. id .. '}:conv') == 0 then
    redis.call('ZREM', prefix .. ':idx:all', id)
    redis.call('ZREM', prefix .. ':idx:open', id)
    redis.call('ZREM', prefix .. ':idx:followup', id)
    if shopper ~= '' then redis.call('ZREM', prefix .. ':idx:shopper:' .. shopper, id) end
    if agent ~= '' then redis.call('ZREM', prefix .. ':idx:agent:' .. agent, id) end
    trimmed = trimmed + 1
  end
end
return trimmed
