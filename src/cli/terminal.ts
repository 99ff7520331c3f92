import { createInterface } from 'node:readline/promises';
import { styleText } from 'node:util';

/** Styles the CLI uses; each maps to terminal attributes only when colour is on. */
export type Style = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | 'bold' | 'dim';

/**
 * Whether to colour output. `--no-color` wins; then `FORCE_COLOR` (`0` turns it off, anything
 * else on); then `NO_COLOR` (any non-empty value turns it off); then whether stdout is a
 * terminal (and not `TERM=dumb`).
 */
export function wantsColor(flag: boolean, env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (!flag) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return isTTY && env.TERM !== 'dumb';
}

/**
 * The CLI's stdout and stderr. Writes honour back-pressure, so streaming a million jobs holds
 * one page in memory. (A closed stdout, as in `jobsmith list | head`, is handled in main.ts.)
 */
export class Terminal {
  /** Stdout is a terminal: times are shown relative, and confirmations may be asked. */
  readonly tty: boolean;
  readonly color: boolean;
  private readonly out: NodeJS.WriteStream;

  constructor(options: { color: boolean; out?: NodeJS.WriteStream }) {
    this.out = options.out ?? process.stdout;
    this.tty = this.out.isTTY === true;
    this.color = options.color;
  }

  style(style: Style | readonly Style[], text: string): string {
    return this.color && text !== '' ? styleText(style as Parameters<typeof styleText>[0], text, { validateStream: false }) : text;
  }

  /** Writes `text` and a newline to stdout; resolves once the stream can take more. */
  line(text = ''): Promise<void> {
    return this.write(`${text}\n`);
  }

  write(text: string): Promise<void> {
    if (this.out.write(text)) return Promise.resolve();
    return new Promise((resolve) => this.out.once('drain', resolve));
  }

  /** One JSON value per line (NDJSON). */
  json(value: unknown): Promise<void> {
    return this.line(JSON.stringify(value));
  }

  /** A note for the person at the terminal, on stderr so stdout stays clean for pipes. */
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  /** Whether a person can be asked: stdin is a terminal. */
  canAsk(): boolean {
    return process.stdin.isTTY === true;
  }

  /** Asks a yes/no question on the terminal; anything but y or yes is no. */
  async confirm(question: string): Promise<boolean> {
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await prompt.question(`${question} [y/N] `);
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      prompt.close();
    }
  }

  /** The terminal's width, or 120 when stdout is not one. */
  columns(): number {
    return this.out.columns ?? 120;
  }
}

/** Visible width of text that may hold colour codes. */
export function visibleLength(text: string): number {
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}
