-- setnx-acquire.lua - take a lease on one Redis key for a token: SET NX PX.
--
-- KEYS[1] = lock:<key>, ARGV[1] = the caller's token, ARGV[2] = the lease in ms.
-- Returns 1 when the lock is held with that token now, 0 when another token holds it.
-- The harness retries a call with the same token, so a key that already holds it (an
-- earlier attempt took it and its reply was lost) is renewed and counts as taken.
if redis.call('get', KEYS[1]) == ARGV[1] then
    redis.call('pexpire', KEYS[1], ARGV[2])
    return 1
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
