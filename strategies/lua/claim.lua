-- claim.lua - book every night of a stay, or none: lua-decr's own booking script.
--
-- KEYS = night:<hotel>:<room>:<YYYY-MM-DD>, one per night of the stay; ARGV[1] = the guest.
-- Returns 1 when no night was taken and all are now the guest's, 0 when one was taken.
-- Every night is checked before any is written: a script is not rolled back on error, so
-- it must not write anything before it knows it will write everything. The same text,
-- token for token, as the built-in runs (ovs_redis_stock_claim_src in locks/redis_stock.c).
for i = 1, #KEYS do
    if redis.call('exists', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do redis.call('set', KEYS[i], ARGV[1]) end
return 1
