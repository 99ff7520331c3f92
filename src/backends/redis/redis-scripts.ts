import { readStatementFile } from '../statement-files.ts';

/**
 * Every state move of the Redis backend is one Lua script, so it is atomic in Redis. Each
 * script is a file in `lua/`, and `lua/lib.lua` (the functions they share) is put in front
 * of every one, so each is one self-contained text. They are defined once on the connection
 * and called by SHA (ioredis falls back to EVAL after a restart flushed the script cache).
 */
const scriptFiles = {
  enqueue: 'enqueue.lua',
  enqueueRunning: 'enqueue-running.lua',
  promote: 'promote.lua',
  claim: 'claim.lua',
  settle: 'settle.lua',
  renew: 'renew.lua',
  attemptWrite: 'attempt-write.lua',
  cancel: 'cancel.lua',
  retry: 'retry.lua',
  remove: 'remove.lua',
  prune: 'prune.lua',
  pause: 'pause.lua',
  fireSchedule: 'fire-schedule.lua',
  upsertSchedule: 'upsert-schedule.lua',
  setScheduleEnabled: 'set-schedule-enabled.lua',
  removeSchedule: 'remove-schedule.lua',
  registerWorker: 'register-worker.lua',
  deregisterWorker: 'deregister-worker.lua',
  listWorkers: 'list-workers.lua',
  recordStep: 'record-step.lua',
  enqueueFlow: 'enqueue-flow.lua',
  listChildren: 'list-children.lua',
  flowProgress: 'flow-progress.lua',
} as const;

export type RedisScriptName = keyof typeof scriptFiles;

let scripts: Readonly<Record<RedisScriptName, string>> | null = null;

/** The scripts' texts by name, read from their files the first time a backend needs them. */
export function redisScripts(): Readonly<Record<RedisScriptName, string>> {
  if (scripts) return scripts;
  const read = (file: string): string => readStatementFile(new URL(`./lua/${file}`, import.meta.url));
  const lib = read('lib.lua');
  const texts = {} as Record<RedisScriptName, string>;
  for (const [name, file] of Object.entries(scriptFiles) as Array<[RedisScriptName, string]>) texts[name] = `${lib}\n${read(file)}`;
  scripts = texts;
  return scripts;
}
