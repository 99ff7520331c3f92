/**
 * A minimal Redis client (RESP2 over a TCP socket) for the harness itself: readiness
 * pings, SHUTDOWN, CLIENT KILL and one-off commands from tests. It keeps the harness free
 * of a Redis library, whose own reconnect logic would get in the way of a server that is
 * being killed on purpose. Tests of the Redis backend use the backend's real client.
 */
import { connect, type Socket } from 'node:net';

/** Simple and bulk strings come back as strings; nil as null. */
export type RespReply = string | number | null | RespReply[];

/** An error reply (`-ERR ...`): the server answered, and the answer is an error. */
export class RespReplyError extends Error {
  override readonly name = 'RespReplyError';
}

/** The connection closed with commands unanswered (expected after SHUTDOWN or CLIENT KILL). */
export class RespConnectionClosedError extends Error {
  override readonly name = 'RespConnectionClosedError';
}

type Parsed = { value: RespReply | RespReplyError; next: number } | undefined;

/** Parses one reply starting at `offset`, or returns undefined when it has not fully arrived. */
function parseReply(buffer: Buffer, offset: number): Parsed {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RespReplyError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespReply[] = [];
      let next = afterLine;
      for (let index = 0; index < count; index += 1) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        // An error inside an array (e.g. from EXEC) is kept as its message.
        items.push(item.value instanceof RespReplyError ? item.value.message : item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

function encodeCommand(args: readonly (string | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

interface Pending {
  resolve(value: RespReply): void;
  reject(error: Error): void;
}

export class RespClient {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new RespConnectionClosedError('connection closed by the server')));
  }

  static connect(port: number, host: string, timeoutMs = 2_000): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to ${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new RespClient(socket));
      });
    });
  }

  /** Sends one command; resolves with its reply, rejects with `RespReplyError` on an error reply. */
  send(...args: readonly (string | number)[]): Promise<RespReply> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    });
  }

  /** Closes the socket; unanswered commands reject. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      // A server that never closes its side must not hold the caller up.
      setTimeout(() => this.socket.destroy(), 1_000).unref();
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    for (;;) {
      let parsed: Parsed;
      try {
        parsed = parseReply(this.buffer, offset);
      } catch (error) {
        this.socket.destroy(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (parsed === undefined) break;
      offset = parsed.next;
      const waiter = this.pending.shift();
      if (waiter === undefined) continue; // Unsolicited (e.g. a push): nobody asked for it.
      if (parsed.value instanceof RespReplyError) waiter.reject(parsed.value);
      else waiter.resolve(parsed.value);
    }
    this.buffer = this.buffer.subarray(offset);
  }

  private fail(error: Error): void {
    this.closedError ??= error;
    for (const waiter of this.pending.splice(0)) waiter.reject(error);
  }
}

/**
 * Opens a connection, sends one command, closes: simple and immune to restarts in between.
 * The whole exchange has a deadline, because something other than Redis may hold the port
 * (a server that fails to bind leaves the port to whoever took it) and never answer.
 */
export async function sendOnce(port: number, host: string, args: readonly (string | number)[], timeoutMs = 10_000): Promise<RespReply> {
  const deadline = Date.now() + timeoutMs;
  const client = await RespClient.connect(port, host, timeoutMs);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${String(args[0])} to ${host}:${port} got no reply within ${timeoutMs} ms`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    return await Promise.race([client.send(...args), timedOut]);
  } finally {
    clearTimeout(timer);
    await client.close();
  }
}
