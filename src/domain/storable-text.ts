/**
 * Text every store can keep. PostgreSQL cannot store a NUL character (U+0000) in text or
 * jsonb at all, and refuses a lone surrogate (half of a UTF-16 pair, which is no Unicode
 * character) in jsonb; SQLite, Redis and memory would keep both. So that one application
 * behaves the same on every backend, what a user gives (payloads, results, metadata, keys,
 * log fields) is refused when it holds either, and what Jobsmith writes on its own account
 * (error messages, log and progress messages) is cleaned instead.
 */

// A quick scan first: almost all text has neither, and the exact pattern is slower.
const suspect = /[\u0000\ud800-\udfff]/;
const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorableAll = new RegExp(unstorable.source, 'g');

/** Says what in `text` no store can keep (for an error's reason), or null when there is nothing. */
export function unstorableCharacter(text: string): string | null {
  if (!suspect.test(text)) return null;
  const match = unstorable.exec(text);
  if (!match) return null;
  return match[0] === '\u0000'
    ? 'a NUL character (\\u0000), which PostgreSQL cannot store'
    : `a lone surrogate (${escaped(match[0])}, half of a UTF-16 pair), which is not Unicode text`;
}

/** `text` with every character no store can keep written as its `\uXXXX` escape: for naming a key in an error. */
export function printable(text: string): string {
  return suspect.test(text) ? text.replace(unstorableAll, escaped) : text;
}

/**
 * `text` as every store can keep it: each NUL and lone surrogate becomes U+FFFD (the
 * replacement character). Given `max`, longer text is cut to `max` characters (never in
 * the middle of a surrogate pair) and `rest(dropped)` appended.
 */
export function storableText(text: string, max = Number.POSITIVE_INFINITY, rest: (dropped: number) => string = () => '…'): string {
  let out = text;
  if (out.length > max) {
    // Cutting between the halves of a pair would leave a lone surrogate behind.
    const end = /[\ud800-\udbff]/.test(out[max - 1] ?? '') ? max - 1 : max;
    out = `${out.slice(0, end)}${rest(out.length - end)}`;
  }
  return suspect.test(out) ? out.replace(unstorableAll, '\ufffd') : out;
}

function escaped(character: string): string {
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
