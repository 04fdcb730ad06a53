/**
 * The strict parsers every configuration value goes through, whatever it came from (flag,
 * environment variable, config file): one set of boolean spellings, integers written only in
 * decimal, `host:port` with IPv6 in brackets, Temporal namespaces. A value that does not parse is a
 * UserError naming where it came from and quoting it; nothing is guessed (an unknown boolean
 * spelling never reads as "off", which would turn security switches off without a word).
 */
import { isIP } from 'node:net';
import { UserError } from '../common/errors';
import { quote, quoteRedacted } from '../common/quote';

/** The documented boolean spellings (docs/configuration.md), compared case-insensitively. */
export const TRUE_SPELLINGS = ['true', '1', 'yes', 'on'] as const;
export const FALSE_SPELLINGS = ['false', '0', 'no', 'off'] as const;

/** A boolean from a string (or a JSON boolean); anything else is refused. `where` names the source. */
export function parseBoolean(where: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if ((TRUE_SPELLINGS as readonly string[]).includes(v)) return true;
    if ((FALSE_SPELLINGS as readonly string[]).includes(v)) return false;
  }
  throw new UserError(
    `${where} must be one of ${[...TRUE_SPELLINGS, ...FALSE_SPELLINGS].join('/')}, got ${quote(value)}`,
  );
}

/**
 * An integer in [min, max]: a JSON integer, or a string of decimal digits (no sign, hex, exponent,
 * fraction or spaces inside), the same rule as the job flags'.
 */
export function parseInteger(where: string, value: unknown, min: number, max: number): number {
  let n: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) n = value;
  else if (typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim())) n = Number(value.trim());
  if (n === undefined || n < min || n > max)
    throw new UserError(`${where} must be an integer in [${min}, ${max}], got ${quote(value)}`);
  return n;
}

/** A DNS host name (RFC 1123 labels). */
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * `host:port`: a host name, an IPv4 address or a bracketed IPv6 address (`[::1]:7233`), and a port in
 * [1, 65535]. Returns the value as given (trimmed).
 */
export function parseHostPort(where: string, value: unknown): string {
  const help = `${where} must be host:port (IPv6 as [addr]:port), got ${quote(value)}`;
  if (typeof value !== 'string') throw new UserError(help);
  const v = value.trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v);
  if (!m) throw new UserError(help);
  const [, v6, host, portText] = m;
  if (v6 !== undefined ? isIP(v6) !== 6 : !(isIP(host) === 4 || HOSTNAME.test(host)))
    throw new UserError(`${where}: ${quote(v6 ?? host)} is not a host name or IP address`);
  const port = Number(portText);
  if (port < 1 || port > 65535)
    throw new UserError(`${where}: port must be in [1, 65535], got ${port} (in ${quote(v)})`);
  return v;
}

/** Temporal namespace names: letters, digits, `.`, `-` and `_`, starting with a letter or digit. */
const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

export function parseNamespace(where: string, value: unknown): string {
  if (typeof value !== 'string' || !NAMESPACE.test(value))
    throw new UserError(
      `${where} must be a Temporal namespace (2–255 letters, digits, ".", "-", "_"), got ${quote(value)}`,
    );
  return value;
}

/** An http(s) URL without credentials (the Temporal UI's base URL). */
export function parseHttpUrl(where: string, value: unknown): string {
  let u: URL | undefined;
  try {
    if (typeof value === 'string') u = new URL(value);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password)
    throw new UserError(
      `${where} must be an http(s):// URL without user info, got ${typeof value === 'string' ? quoteRedacted(value) : quote(value)}`,
    );
  return (value as string).replace(/\/+$/, '');
}

/** Milliseconds per unit of a duration (parseDuration). */
export const DURATION_UNITS_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration written as a decimal integer and a unit, `s`, `m`, `h` or `d` (e.g. `90m`, `7d`, `0s`),
 * in milliseconds; at most 100 years. Nothing else is guessed (no bare numbers, no fractions).
 */
export function parseDuration(where: string, value: unknown): number {
  const m = typeof value === 'string' ? /^(\d{1,9})([smhd])$/.exec(value.trim()) : null;
  const ms = m ? Number(m[1]) * DURATION_UNITS_MS[m[2] as keyof typeof DURATION_UNITS_MS] : NaN;
  if (!m || !(ms <= 100 * 365 * DURATION_UNITS_MS.d))
    throw new UserError(
      `${where} must be a whole number with a unit s, m, h or d (e.g. 36h, 7d, 0s), at most 100 years; got ${quote(value)}`,
    );
  return ms;
}
