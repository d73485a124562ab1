-- decr.lua - sell one unit of stock kept in Redis, or none: lua-decr's own script.
--
-- KEYS[1] = stock:<sku>, ARGV[1] = the quantity (always 1; this script sells one unit).
-- Returns 1 when the stock was above zero and is now one less, 0 when it was sold out.
-- A script runs with nothing interleaved, so the check and the decrement have no window
-- between them. The same text, token for token, as the built-in lua-decr runs
-- (ovs_redis_stock_decr_src in locks/redis_stock.c); a test keeps the two equal.
local s = tonumber(redis.call('get', KEYS[1]) or '0')
if s > 0 then
    redis.call('decr', KEYS[1])
    return 1
end
return 0
