-- setnx-release.lua - compare-and-delete: release a lock only while it is still ours.
--
-- KEYS[1] = lock:<key>, ARGV[1] = the token it was taken with.
-- Returns 1 when it deleted the key, 0 when the key was gone or held by another token (the
-- lease expired under us): a holder whose lease ran out cannot delete its successor's lock.
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
