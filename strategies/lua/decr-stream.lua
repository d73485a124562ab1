-- decr-stream.lua - decr.lua with the order added to the write-back stream in the same
-- script, for a scenario whose queue is a Redis Stream (`queue = stream`).
--
-- KEYS[1] = stock:<sku>, KEYS[2] = the stream (orders:queue); ARGV[1] = the quantity
-- (always 1), ARGV[2] = the SKU, ARGV[3] = the buyer. Returns 1 when a unit was sold and
-- its entry added, 0 when sold out (and nothing added). Redis writes a script's effects
-- together, so no sale is without its entry. The same text, token for token, as the
-- built-in lua-decr runs (ovs_redis_stock_decr_stream_src in locks/redis_stock.c); a test
-- keeps the two equal.
local s = tonumber(redis.call('get', KEYS[1]) or '0')
if s > 0 then
    redis.call('decr', KEYS[1])
    redis.call('xadd', KEYS[2], '*', 'sku', ARGV[2], 'buyer', ARGV[3])
    return 1
end
return 0
