-- list_conversations.lua: newest first (created_ts descending) from one index,
-- filtered on the records themselves, at most `limit`. Read-only; one round
-- trip and one consistent snapshot. Expired conversations (index entry, no
-- hash) are skipped.
--
-- KEYS[1] the index sorted set to walk (the most selective one for the filter)
-- ARGV: 1 limit, 2 open_only "1"/"0", 3 shopper id or "", 4 agent id or "",
--       5 key prefix, 6 follow-up only "1"/"0", 7 store ids joined by "," or ""
-- Returns an array of HGETALL-style flat arrays.
local limit = tonumber(ARGV[1])
local open_only, shopper, agent, prefix = ARGV[2] == '1', ARGV[3], ARGV[4], ARGV[5]
local followup_only = ARGV[6] == '1'
local stores = nil
if ARGV[7] and ARGV[7] ~= '' then
  stores = {}
  for s in string.gmatch(ARGV[7], '[^,]+') do stores[s] = true end
end
local out = {}
local batch = 64
local start = 0
while #out < limit do
  local ids = redis.call('ZREVRANGE', KEYS[1], start, start + batch - 1)
  for _, id in ipairs(ids) do
    local h = redis.call('HGETALL', prefix .. ':{c:' .. id .. '}:conv')
    if #h > 0 then
      local r = {}
      for i = 1, #h, 2 do r[h[i]] = h[i + 1] end
      local ok = true
      if open_only and r['state'] == 'closed' then ok = false end
      if shopper ~= '' and r['shopper_id'] ~= shopper then ok = false end
      if agent ~= '' and r['agent_id'] ~= agent then ok = false end
      if followup_only and r['followup'] ~= '1' then ok = false end
      if stores and not stores[r['shopper_store'] or ''] then ok = false end
      if ok then
        out[#out + 1] = h
        if #out >= limit then break end
      end
    end
  end
  if #ids < batch then break end
  start = start + batch
end
return out
