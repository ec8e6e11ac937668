/**
 * The Lua scripts of the Redis tier. Each touches exactly the keys it declares: one key, or (for
 * INDEX_MOVE) an index and its draining key, which is named to share its slot (slot-tag.ts), so
 * every script runs unchanged on Redis Cluster (a script's keys must share a slot).
 *
 * Index sets (tags, dependencies) are sorted sets whose members are cache keys scored by the time
 * their value expires, in ms (INDEX_NEVER for values without expiry). Adding prunes the members
 * that have expired and sets the set's own expiry to that of its longest-lived member, so an index
 * never outlives what it indexes and never grows beyond the live entries it names.
 *
 * Each script's first command on an index is one that fails on a key of another type, so a
 * wrong-typed index makes the script fail before it has changed anything; the store then deletes
 * the key and runs the script again (redis-store.ts, `repairing`).
 */

/** Score of a member whose value never expires (year 2255: beyond any real TTL). */
export const INDEX_NEVER = 9_000_000_000_000;

/**
 * KEYS[1] index; ARGV[1] member, ARGV[2] its expiry (ms), ARGV[3] now (ms).
 * Adds the member, prunes expired members, makes the set expire with its last member.
 */
export const INDEX_ADD = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] == nil then return 0 end
if tonumber(last[2]) >= ${INDEX_NEVER} then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIREAT', KEYS[1], last[2])
end
return 1
`;

/**
 * KEYS[1] index, KEYS[2] its draining key (same slot). Moves the index to the draining key with a
 * marker member ("" scored +inf, after every real member) that keeps the key while it is drained
 * (index-drain.ts). Returns 1 when the draining key holds the drain (moved now, or by an earlier
 * call: it is never moved twice), 0 when there is no index to move.
 */
export const INDEX_MOVE = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
if redis.call('ZCARD', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('ZADD', KEYS[2], '+inf', '')
return 1
`;

/**
 * KEYS[1] draining key; ARGV[1] members wanted, ARGV[2] where to start, as a share (0..1) of the
 * way in, ARGV[3] tombstone lifetime (ms). Returns up to ARGV[1] members, never the marker; none
 * once only the marker is left, and the key then expires after ARGV[3] ms.
 */
export const DRAIN_READ = `
local size = redis.call('ZCARD', KEYS[1])
if size == 0 then return {} end
if size == 1 and redis.call('ZSCORE', KEYS[1], '') then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {}
end
local wanted = tonumber(ARGV[1])
local start = math.floor(tonumber(ARGV[2]) * math.max(0, size - 1 - wanted))
local members = redis.call('ZRANGE', KEYS[1], start, start + wanted - 1)
if members[#members] == '' then members[#members] = nil end
return members
`;

/** KEYS[1] lock; ARGV[1] token. Deletes the lock only if this token still holds it. */
export const LOCK_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
