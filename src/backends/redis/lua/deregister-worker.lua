-- ARGV: worker id. Returns 1 when it was registered.
redis.call('DEL', P .. 'worker:' .. ARGV[1])
return redis.call('ZREM', P .. 'workers', ARGV[1])
