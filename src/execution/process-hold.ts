/**
 * Holds the process open while work is pending. Every library timer is unref()ed, so an
 * idle client never keeps a process alive; a started worker or scheduler, a pending
 * `waitFor()` and a job running inline with `now()` do, as a listening server does, until
 * they end. One ref'd interval serves every holder in the process.
 */
let holders = 0;
let timer: NodeJS.Timeout | null = null;

/** Keeps the process alive until the returned function is called (once; later calls do nothing). */
export function holdProcessOpen(): () => void {
  if (holders++ === 0) timer = setInterval(() => {}, 2 ** 31 - 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}
