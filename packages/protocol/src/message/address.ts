// Host fields of a record: 4-byte IPv4 or 16-byte IPv6 address followed by an int32 port.
import type { SocketAddress } from '@rocketmq-ts/common';

/** Byte length of an address literal's binary form: 4 (IPv4, also IPv4-mapped IPv6) or 16 (IPv6). */
export function addressByteLength(address: string): 4 | 16 {
  return parseIPv4(address, undefined, 0) ? 4 : 16;
}

/**
 * Writes `address` (4 or 16 bytes) at `pos`; returns bytes written. IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`, common on Node sockets) is written as plain IPv4.
 */
export function writeAddress(buf: Buffer, pos: number, address: string): 4 | 16 {
  if (parseIPv4(address, buf, pos)) return 4;
  if (!parseIPv6(address, buf, pos)) throw new RangeError(`invalid IP address: ${address}`);
  return 16;
}

/**
 * The binary forms of the last few addresses written: every record carries a born host and a
 * store host, nearly always the same few strings, so they are parsed once, not per record.
 */
const ADDR_CACHE = 4;
const cachedAddr: string[] = new Array<string>(ADDR_CACHE).fill('');
const cachedBytes: Uint8Array[] = Array.from({ length: ADDR_CACHE }, () => new Uint8Array(16));
const cachedLen: number[] = new Array<number>(ADDR_CACHE).fill(0);
let cacheNext = 0;

/** Writes address + int32 port; returns bytes written (8 or 20). */
export function writeSocketAddress(buf: Buffer, pos: number, a: SocketAddress): number {
  const addr = a.address;
  let n = 0;
  for (let i = 0; i < ADDR_CACHE; i++) {
    if (cachedAddr[i] === addr && cachedLen[i] !== 0) {
      n = cachedLen[i]!;
      const b = cachedBytes[i]!;
      for (let j = 0; j < n; j++) buf[pos + j] = b[j]!;
      break;
    }
  }
  if (n === 0) {
    n = writeAddress(buf, pos, addr);
    const slot = cacheNext;
    cacheNext = (cacheNext + 1) % ADDR_CACHE;
    cachedAddr[slot] = addr;
    cachedLen[slot] = n;
    cachedBytes[slot]!.set(buf.subarray(pos, pos + n));
  }
  const port = a.port | 0;
  buf[pos + n] = port >>> 24;
  buf[pos + n + 1] = port >>> 16;
  buf[pos + n + 2] = port >>> 8;
  buf[pos + n + 3] = port;
  return n + 4;
}

/** Parses dotted IPv4 (optionally after a `::ffff:` prefix). Writes 4 bytes to buf when given. */
function parseIPv4(s: string, buf: Buffer | undefined, pos: number): boolean {
  let i = 0;
  if (s.length > 7 && s.charCodeAt(0) === 58 /* : */) {
    const lower = s.slice(0, 7).toLowerCase();
    if (lower !== '::ffff:') return false;
    i = 7;
  }
  let part = 0;
  let val = 0;
  let digits = 0;
  for (; i <= s.length; i++) {
    const c = i === s.length ? 46 : s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || val > 255 || part > 3) return false;
      if (buf !== undefined) buf[pos + part] = val;
      part++;
      val = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      val = val * 10 + (c - 48);
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

function parseIPv6(input: string, buf: Buffer, pos: number): boolean {
  let s = input;
  const pct = s.indexOf('%'); // zone id is not stored
  if (pct >= 0) s = s.slice(0, pct);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const words: number[] = [];
  let tail: number[] = [];
  let seenGap = false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const parseHalf = (h: string, out: number[], allowV4: boolean): boolean => {
    if (h.length === 0) return true;
    const parts = h.split(':');
    for (let k = 0; k < parts.length; k++) {
      const p = parts[k] as string;
      if (allowV4 && k === parts.length - 1 && p.includes('.')) {
        const b = Buffer.alloc(4);
        if (!parseIPv4(p, b, 0)) return false;
        out.push(((b[0] as number) << 8) | (b[1] as number), ((b[2] as number) << 8) | (b[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return false;
      out.push(Number.parseInt(p, 16));
    }
    return true;
  };
  if (halves.length === 2) {
    seenGap = true;
    if (!parseHalf(halves[0] as string, words, false)) return false;
    if (!parseHalf(halves[1] as string, tail, true)) return false;
  } else {
    if (!parseHalf(s, words, true)) return false;
    tail = [];
  }
  const total = words.length + tail.length;
  if (seenGap ? total > 7 : total !== 8) return false;
  const all = [...words, ...new Array<number>(8 - total).fill(0), ...tail];
  for (let k = 0; k < 8; k++) buf.writeUInt16BE(all[k] as number, pos + 2 * k);
  return true;
}

/** Formats 4 or 16 address bytes: dotted IPv4 or compressed lowercase IPv6. */
export function formatAddress(buf: Buffer, pos: number, len: 4 | 16): string {
  if (len === 4) return `${buf[pos]}.${buf[pos + 1]}.${buf[pos + 2]}.${buf[pos + 3]}`;
  const w: number[] = [];
  for (let k = 0; k < 8; k++) w.push(buf.readUInt16BE(pos + 2 * k));
  // Longest run of zero words (length ≥ 2) becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let k = 0; k < 8;) {
    if (w[k] !== 0) {
      k++;
      continue;
    }
    let j = k;
    while (j < 8 && w[j] === 0) j++;
    if (j - k > bestLen && j - k >= 2) {
      bestStart = k;
      bestLen = j - k;
    }
    k = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * The strings of the last few IPv4 addresses read: a pull body's records carry the same born and
 * store hosts over and over, so each is formatted once, not per record.
 */
const READ_CACHE = 4;
const readIp: number[] = new Array<number>(READ_CACHE).fill(-1);
const readStr: string[] = new Array<string>(READ_CACHE).fill('');
let readNext = 0;

function readIPv4(buf: Buffer, pos: number): string {
  const ip = buf.readUInt32BE(pos);
  for (let i = 0; i < READ_CACHE; i++) if (readIp[i] === ip) return readStr[i]!;
  const s = formatAddress(buf, pos, 4);
  readIp[readNext] = ip;
  readStr[readNext] = s;
  readNext = (readNext + 1) % READ_CACHE;
  return s;
}

/** Reads address + port written by writeSocketAddress. */
export function readSocketAddress(buf: Buffer, pos: number, len: 4 | 16): SocketAddress {
  return { address: len === 4 ? readIPv4(buf, pos) : formatAddress(buf, pos, len), port: buf.readInt32BE(pos + len) };
}
