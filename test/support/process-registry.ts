/**
 * Every server this process started, so none outlives it. Each server registers a
 * synchronous "kill now" for as long as it has a process or a temp folder; on process exit
 * (and on SIGINT/SIGTERM/SIGHUP) whatever is still registered is killed and removed. A test
 * that forgets `stop()`, or a run that is interrupted, then leaves nothing behind.
 *
 * Only processes recorded here are signalled: nothing is found by name.
 */

export interface TrackedServer {
  /** For messages, e.g. "postgres on 127.0.0.1:54321". */
  readonly label: string;
  /**
   * Ends the server's processes with no waiting on the event loop (it may have stopped),
   * then removes its temp folder. Must not throw.
   */
  killNow(): void;
}

const tracked = new Set<TrackedServer>();
let installed = false;

/** Registers `server`; call the returned function once it is stopped and removed. */
export function trackServer(server: TrackedServer): () => void {
  installHandlers();
  tracked.add(server);
  return () => {
    tracked.delete(server);
  };
}

/** Servers registered and not yet released: a test can assert it left none. */
export function trackedServers(): string[] {
  return [...tracked].map((server) => server.label);
}

function killAll(): void {
  for (const server of [...tracked]) {
    tracked.delete(server);
    try {
      server.killNow();
    } catch {
      // Best effort: one failure must not leave the others running.
    }
  }
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      killAll();
      // Our listener must not change how the process reacts to the signal: when nobody
      // else listens, re-raise it so the default action (exit) still happens.
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
