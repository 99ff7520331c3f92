import type { JobState } from '../../domain/job-state.ts';

/**
 * The keys of one Redis backend. P is `{prefix}:` (e.g. `{jobsmith}:`); the braces are a
 * Cluster hash tag, so every key of one prefix lives in one slot. The scripts get P as
 * KEYS[1] and build the same names in Lua (`lua/lib.lua`).
 *
 *   P job:<id>        hash: the job's fields; absent field = null. Besides the record's,
 *                     settledToken: the lease token of the attempt whose outcome it holds;
 *                     for a flow job only, flowId, children, pendingChildren, runIf, hasParents
 *   P logs:<id>       list: log lines as JSON, newest 200
 *   P prog:<id>       list: progress reports as JSON, newest 100
 *   P attempts:<id>   list: the attempts that ended without completing, as JSON, newest 50
 *                     (the hash's attemptsDropped counts the older ones dropped)
 *   P steps:<id>      hash: step name -> "<seq> <record JSON>", the job's durable steps
 *   P children:<id>   hash: a flow parent's dependencies, child id -> "<index> <policy>
 *                     <outcome> <child name>", outcome '-' until resolved (lua/lib.lua, "Flows")
 *   P parents:<id>    set: the flow jobs that depend on this one
 *   P flow:<flowId>   set: the ids of a flow's jobs (flowProgress)
 *   P ready:<queue>   zset: queued jobs, score = (1000 − priority) · 2^42 + runAt, ties by id
 *   P scheduled       zset: delayed and retrying jobs by runAt
 *   P running         zset: running jobs by lease expiry
 *   P hooks           zset: failed jobs whose `failed` hook is pending, by the expiry of the
 *                     lease of the worker that runs it (they are in state:failed too)
 *   P state:<state>   zset: ids by state, all scores 0, so ids sort (they are time-ordered);
 *                     none for running (the running set lists those); with it, every job is
 *                     in exactly one set, so together they serve listing every job and
 *                     looking ids up by prefix
 *   P expiry          zset: finished jobs by retention deadline
 *   P finished        zset: finished jobs by finish time
 *   P keys            hash: "<name>\0<key>" -> id while that job is active
 *   P queues          hash: queue -> "1" when paused, "0" otherwise (every queue seen)
 *   P lastproc        hash: queue -> last time a job there finished
 *   P count:<queue>   hash: state -> number of jobs; waitingForChildren -> how many of its
 *                     scheduled jobs are flow parents waiting for their children
 *   P done:<queue>    hash: "c:<bucket>" / "f:<bucket>" -> finished in that 10 s bucket
 *   P schedule:<id>   hash: a schedule's spec text, enabled, run times, last job
 *   P schedules       zset: schedule ids
 *   P worker:<id>     string: a live worker's registration as JSON (redis-workers.ts)
 *   P workers         zset: registered worker ids by the expiry of their registration
 *   P events          pub/sub channel: "q:<queue>" (runnable work), "c:<id>" (cancel asked)
 *
 * Only the keys the TypeScript side reads directly have a builder here; the rest are the
 * scripts' alone.
 */
export class RedisKeys {
  /** P: the start of every key, and what every script gets as KEYS[1]. */
  readonly root: string;

  constructor(prefix: string) {
    this.root = `{${prefix}}:`;
  }

  job(id: string): string {
    return `${this.root}job:${id}`;
  }
  logs(id: string): string {
    return `${this.root}logs:${id}`;
  }
  progress(id: string): string {
    return `${this.root}prog:${id}`;
  }
  attempts(id: string): string {
    return `${this.root}attempts:${id}`;
  }
  steps(id: string): string {
    return `${this.root}steps:${id}`;
  }
  state(state: JobState): string {
    return `${this.root}state:${state}`;
  }
  get running(): string {
    return `${this.root}running`;
  }
  get queues(): string {
    return `${this.root}queues`;
  }
  get lastProcessed(): string {
    return `${this.root}lastproc`;
  }
  ready(queue: string): string {
    return `${this.root}ready:${queue}`;
  }
  count(queue: string): string {
    return `${this.root}count:${queue}`;
  }
  done(queue: string): string {
    return `${this.root}done:${queue}`;
  }
  schedule(id: string): string {
    return `${this.root}schedule:${id}`;
  }
  get schedules(): string {
    return `${this.root}schedules`;
  }
  get events(): string {
    return `${this.root}events`;
  }
  /** A SCAN pattern that matches every key of this prefix. */
  get every(): string {
    return `${this.root}*`;
  }
}
