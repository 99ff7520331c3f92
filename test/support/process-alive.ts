/**
 * Is a process still running? `kill(pid, 0)` alone says yes for a zombie, and in a
 * container whose PID 1 is not an init (as on this machine) an exited, orphaned postmaster
 * can stay a zombie for a while; so on Linux the state in /proc is read as well.
 */
import { readFileSync } from 'node:fs';

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else; only ESRCH means gone.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat is "pid (comm) state ..."; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // No /proc (macOS): trust kill(pid, 0).
  }
}
