// `jobsmith/redis`: the Redis backend, for passing your own ioredis connection or options.
export { RedisBackend } from './redis-backend.ts';
export type { RedisBackendOptions } from './redis-backend.ts';
