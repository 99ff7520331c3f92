// `jobsmith/redis`: the Redis backend, for passing your own ioredis connection or options.
// Node's types, for projects that list no `types` (see src/index.ts).
/// <reference types="node" preserve="true" />
export { RedisBackend } from './redis-backend.ts';
export type { RedisBackendOptions } from './redis-backend.ts';
