"""The one Lua script every Redis operation of the limiter runs: a sliding-window log, atomically.

`hit`   KEYS[1] the window (a sorted set of request ids scored by arrival, microseconds of Redis TIME);
        optional KEYS[2] the identity's stream slots (slot ids scored by lease expiry).
        ARGV: op, limit, window_us, member, max_streams, slot_ttl_us.
        Drops entries older than the window; refuses (without recording anything) when the slots are
        full or the window holds `limit` entries; else records the request (and the slot).
        Returns {status, remaining, reset_us, retry_after_us, active_streams} with status
        1 admitted, 0 limited, -1 stream slots full.
`renew` KEYS[1] the stream slots; ARGV: op, member, slot_ttl_us. Extends a live slot's lease.

Redis's own clock (TIME) is the only clock, so instances with skewed clocks still agree.
"""

from __future__ import annotations

import hashlib

SCRIPT = """
local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

if op == 'renew' then
  if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
    local ttl = tonumber(ARGV[3])
    redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[2])
    redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
    return 1
  end
  return 0
end

local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local member = ARGV[4]
local streams = 0
if KEYS[2] then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  streams = redis.call('ZCARD', KEYS[2])
  if streams >= tonumber(ARGV[5]) then
    return {-1, 0, 0, 0, streams}
  end
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  -- admitted once all but limit-1 of the counted requests have left the window
  local nth = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  local retry = tonumber(nth[2]) + window - now
  return {0, 0, retry, retry, streams}
end

redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = tonumber(oldest[2]) + window - now
if KEYS[2] then
  local ttl = tonumber(ARGV[6])
  redis.call('ZADD', KEYS[2], now + ttl, member)
  redis.call('PEXPIRE', KEYS[2], math.ceil(ttl / 1000))
  streams = streams + 1
end
return {1, limit - count - 1, reset, 0, streams}
"""

SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()
