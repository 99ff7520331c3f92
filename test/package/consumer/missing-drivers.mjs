// Run where neither pg nor ioredis is installed: every way to reach the PostgreSQL and Redis
// backends must say which package is missing with BackendUnavailableError. Prints one JSON
// line per way.
import { openBackend } from 'jobsmith';
import { PostgresBackend } from 'jobsmith/postgres';
import { RedisBackend } from 'jobsmith/redis';

const ways = {
  'new PostgresBackend()': () => new PostgresBackend({ connectionString: 'postgres://127.0.0.1:1/none' }),
  'openBackend(postgres://)': () => openBackend('postgres://127.0.0.1:1/none'),
  'new RedisBackend()': () => new RedisBackend({ url: 'redis://127.0.0.1:1' }),
  'openBackend(redis://)': () => openBackend('redis://127.0.0.1:1'),
};
for (const [way, build] of Object.entries(ways)) {
  try {
    await build();
    console.log(JSON.stringify({ way, error: null }));
  } catch (error) {
    console.log(JSON.stringify({ way, name: error.name, code: error.code, message: error.message, cause: error.cause?.code }));
  }
}
