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

# KEYS: job hash, owner's queued set, owner's running set
# ARGV: id, new status, now, ttl seconds, then field/value pairs to set with it
FINISH = """
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'completed' or status == 'failed' or status == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finished_at', ARGV[3], 'updated_at', ARGV[3])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: job hash; ARGV: the status the job must have, then field/value pairs
UPDATE_IF = """
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# KEYS: job hash; ARGV: field/value pairs (nothing is created for a job that has expired)
SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""
