/**
 * How the CLI writes moments and durations: relative ("3 min ago") for a person at a
 * terminal, ISO 8601 for pipes and `--json`.
 */

/** `3 min ago`, `in 2 h`, `just now`. */
export function relativeTime(at: number, now: number): string {
  const delta = at - now;
  const magnitude = Math.abs(delta);
  if (magnitude < 1000) return 'just now';
  const text = shortDuration(magnitude);
  return delta < 0 ? `${text} ago` : `in ${text}`;
}

/** A moment for a table cell: relative on a terminal, ISO otherwise. */
export function moment(at: number | null, now: number, tty: boolean): string {
  if (at === null) return '';
  return tty ? relativeTime(at, now) : new Date(at).toISOString();
}

/** A moment for a detail view: ISO, followed by the relative time on a terminal. */
export function momentInFull(at: number, now: number, tty: boolean): string {
  const iso = new Date(at).toISOString();
  return tty ? `${iso} (${relativeTime(at, now)})` : iso;
}

/** `850 ms`, `1.2 s`, `3 min 4 s`, `2 h 5 min`, `3 d 4 h`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return shortDuration(ms);
}

function shortDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return s % 60 === 0 || min >= 10 ? `${min} min` : `${min} min ${s % 60} s`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

/** `2026-03-29 03:00:00 CEST`: the wall time in `timeZone` (an IANA name; the local zone when undefined). */
export function wallTime(at: number, timeZone: string | undefined): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).formatToParts(new Date(at));
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')} ${part('timeZoneName')}`;
}

/** The local IANA time zone (TZ, or the system's). */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}
