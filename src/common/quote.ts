/**
 * The one way a user's value is printed in a message, and the one way a secret-bearing value is made
 * safe to print. Every error that echoes what someone typed goes through `quote`, so a newline can
 * not start a second `vldm:` line, an ANSI escape can not clear the terminal, and a 10 KB value does
 * not flood it. Every URL that may carry credentials goes through `redactUrl`. Pure: no Node built-ins.
 */

/** Values longer than this many characters are shortened in messages. */
export const QUOTE_MAX_CHARS = 80;

/** What replaces credentials in printed URLs. */
export const REDACTED = '***';

/**
 * Characters that must never reach a terminal raw: C0 and C1 controls, DEL, the line and paragraph
 * separators, and the bidirectional overrides that make text read differently from how it is stored.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

/** `s` with every unsafe character written as an escape (`\n`, `\e`, `\x07`, `\u202e`). */
export function escapeControls(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const named = NAMED[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/**
 * A user's value for a message: in double quotes, with `"` and `\` escaped, control characters
 * escaped, and, when longer than `max` characters, cut with an ellipsis and its full length, so the
 * result is always one short line: `"abc…" (10240 chars)`.
 */
export function quote(value: unknown, max: number = QUOTE_MAX_CHARS): string {
  const s = typeof value === 'string' ? value : String(value);
  const chars = [...s]; // code points, so a cut never splits a surrogate pair
  const shown = chars.length > max ? chars.slice(0, max).join('') : s;
  const body = escapeControls(shown.replace(/[\\"]/g, (c) => `\\${c}`));
  return chars.length > max ? `"${body}…" (${chars.length} chars)` : `"${body}"`;
}

/**
 * `text` with the credentials of every URL in it replaced by `***`: for each `scheme://`, everything
 * up to the last `@` before the next URL of a comma list (or the end) is user info. The last `@`, not
 * the first, because passwords typed unescaped may hold `@`, `:`, `/`, `%` or spaces; taking too much
 * hides part of a host name, taking too little shows part of a password, so this errs on the safe side.
 */
export function redactUrl(text: string): string {
  const scheme = /[a-z][a-z0-9+.-]*:\/\//gi;
  const urls: Array<{ at: number; body: number }> = [];
  for (let m = scheme.exec(text); m; m = scheme.exec(text))
    urls.push({ at: m.index, body: m.index + m[0].length });
  if (urls.length === 0) return text;
  let out = text.slice(0, urls[0].at);
  urls.forEach((u, i) => {
    const end = i + 1 < urls.length ? urls[i + 1].at : text.length;
    const part = text.slice(u.body, end);
    const at = part.lastIndexOf('@');
    out += text.slice(u.at, u.body) + (at < 0 ? part : `${REDACTED}${part.slice(at)}`);
  });
  return out;
}

/** A value that may be a secret-bearing URL, redacted and quoted for a message. */
export function quoteRedacted(value: string, max: number = QUOTE_MAX_CHARS): string {
  return quote(redactUrl(value), max);
}
