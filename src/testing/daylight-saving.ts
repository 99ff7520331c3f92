/**
 * An instant as the wall clock in `tz` shows it, with its offset: `2026-10-25 02:30+01:00`
 * (seconds only when not zero). Tests about daylight saving read far better in local time.
 */
export function localTime(at: number, tz: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(at))
      .map((part) => [part.type, part.value]),
  );
  const wallClock = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  const offsetMinutes = Math.round((wallClock - Math.floor(at / 1000) * 1000) / 60_000);
  const abs = Math.abs(offsetMinutes);
  const offset = `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  const seconds = parts.second === '00' ? '' : `:${parts.second}`;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${seconds}${offset}`;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** A night when the clocks change, and what each cron expression fires in it. */
export interface DaylightSavingNight {
  tz: string;
  /** The local date the clocks change on. */
  date: string;
  /** 23:50 the evening before, local time: nothing fires between it and midnight. */
  from: number;
  /** 05:00 on `date`, local time. */
  to: number;
  /** The clock change, as the wall clock shows it. */
  change: string;
  /** Expression → the local times (`HH:MM+hh:mm`) it fires on `date` before 05:00. */
  fires: Record<string, string[]>;
}

/**
 * Vixie cron's rule in Berlin (one hour) and on Lord Howe Island (half an hour), springing
 * forward and falling back. Fixed-time expressions (no seconds, minute or hour field starting
 * with `*`) fire a repeated wall time once, on its first pass, and a skipped one right after
 * the gap, once however many were skipped. Wild ones (`30 * * * *`, `0 * * * *`, and every half
 * hour from 00:00 to 03:30) run on the real clock: both passes of a repeated time, and nothing
 * for a skipped one.
 */
export const daylightSavingNights: DaylightSavingNight[] = [
  {
    tz: 'Europe/Berlin',
    date: '2026-03-29',
    from: Date.UTC(2026, 2, 28, 22, 50),
    to: Date.UTC(2026, 2, 29, 3),
    change: '02:00+01:00 → 03:00+02:00',
    fires: {
      '30 2 * * *': ['03:00+02:00'],
      '0,30 2 * * *': ['03:00+02:00'],
      '15,45 2 * * *': ['03:00+02:00'],
      '0 1,2 * * *': ['01:00+01:00', '03:00+02:00'],
      '0,30 1 * * *': ['01:00+01:00', '01:30+01:00'],
      '0 0-4/2 * * *': ['00:00+01:00', '03:00+02:00', '04:00+02:00'],
      '30 * * * *': ['00:30+01:00', '01:30+01:00', '03:30+02:00', '04:30+02:00'],
      '*/30 0-3 * * *': ['00:00+01:00', '00:30+01:00', '01:00+01:00', '01:30+01:00', '03:00+02:00', '03:30+02:00'],
      '0 * * * *': ['00:00+01:00', '01:00+01:00', '03:00+02:00', '04:00+02:00'],
    },
  },
  {
    tz: 'Europe/Berlin',
    date: '2026-10-25',
    from: Date.UTC(2026, 9, 24, 21, 50),
    to: Date.UTC(2026, 9, 25, 4),
    change: '03:00+02:00 → 02:00+01:00',
    fires: {
      '30 2 * * *': ['02:30+02:00'],
      '0,30 2 * * *': ['02:00+02:00', '02:30+02:00'],
      '15,45 2 * * *': ['02:15+02:00', '02:45+02:00'],
      '0 1,2 * * *': ['01:00+02:00', '02:00+02:00'],
      '0,30 1 * * *': ['01:00+02:00', '01:30+02:00'],
      '0 0-4/2 * * *': ['00:00+02:00', '02:00+02:00', '04:00+01:00'],
      '30 * * * *': ['00:30+02:00', '01:30+02:00', '02:30+02:00', '02:30+01:00', '03:30+01:00', '04:30+01:00'],
      '*/30 0-3 * * *': [
        '00:00+02:00', '00:30+02:00', '01:00+02:00', '01:30+02:00', '02:00+02:00', '02:30+02:00',
        '02:00+01:00', '02:30+01:00', '03:00+01:00', '03:30+01:00',
      ],
      '0 * * * *': ['00:00+02:00', '01:00+02:00', '02:00+02:00', '02:00+01:00', '03:00+01:00', '04:00+01:00'],
    },
  },
  {
    tz: 'Australia/Lord_Howe',
    date: '2026-10-04',
    from: Date.UTC(2026, 9, 3, 13, 20),
    to: Date.UTC(2026, 9, 3, 18),
    change: '02:00+10:30 → 02:30+11:00',
    fires: {
      '30 2 * * *': ['02:30+11:00'],
      '0,30 2 * * *': ['02:30+11:00'],
      '15,45 2 * * *': ['02:30+11:00', '02:45+11:00'],
      '0 1,2 * * *': ['01:00+10:30', '02:30+11:00'],
      '0,30 1 * * *': ['01:00+10:30', '01:30+10:30'],
      '0 0-4/2 * * *': ['00:00+10:30', '02:30+11:00', '04:00+11:00'],
      '30 * * * *': ['00:30+10:30', '01:30+10:30', '02:30+11:00', '03:30+11:00', '04:30+11:00'],
      '*/30 0-3 * * *': ['00:00+10:30', '00:30+10:30', '01:00+10:30', '01:30+10:30', '02:30+11:00', '03:00+11:00', '03:30+11:00'],
      '0 * * * *': ['00:00+10:30', '01:00+10:30', '03:00+11:00', '04:00+11:00'],
    },
  },
  {
    tz: 'Australia/Lord_Howe',
    date: '2027-04-04',
    from: Date.UTC(2027, 3, 3, 12, 50),
    to: Date.UTC(2027, 3, 3, 18, 30),
    change: '02:00+11:00 → 01:30+10:30',
    fires: {
      '30 2 * * *': ['02:30+10:30'],
      '0,30 2 * * *': ['02:00+10:30', '02:30+10:30'],
      '15,45 2 * * *': ['02:15+10:30', '02:45+10:30'],
      '0 1,2 * * *': ['01:00+11:00', '02:00+10:30'],
      '0,30 1 * * *': ['01:00+11:00', '01:30+11:00'],
      '0 0-4/2 * * *': ['00:00+11:00', '02:00+10:30', '04:00+10:30'],
      '30 * * * *': ['00:30+11:00', '01:30+11:00', '01:30+10:30', '02:30+10:30', '03:30+10:30', '04:30+10:30'],
      '*/30 0-3 * * *': [
        '00:00+11:00', '00:30+11:00', '01:00+11:00', '01:30+11:00', '01:30+10:30',
        '02:00+10:30', '02:30+10:30', '03:00+10:30', '03:30+10:30',
      ],
      '0 * * * *': ['00:00+11:00', '01:00+11:00', '02:00+10:30', '03:00+10:30', '04:00+10:30'],
    },
  },
];

/** The fires in `night` among `times`, as its `fires` lists them. */
export function firesThatNight(times: readonly number[], night: DaylightSavingNight): string[] {
  return times
    .map((at) => localTime(at, night.tz))
    .filter((local) => local.startsWith(`${night.date} `) && local.slice(11, 13) < '05')
    .map((local) => local.slice(11));
}
