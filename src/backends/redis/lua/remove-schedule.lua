-- ARGV: id. Returns 1 when it existed.
redis.call('ZREM', P .. 'schedules', ARGV[1])
return redis.call('DEL', P .. 'schedule:' .. ARGV[1])
