-- list_window.lua: one page of the conversations created in a window, oldest
-- first, for the reports. Read-only. The cursor counts entries of the index
-- in the window (ascending by created_ts), so a page is found without
-- rereading the ones before it; conversations created meanwhile land at the
-- end (their created_ts is now), so a running report's cursor stays valid.
--
-- KEYS[1] <prefix>:idx:all
-- ARGV: 1 from ms (inclusive), 2 to ms (exclusive), 3 cursor, 4 page size,
--       5 key prefix, 6 store ids joined by "," ("": every store)
-- Returns { next cursor (-1: done), HGETALL-style flat arrays... }
local from, to = ARGV[1], '(' .. ARGV[2]
local cursor, limit, prefix = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local stores = nil
if ARGV[6] ~= '' then
  stores = {}
  for s in string.gmatch(ARGV[6], '[^,]+') do stores[s] = true end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], from, to, 'LIMIT', cursor, limit)
local out = { #ids < limit and -1 or cursor + #ids }
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', prefix .. ':{c:' .. id .. '}:conv')
  if #h > 0 then
    local keep = true
    if stores then
      keep = false
      for i = 1, #h, 2 do
        if h[i] == 'shopper_store' then keep = stores[h[i + 1]] == true end
      end
    end
    if keep then out[#out + 1] = h end
  end
end
return out
