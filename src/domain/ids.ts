import { randomBytes, randomFillSync } from 'node:crypto';

let lastMs = 0;
let sequence = 0;

// Random bytes are drawn from the OS 4 KiB at a time: one system call per 512 ids (or 256 lease
// tokens), not one per id (it showed up in profiles of bulk enqueues). `bytes` is scratch space, reused.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
const bytes = Buffer.alloc(16);
/** The id's text: 32 hex digits and four dashes, rewritten per id (see `newJobId`). */
const text = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
/** Where each byte's two hex digits go in `text`. */
const textOffsets = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const hexDigits = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A UUIDv7: time-ordered, so ids sort by creation and a prefix of one names a
 * moment. Within one millisecond a 12-bit counter keeps ids from this process
 * strictly increasing.
 */
export function newJobId(nowMs: number): string {
  if (nowMs <= lastMs) {
    sequence++;
    if (sequence > 0xfff) {
      lastMs++;
      sequence = 0;
    }
  } else {
    lastMs = nowMs;
    sequence = 0;
  }
  takeRandom(8, 8);
  const ms = lastMs;
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | ((sequence >>> 8) & 0x0f);
  bytes[7] = sequence & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  // Decoded from one buffer, the id is a single flat string. Joined from slices it was a tree
  // of ten or so string objects (about 360 bytes instead of 56), which every store that keeps
  // ids in memory held per job, and every full garbage collection walked.
  return uuidText();
}

/** A fresh token for one attempt's lease. */
export function newLeaseToken(): string {
  // A random (version 4) UUID, as `randomUUID()` makes, but one flat string (see `newJobId`):
  // the memory backend keeps the token of each finished job's outcome.
  takeRandom(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return uuidText();
}

/** Copies `count` random bytes from the pool into `bytes` at `offset`, refilling the pool first when it runs short. */
function takeRandom(offset: number, count: number): void {
  if (poolOffset + count > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(bytes, offset, poolOffset, poolOffset + count);
  poolOffset += count;
}

/** `bytes` as UUID text, in one string. */
function uuidText(): string {
  for (let index = 0; index < 16; index++) {
    const at = textOffsets[index]!;
    text[at] = hexDigits[bytes[index]! >>> 4]!;
    text[at + 1] = hexDigits[bytes[index]! & 0x0f]!;
  }
  return text.toString('latin1');
}

/**
 * A fresh lease token of 16 characters (96 random bits, base64url) instead of a UUID's 36: as
 * unguessable as the fencing needs (a token is only ever compared with the one stored on its own
 * job), and shorter where it is stored per job. SQLite keeps the token of a job's last outcome on
 * its finished row, to recognise that outcome written again after a lost reply (issue #21's disk floor).
 */
export function newCompactLeaseToken(): string {
  return randomBytes(12).toString('base64url');
}
