/**
 * Test support: throwaway PostgreSQL and Redis servers, and the rule for skipping tests
 * when the machine has neither (never under CI).
 */
export { ServerUnavailableError } from './binaries.ts';
export { harnessDeviations, PASSWORD_ROLE, SUPERUSER } from './postgres-config.ts';
export { type PostgresServer, type PostgresServerOptions, type PostgresStopMode, startPostgres, type UrlParts } from './postgres-server.ts';
export { isProcessAlive } from './process-alive.ts';
export { trackedServers } from './process-registry.ts';
export { type RedisServer, type RedisServerOptions, type RedisStopMode, startRedis } from './redis-server.ts';
export { isCI, requireServers, type ServerKind, type ServerRequirement, serverUnavailableReason } from './require-servers.ts';
export { RespClient, RespConnectionClosedError, type RespReply, RespReplyError } from './resp-client.ts';
