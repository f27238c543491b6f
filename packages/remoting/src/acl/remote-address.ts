/**
 * Matches a client IP against an ACL address pattern, in the forms RocketMQ's plain ACL accepts:
 * `*` (or `*.*.*.*`) for every address, an exact address, IPv4 with `*` or `a-b` ranges per
 * segment (`192.168.*.*`, `10.1.1-50.*`), or a last segment listing choices (`192.168.0.{1,2,3}`).
 * An empty pattern matches nothing.
 */
export type AddressMatcher = (ip: string) => boolean;

const NONE: AddressMatcher = () => false;
const ALL: AddressMatcher = () => true;

export class AddressPatternError extends Error {}

/** Strips an IPv4-mapped IPv6 prefix ("::ffff:127.0.0.1" → "127.0.0.1"). */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

type Segment = (n: number) => boolean;

function segment(text: string, pattern: string): Segment {
  if (text === '*') return () => true;
  const range = /^(\d{1,3})-(\d{1,3})$/.exec(text);
  if (range !== null) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    if (lo > 255 || hi > 255 || lo > hi) throw new AddressPatternError(`bad range "${text}" in address pattern "${pattern}"`);
    return (n) => n >= lo && n <= hi;
  }
  if (/^\d{1,3}$/.test(text) && Number(text) <= 255) {
    const v = Number(text);
    return (n) => n === v;
  }
  throw new AddressPatternError(`bad segment "${text}" in address pattern "${pattern}"`);
}

/** Throws AddressPatternError for a pattern it cannot read. */
export function addressMatcher(pattern: string | undefined | null): AddressMatcher {
  const p = (pattern ?? '').trim();
  if (p === '') return NONE;
  if (p === '*' || p === '*.*.*.*') return ALL;
  const braces = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\{([\d,\s]+)\}$/.exec(p);
  if (braces !== null) {
    const prefix = braces[1]!;
    const set = new Set(
      braces[2]!
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .map((s) => `${prefix}.${Number(s)}`),
    );
    return (ip) => set.has(normalizeIp(ip));
  }
  if (p.includes(':')) {
    // IPv6: exact match only.
    const want = p.toLowerCase();
    return (ip) => normalizeIp(ip).toLowerCase() === want;
  }
  const parts = p.split('.');
  if (parts.length !== 4) throw new AddressPatternError(`address pattern "${p}" is not an IPv4 address or pattern`);
  const segs = parts.map((s) => segment(s, p));
  return (ip) => {
    const q = normalizeIp(ip).split('.');
    if (q.length !== 4) return false;
    for (let i = 0; i < 4; i++) {
      const t = q[i]!;
      if (!/^\d{1,3}$/.test(t) || !segs[i]!(Number(t))) return false;
    }
    return true;
  };
}
