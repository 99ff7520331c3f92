/**
 * PostgreSQL array literals (`{"a","b",NULL}`) for the columns of a bulk insert, built here
 * rather than by pg: pg runs two regular expressions over every element it quotes, which was
 * about a third of the client's CPU a job in a 1,000-job enqueue (issue #21,
 * bench/where-the-time-goes.md). Here an element is scanned once and copied as it is unless it
 * holds a backslash or a double quote. The result is a plain string parameter, which pg sends
 * unchanged, cast by the statement (`$1::uuid[]`, `$5::jsonb[]`).
 */

const needsEscape = /[\\"]/;
const escapable = /[\\"]/g;

/** Texts (ids, names, JSON text) as an array literal; every element quoted, so '', 'NULL' and ',' stay texts. */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let literal = '{';
  for (let index = 0; index < values.length; index++) {
    if (index > 0) literal += ',';
    const value = values[index];
    if (value === null || value === undefined) literal += 'NULL';
    else literal += `"${needsEscape.test(value) ? value.replace(escapable, '\\$&') : value}"`;
  }
  return `${literal}}`;
}

/** Finite numbers as an array literal. */
export function numberArrayLiteral(values: readonly (number | null)[]): string {
  let literal = '{';
  for (let index = 0; index < values.length; index++) {
    if (index > 0) literal += ',';
    const value = values[index];
    literal += value === null || value === undefined ? 'NULL' : String(value);
  }
  return `${literal}}`;
}
