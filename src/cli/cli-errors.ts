import { CommanderError } from '@commander-js/extra-typings';
import { isJobsmithError } from '../index.ts';

/**
 * What a CLI error is about:
 * - `USAGE`: the command line is wrong (a bad --param, a missing argument, a refused confirmation).
 * - `CONFIG`: the config file cannot be found, loaded or understood.
 * - `REFUSED`: the command would overwrite a file.
 * - `DECLINED`: the person at the terminal answered no to a confirmation.
 * - `JOB_FAILED`: `jobsmith run` ran the job and it did not complete.
 */
export type CliErrorCode = 'USAGE' | 'CONFIG' | 'REFUSED' | 'DECLINED' | 'JOB_FAILED';

/** An error the CLI reports as one line (plus `detail` lines) and turns into an exit code. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  /** Lines printed under the message: candidates for an ambiguous id, say. */
  readonly detail: readonly string[];

  constructor(code: CliErrorCode, message: string, options: { cause?: unknown; detail?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.detail = options.detail ?? [];
  }
}

export function usageError(message: string, options: { cause?: unknown; detail?: readonly string[] } = {}): CliError {
  return new CliError('USAGE', message, options);
}

/**
 * 2 when what was typed (or configured) is wrong and retyping fixes it; 1 when the command
 * was understood but could not be done (the store is unreachable, the job failed, a file is
 * in the way, the job is in the wrong state, a confirmation was declined).
 */
export function exitCodeOf(error: unknown): 1 | 2 {
  if (error instanceof CliError) return error.code === 'USAGE' || error.code === 'CONFIG' ? 2 : 1;
  if (error instanceof CommanderError) return 2;
  if (isJobsmithError(error)) {
    switch (error.code) {
      case 'UNKNOWN_JOB':
      case 'INVALID_PAYLOAD':
      case 'PAYLOAD_NOT_JSON':
      case 'PAYLOAD_TOO_LARGE':
      case 'INVALID_OPTION':
      case 'INVALID_URL':
      case 'JOB_NOT_FOUND':
      case 'AMBIGUOUS_ID':
      case 'INVALID_SCHEDULE':
      case 'SCHEDULE_NOT_FOUND':
        return 2;
      default:
        return 1;
    }
  }
  return 1;
}

/**
 * The lines to print for an error: one line, plus its detail lines; with `verbose`, the
 * stack and every cause. `secrets` (a URL's password) are masked wherever they appear.
 */
export function describeError(error: unknown, verbose: boolean, secrets: readonly string[]): string {
  const lines: string[] = [];
  if (verbose) {
    let current: unknown = error;
    for (let depth = 0; current !== undefined && depth < 8; depth++) {
      const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
      lines.push(depth === 0 ? `error: ${text}` : `caused by: ${text}`);
      current = current instanceof Error ? current.cause : undefined;
    }
  } else {
    lines.push(`error: ${oneLine(error)}`);
  }
  if (error instanceof CliError) lines.push(...error.detail);
  let text = lines.join('\n');
  for (const secret of secrets) text = text.split(secret).join('***');
  return text;
}

/** The message, and for a store error the driver's message under it when it adds something. */
function oneLine(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  let message = error.message;
  const cause = isJobsmithError(error, 'STORE_ERROR') && error.cause instanceof Error ? error.cause.message : undefined;
  if (cause && !message.includes(cause)) message = `${message.replace(/\.$/, '')}: ${cause}`;
  return message.replace(/\s*\n\s*/g, ' ');
}
