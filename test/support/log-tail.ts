/**
 * The end of a server's log file, for error messages: when a server will not start, the
 * reason is in its last lines, and a test failure should show it without a second run.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** At most this many trailing bytes are read, so a chatty log cannot flood a message. */
const MAX_BYTES = 16 * 1024;

/** The last `lines` lines of `path`, or a note saying why there are none. */
export function logTail(path: string, lines = 40): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    return `(no log at ${path}: ${error instanceof Error ? error.message : String(error)})`;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, MAX_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8').trimEnd();
    if (text === '') return `(log ${path} is empty)`;
    return text.split('\n').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

/** The log's size now, to read later only what was written after this point. */
export function logSize(path: string): number {
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

/** What was appended to `path` since it had `fromByte` bytes. */
export function logSince(path: string, fromByte: number): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.max(0, size - fromByte);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, fromByte);
      return buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}
