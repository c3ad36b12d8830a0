"""The Lua scripts of the Redis job queue: each state change is one atomic step."""

# KEYS: job hash, owner's queued set, owner's index, stream
# ARGV: id, spec JSON, now, max queued, ttl seconds, webhook state
SUBMIT = """
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], 'spec', ARGV[2], 'status', 'queued', 'updated_at', ARGV[3],
  'segments_done', 0, 'attempts', 0, 'webhook_state', ARGV[6], 'webhook_attempts', 0)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('XADD', KEYS[4], '*', 'job', ARGV[1])
return 1
"""

# KEYS: job hash, owner's queued set, owner's running set
# ARGV: id, max running, now, ttl seconds
START = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'gone' end
if status ~= 'queued' and status ~= 'running' then return 'finished' end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[2]) then
  return 'wait'
end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[3], 'updated_at', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 'run'
"""

# KEYS: job hash, owner's queued set, owner's running set, webhook schedule
# ARGV: id, new status, now, ttl seconds, then field/value pairs to set with it
# A pending webhook becomes due in the same step: no finished job is left without its delivery.
FINISH = """
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'completed' or status == 'failed' or status == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finished_at', ARGV[3], 'updated_at', ARGV[3])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
if redis.call('HGET', KEYS[1], 'webhook_state') == 'pending' then
  redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[1])
end
return 1
"""

# KEYS: job hash, webhook schedule; ARGV: id, due time
# Idempotent: a delivery already scheduled keeps its time; only a finished job's pending webhook is added.
SCHEDULE_WEBHOOK = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'completed' and status ~= 'failed' and status ~= 'cancelled' then return 0 end
if redis.call('HGET', KEYS[1], 'webhook_state') ~= 'pending' then return 0 end
return redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
"""

# KEYS: webhook schedule; ARGV: now, lease end
# The delivery due soonest (if due by now) is claimed by moving its time to the lease's end: nobody else
# takes it meanwhile, and if its deliverer dies it is due again then.
CLAIM_WEBHOOK = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], due[1])
return due[1]
"""

# KEYS: job hash, webhook schedule
# ARGV: id, attempts seen when claimed, new state, attempts, retry time ('' when the delivery is settled)
# Written only if no other deliverer recorded an attempt since the claim (this one's lease ran out).
RECORD_WEBHOOK = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if redis.call('HGET', KEYS[1], 'webhook_state') ~= 'pending' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if tonumber(redis.call('HGET', KEYS[1], 'webhook_attempts') or '0') ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'webhook_state', ARGV[3], 'webhook_attempts', ARGV[4])
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
end
return 1
"""

# KEYS: job hash; ARGV: the status the job must have, then field/value pairs
UPDATE_IF = """
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""
