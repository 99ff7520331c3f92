/**
 * Runs a short-lived command (initdb, pg_ctl) to completion and keeps its output, so a
 * failure can say what the tool printed. Long-lived servers are spawned elsewhere.
 */
import { spawn } from 'node:child_process';

export interface CommandOptions {
  /** Working directory: a user switched to with runuser must be able to enter it. */
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The command is sent SIGTERM (then SIGKILL) when it runs longer. */
  readonly timeoutMs: number;
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as they arrived. */
  readonly output: string;
}

export function runCommand(file: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      reject(new Error(`could not run ${file}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ code, signal, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

/** Like `runCommand`, but a non-zero exit is an error quoting the command and its output. */
export async function runChecked(file: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  const result = await runCommand(file, args, options);
  if (result.code !== 0) {
    const how = result.signal === null ? `exit code ${String(result.code)}` : `signal ${result.signal}`;
    throw new Error(`${[file, ...args].join(' ')} failed (${how}):\n${result.output.trimEnd()}`);
  }
  return result;
}
