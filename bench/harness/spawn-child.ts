import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ChildResult, ParentMessage, RunSpec } from './run-spec.ts';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const childEntry = fileURLToPath(new URL('./child-entry.ts', import.meta.url));

/** Keep this much of the child's output, to explain a failure. */
const outputTailChars = 4000;

/** A measuring child process, from the parent's side. */
export interface MeasuringChild {
  /** Resolves when the child is ready for the parent's next step (cross-process latency and multi-worker runs only). */
  readonly ready: Promise<void>;
  readonly result: Promise<ChildResult>;
  /** Tells one of several workers to start or stop; a child that is gone reports that through `result`. */
  tell(message: ParentMessage): void;
  /** Kills the child if it is still running: for a parent that gives up on the run. */
  stop(): void;
}

export interface MeasuringChildHooks {
  /** Receives each batch of handler runs one of several workers reports. */
  readonly onRuns?: (indexes: readonly number[], at: readonly number[]) => void;
}

/**
 * Spawns `child-entry.ts` for one run, through tsx like the rest of the harness, with
 * an IPC channel for its messages. A child still running after `hardTimeoutMs` (its
 * own cap has failed) is killed, and the run fails.
 */
export function spawnMeasuringChild(spec: RunSpec, hardTimeoutMs: number, hooks: MeasuringChildHooks = {}): MeasuringChild {
  const child = spawn(process.execPath, ['--import', 'tsx', childEntry, JSON.stringify(spec)], {
    // `--import tsx` is resolved from here.
    cwd: repositoryRoot,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-outputTailChars);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);

  let markReady: () => void = () => {};
  let failReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  // Most runs never wait for `ready`; their failure is reported through `result`.
  ready.catch(() => {});

  const result = new Promise<ChildResult>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      failReady(error);
      if (!settled) reject(error);
      settled = true;
    };
    const killer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the measuring process was killed after ${Math.round(hardTimeoutMs / 1000)} s${describeOutput(output)}`));
    }, hardTimeoutMs);
    child.on('message', (message: ChildMessage) => {
      switch (message.type) {
        case 'ready':
          return markReady();
        case 'ran':
          return hooks.onRuns?.(message.indexes, message.at);
        case 'result':
          settled = true;
          failReady(new Error('the measuring process finished without announcing a running worker'));
          return resolve(message.outcome);
        case 'failed':
          return fail(new Error(`the measuring process failed: ${message.error}`));
      }
    });
    child.on('error', (error) => fail(error));
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      fail(new Error(`the measuring process exited (${signal ?? `code ${code}`}) without a result${describeOutput(output)}`));
    });
  });
  // A parent that gave up on the run never awaits `result`; its rejection must not crash the parent.
  result.catch(() => {});
  return {
    ready,
    result,
    tell: (message) => {
      // A child that has just exited cannot take the message; its exit already fails `result`.
      if (child.connected) child.send(message, () => {});
    },
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

function describeOutput(output: string): string {
  const trimmed = output.trim();
  return trimmed === '' ? '' : `; its output ended with:\n${trimmed}`;
}
