import { Cron } from 'croner';
import { describe, expect, it } from 'vitest';
import { InvalidScheduleError } from '../../src/domain/errors.ts';
import { FireTimes } from '../../src/scheduler/fire-times.ts';
import { daylightSavingNights, firesThatNight, localTime } from '../../src/testing/daylight-saving.ts';

const minute = 60_000;
const hour = 60 * minute;
const cron = (expression: string, tz: string | null) => new FireTimes({ kind: 'cron', expression, tz });

/** Every fire time from `from` up to `to`, found by chaining nextAfter as the scheduler does. */
function chain(fireTimes: FireTimes, from: number, to: number): number[] {
  const times: number[] = [];
  for (let at = fireTimes.nextAfter(from); at !== null && at < to; at = fireTimes.nextAfter(at)) times.push(at);
  return times;
}

describe('FireTimes across daylight saving changes (Vixie cron rule)', () => {
  for (const night of daylightSavingNights) {
    describe(`${night.tz} on ${night.date}, ${night.change}`, () => {
      for (const [expression, expected] of Object.entries(night.fires)) {
        it(`${expression} fires ${expected.join(', ')}`, () => {
          const fireTimes = cron(expression, night.tz);
          const times = chain(fireTimes, night.from, night.to);
          expect(firesThatNight(times, night)).toEqual(expected);
          // Each instant at most once, in order.
          expect(times).toEqual([...new Set(times)].sort((a, b) => a - b));
          // Asked from any moment of the night (as nextRuns(), enable() and a new registration
          // do), the next fire time is the next one of the chain: the rule does not depend on
          // where the computation starts, so what is stored, listed and fired agree. Every
          // fire time is on a five-minute mark, so this asks just before, at and after each.
          const all = chain(fireTimes, night.from - hour, night.to + 25 * hour);
          for (let at = night.from; at < night.to; at += 5 * minute) {
            for (const from of [at - 1, at, at + 1]) {
              expect(fireTimes.nextAfter(from), `after ${localTime(from, night.tz)}`).toBe(all.find((time) => time > from));
            }
          }
          expect(fireTimes.next(night.from, times.length)).toEqual(times);
        });
      }
    });
  }

  it('croner with its default rule fires a repeated time of a list twice, which is why FireTimes does not use it', () => {
    const berlinFallBack = daylightSavingNights[1]!;
    const croner = new Cron('0,30 2 * * *', { paused: true, timezone: berlinFallBack.tz });
    const times = croner.nextRuns(8, new Date(berlinFallBack.from)).map((date) => date.getTime());
    expect(firesThatNight(times, berlinFallBack)).toEqual(['02:00+02:00', '02:30+02:00', '02:00+01:00', '02:30+01:00']);
  });

  it('counts a job as wild when its seconds, minute or hour field starts with * or ?, and @hourly', () => {
    const lordHoweFallBack = daylightSavingNights[3]!;
    const fires = (expression: string) => firesThatNight(chain(cron(expression, lordHoweFallBack.tz), lordHoweFallBack.from, lordHoweFallBack.to), lordHoweFallBack);
    // 01:30 happens at +11:00 and again at +10:30.
    expect(fires('*/20 30 1 * * *')).toEqual(['01:30+11:00', '01:30:20+11:00', '01:30:40+11:00', '01:30+10:30', '01:30:20+10:30', '01:30:40+10:30']);
    expect(fires('0-40/20 30 1 * * *')).toEqual(['01:30+11:00', '01:30:20+11:00', '01:30:40+11:00']);
    expect(fires('30 ? * * *')).toEqual(fires('30 * * * *'));
    expect(fires('@hourly')).toEqual(fires('0 * * * *'));
    expect(fires('0-59/30 1 * * *')).toEqual(['01:00+11:00', '01:30+11:00']);
    expect(fires('0,30 1-2 * * *')).toEqual(['01:00+11:00', '01:30+11:00', '02:00+10:30', '02:30+10:30']);
    expect(fires('0 30 1 * * *')).toEqual(['01:30+11:00']);
    // A seven-field expression keeps its year.
    expect(fires('0 0-59/30 1 * * * 2027')).toEqual(['01:00+11:00', '01:30+11:00']);
    expect(fires('0 0-59/30 1 * * * 2028')).toEqual([]);
  });

  it('a spelled-out fixed-time expression keeps its calendar fields and its errors', () => {
    // 2026-01-01 is a Thursday; the last Friday of January is the 30th.
    expect(cron('0-30/30 9 * 1 5#L', 'Europe/Berlin').next(Date.UTC(2026, 0, 1), 3).map((at) => localTime(at, 'Europe/Berlin'))).toEqual([
      '2026-01-30 09:00+01:00',
      '2026-01-30 09:30+01:00',
      '2027-01-29 09:00+01:00',
    ]);
    expect(() => cron('0-70/5 2 * * *', null)).toThrow(InvalidScheduleError);
    expect(() => cron('0-30/5 2 31 2 *', null)).toThrow(/never fires/);
  });
});
