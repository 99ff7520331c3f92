-- ARGV: worker id, its registration as JSON (with lastHeartbeatAt and expiresAt), expiresAt.
redis.call('SET', P .. 'worker:' .. ARGV[1], ARGV[2])
redis.call('ZADD', P .. 'workers', ARGV[3], ARGV[1])
return 1
