import type { ChildMessage, ParentMessage } from './run-spec.ts';

/**
 * A measuring child's side of its IPC channel: what it tells its parent, and the
 * parent's go-ahead and stop for a run that spans several processes.
 */
export interface ParentLink {
  /** The child is ready for the parent's next step (see the `ready` message). */
  announceReady(): void;
  /** One of several workers: handler runs since the last report, with their `wallClockMs()` times. */
  reportRuns(indexes: readonly number[], at: readonly number[]): void;
  /** Resolves when the parent says `start`. */
  readonly started: Promise<void>;
  /** Resolves when the parent says `stop`. */
  readonly stopped: Promise<void>;
}

/**
 * The link over this process's IPC channel. `send` delivers messages in order, so the
 * parent has every report before the result that follows them.
 */
export function linkToParent(send: (message: ChildMessage) => Promise<void>): ParentLink {
  let markStarted: () => void = () => {};
  let markStopped: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve;
  });
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'start') markStarted();
    else if (message.type === 'stop') markStopped();
  });
  // A send that fails means the parent is gone; the disconnect handler ends this process.
  const tell = (message: ChildMessage) => void send(message).catch(() => {});
  return {
    announceReady: () => tell({ type: 'ready' }),
    reportRuns: (indexes, at) => tell({ type: 'ran', indexes, at }),
    started,
    stopped,
  };
}
