// `jobsmith/redis`: the Redis backend, for passing your own ioredis connection or options.
// These declarations use Node's types: load them for projects that list no `types`.
/// <reference types="node" preserve="true" />
export { RedisBackend } from './redis-backend.ts';
export type { RedisBackendOptions } from './redis-backend.ts';
