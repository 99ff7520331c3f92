import { spawn } from 'node:child_process';

/**
 * Runs `node <args>` (a diagnostic measuring in a fresh process of its own) with stderr passed
 * through, and resolves with the lines it printed; rejects, naming `what`, when it fails.
 */
export function childOutput(args: readonly string[], what: string): Promise<string[]> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${what} exited with ${code}`));
      else resolveRun(output.trim().split('\n'));
    });
  });
}
