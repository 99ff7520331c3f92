-- ARGV: queue, '1' to pause or '0' to resume.
redis.call('HSET', P .. 'queues', ARGV[1], ARGV[2])
if ARGV[2] == '0' then redis.call('PUBLISH', P .. 'events', 'q:' .. ARGV[1]) end
return 1
