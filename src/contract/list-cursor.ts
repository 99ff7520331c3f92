import { InvalidOptionError } from '../domain/errors.ts';

/** Pages are ordered by id, newest first; a cursor is the last id of the page, opaque to callers. */
export const listCursor = {
  encode(lastId: string): string {
    return Buffer.from(lastId, 'utf8').toString('base64url');
  },
  decode(cursor: string | null | undefined): string | null {
    if (cursor === undefined || cursor === null) return null;
    const id = Buffer.from(cursor, 'base64url').toString('utf8');
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new InvalidOptionError('cursor', cursor, 'a cursor from a previous page');
    return id;
  },
};

/** @default 50, at most 1000 */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new InvalidOptionError('limit', limit, 'an integer from 1 to 1000');
  return limit;
}
