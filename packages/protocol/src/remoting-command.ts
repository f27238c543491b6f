import { LanguageCode, MQVersion, languageName } from './codes.js';
import { ProtocolError } from './errors.js';

/** Header serialisation: the high byte of the frame's second int32. */
export const SerializeType = { JSON: 0, ROCKETMQ: 1 } as const;
export type SerializeType = (typeof SerializeType)[keyof typeof SerializeType];

/** Flag bits. */
export const RPC_RESPONSE = 1;
export const RPC_ONEWAY = 2;

/**
 * extFields as received: RocketMQ's Java side always sends strings, other clients sometimes send
 * JSON numbers or booleans. Typed header codecs (headers.ts) coerce.
 */
export type ExtValue = string | number | boolean;
export type ExtFields = Record<string, ExtValue>;

let opaqueCounter = 0;
/** Process-wide request id, as Java does (wraps at int32). */
export function nextOpaque(): number {
  opaqueCounter = (opaqueCounter + 1) | 0;
  return opaqueCounter;
}

export class RemotingCommand {
  code: number;
  language: string = 'OTHER';
  version: number = MQVersion.CURRENT;
  opaque: number;
  flag = 0;
  remark: string | null = null;
  extFields: ExtFields | null;
  body: Buffer | null;
  /** How the header travels; replies use the request's. */
  serializeType: SerializeType = SerializeType.JSON;

  constructor(code: number, opaque: number, extFields: ExtFields | null = null, body: Buffer | null = null) {
    this.code = code;
    this.opaque = opaque;
    this.extFields = extFields;
    this.body = body;
  }

  static request(code: number, extFields: ExtFields | null = null, body: Buffer | null = null): RemotingCommand {
    return new RemotingCommand(code, nextOpaque(), extFields, body);
  }

  /** A reply to `req`: same opaque, same serialisation, RESPONSE flag. */
  static responseTo(
    req: RemotingCommand,
    code: number,
    remark: string | null = null,
    extFields: ExtFields | null = null,
    body: Buffer | null = null,
  ): RemotingCommand {
    const r = new RemotingCommand(code, req.opaque, extFields, body);
    r.flag = RPC_RESPONSE;
    r.remark = remark;
    r.serializeType = req.serializeType;
    return r;
  }

  get isResponse(): boolean {
    return (this.flag & RPC_RESPONSE) !== 0;
  }

  get isOneway(): boolean {
    return (this.flag & RPC_ONEWAY) !== 0;
  }

  markOneway(): this {
    this.flag |= RPC_ONEWAY;
    return this;
  }

  /** An extField as text (undefined when absent), whatever JSON type it arrived as. */
  ext(name: string): string | undefined {
    const v = this.extFields?.[name];
    return v === undefined || v === null ? undefined : String(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Decodes one frame as handed out by FrameDecoder (without the leading length field). */
export function decodeCommand(frame: Buffer): RemotingCommand {
  if (frame.length < 4) throw new ProtocolError(`frame of ${frame.length} bytes has no header length`);
  const word = frame.readInt32BE(0);
  const type = (word >>> 24) & 0xff;
  const headerLen = word & 0xffffff;
  if (headerLen > frame.length - 4) {
    throw new ProtocolError(`header length ${headerLen} exceeds the frame (${frame.length - 4} bytes after the length word)`);
  }
  let cmd: RemotingCommand;
  if (type === SerializeType.ROCKETMQ) cmd = decodeRocketmqHeader(frame, 4, 4 + headerLen);
  else if (type === SerializeType.JSON) cmd = parseJsonHeader(frame, 4, 4 + headerLen) ?? decodeJsonHeader(frame.subarray(4, 4 + headerLen));
  else throw new ProtocolError(`unknown serialize type ${type}`);
  cmd.serializeType = type;
  const bodyLen = frame.length - 4 - headerLen;
  cmd.body = bodyLen > 0 ? frame.subarray(4 + headerLen) : null;
  return cmd;
}

function int32Field(o: Record<string, unknown>, name: string, required: boolean): number {
  const v = o[name];
  if (v === undefined || v === null) {
    if (required) throw new ProtocolError(`JSON header has no "${name}"`);
    return 0;
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw new ProtocolError(`JSON header field "${name}" is not an integer`);
  return n | 0;
}

/** The general JSON header decoder (JSON.parse, then the fields); parseJsonHeader's reference. */
export function decodeJsonHeader(header: Buffer): RemotingCommand {
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch (e) {
    throw new ProtocolError(`JSON header does not parse: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ProtocolError('JSON header is not an object');
  const o = parsed as Record<string, unknown>;
  const code = o['code'];
  if (typeof code !== 'number' && typeof code !== 'string') throw new ProtocolError('JSON header has no "code"');
  const cmd = new RemotingCommand(int32Field(o, 'code', true), int32Field(o, 'opaque', false));
  cmd.flag = int32Field(o, 'flag', false);
  cmd.version = int32Field(o, 'version', false);
  const lang = o['language'];
  if (typeof lang === 'string') cmd.language = lang;
  else if (typeof lang === 'number') cmd.language = languageName(lang);
  const remark = o['remark'];
  if (typeof remark === 'string') cmd.remark = remark;
  const ext = o['extFields'];
  if (ext !== undefined && ext !== null) {
    if (typeof ext !== 'object' || Array.isArray(ext)) throw new ProtocolError('"extFields" is not an object');
    // Use the parsed object as is; only odd values (nested JSON, null) are fixed up in place.
    const fields = ext as Record<string, unknown>;
    for (const k in fields) {
      const v = fields[k];
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') continue;
      if (v === null || v === undefined) delete fields[k];
      else fields[k] = JSON.stringify(v);
    }
    cmd.extFields = fields as ExtFields;
  }
  return cmd;
}

// ---------------------------------------------------------------------------------------------
// JSON header fast path
//
// What Java clients send (fastjson, remoting.md §1.3) has one shape: an object with code, extFields
// (an object of string values), flag, language, opaque, remark, serializeTypeCurrentRPC and version,
// integers as plain digits, no whitespace. parseJsonHeader reads that shape straight off the frame
// bytes, without decoding the header to a string, JSON.parse and a walk over the result. It gives
// the same command decodeJsonHeader would, and returns null (nothing decided) on anything it does
// not handle itself: numbers or nested values in extFields, exponents and fractions, unknown keys
// with object values, a "__proto__" key, malformed JSON. decodeJsonHeader then takes the header as
// before, errors included.

const Q = 0x22; // "
const BS = 0x5c; // \

/** Index after JSON whitespace from p. */
function skipWs(h: Buffer, p: number, end: number): number {
  while (p < end) {
    const c = h[p]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    p++;
  }
  return p;
}

/** Parse cursor: where the last token ended (-1 after a failure). */
let jp = 0;

/**
 * A JSON integer of at most 15 digits at p (exact as a double), as int32 the way int32Field
 * narrows it (`n | 0`); sets jp after it. NaN for anything else (fraction, exponent, no digits).
 */
function jsonInt(h: Buffer, p: number, end: number): number {
  let neg = false;
  if (p < end && h[p] === 0x2d) {
    neg = true;
    p++;
  }
  const start = p;
  let v = 0;
  while (p < end) {
    const d = h[p]! - 0x30;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    p++;
  }
  const n = p - start;
  if (n === 0 || n > 15) return NaN;
  if (n > 1 && h[start] === 0x30) return NaN; // leading zero: not JSON
  if (p < end) {
    const c = h[p]!;
    if (c === 0x2e || c === 0x65 || c === 0x45) return NaN;
  }
  jp = p;
  return (neg ? -v : v) | 0;
}

/** One-character ASCII strings, made once ("0".."9" and single letters are common header values). */
const ONE_CHAR: string[] = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));

/**
 * The JSON string whose opening quote is at p; sets jp after the closing quote. null when it is
 * not a well-formed string (raw control character, bad escape, no end). One pass finds the end,
 * whether it is ASCII and has escapes, and the intern hash; short plain ASCII is then looked up in
 * readHeaderString's table, longer is sliced, and a string with escapes goes to JSON.parse on its
 * own. Numbers of up to DIGITS_INTERNED digits are interned ("0", "4", "20000": they repeat from
 * request to request); longer ones starting with a digit (offsets, timestamps, offset msgIds) are
 * sliced: nearly every one is new, and a new string kept in the table until a later one takes its
 * slot outlives the young generation, so the table would move garbage into the old generation
 * (measured in a Java-framed send run: a reply's msgId and queueOffset per message).
 */
function jsonString(h: Buffer, p: number, end: number): string | null {
  const start = p + 1;
  let i = start;
  let hi = 0;
  let x = 0;
  for (;;) {
    if (i >= end) return null;
    const c = h[i]!;
    if (c === Q) break;
    if (c === BS) return jsonEscapedString(h, start, end);
    if (c < 0x20) return null;
    hi |= c;
    x = Math.imul(x ^ c, 0x01000193);
    i++;
  }
  jp = i + 1;
  const n = i - start;
  if (n === 0) return '';
  if (hi >= 0x80) return (h as unknown as Latin1Sliceable).utf8Slice(start, i);
  if (n === 1) return ONE_CHAR[h[start]!]!;
  if (n > INTERN_MAX || (n > DIGITS_INTERNED && h[start]! <= 0x39)) return (h as unknown as Latin1Sliceable).latin1Slice(start, i);
  return internAscii(h, start, i, x);
}

/** Strings starting with a digit are interned up to this length (see jsonString). */
const DIGITS_INTERNED = 5;

/** Scratch for unescaping a header string in place (headers are small; longer strings take JSON.parse). */
const UNESCAPE_MAX = 4096;
const unescapeBuf = Buffer.allocUnsafe(UNESCAPE_MAX);
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;
/** Single-character escapes and the byte each stands for (0 = not one). */
const SIMPLE_ESCAPE = new Uint8Array(128);
SIMPLE_ESCAPE[0x22] = 0x22; // \"
SIMPLE_ESCAPE[0x5c] = 0x5c; // \\
SIMPLE_ESCAPE[0x2f] = 0x2f; // \/
SIMPLE_ESCAPE[0x62] = 0x08; // \b
SIMPLE_ESCAPE[0x66] = 0x0c; // \f
SIMPLE_ESCAPE[0x6e] = 0x0a; // \n
SIMPLE_ESCAPE[0x72] = 0x0d; // \r
SIMPLE_ESCAPE[0x74] = 0x09; // \t

/**
 * A string with escapes, from its first byte at start. The usual case (fastjson writes a message's
 * property separators as \u0001 and \u0002) is unescaped byte by byte into a scratch buffer and
 * sliced once; escapes of characters beyond ASCII, raw control bytes and long strings take
 * JSON.parse of the literal, which also settles what is malformed.
 */
function jsonEscapedString(h: Buffer, start: number, end: number): string | null {
  let i = start;
  let o = 0;
  let simple = true;
  let hi = 0;
  while (i < end) {
    const c = h[i]!;
    if (c === Q) break;
    if (c === BS) {
      const e = h[i + 1] ?? 0;
      if (simple) {
        if (e === 0x75 && i + 5 < end) {
          const a = HEX[h[i + 2]! & 0x7f]!;
          const b = HEX[h[i + 3]! & 0x7f]!;
          const d = HEX[h[i + 4]! & 0x7f]!;
          const f = HEX[h[i + 5]! & 0x7f]!;
          // \u00XX below 0x80 only: one byte, the same in latin1 and UTF-8.
          if ((h[i + 2]! | h[i + 3]! | h[i + 4]! | h[i + 5]!) < 0x80 && a === 0 && b === 0 && d >= 0 && d < 8 && f >= 0 && o < UNESCAPE_MAX) {
            unescapeBuf[o++] = (d << 4) | f;
            i += 6;
            continue;
          }
          simple = false;
        } else if (e < 0x80 && SIMPLE_ESCAPE[e]! !== 0 && o < UNESCAPE_MAX) {
          unescapeBuf[o++] = SIMPLE_ESCAPE[e]!;
          i += 2;
          continue;
        } else {
          simple = false;
        }
      }
      i += 2;
      continue;
    }
    if (c < 0x20) simple = false;
    if (simple) {
      if (o < UNESCAPE_MAX) unescapeBuf[o++] = c;
      else simple = false;
    }
    hi |= c;
    i++;
  }
  if (i >= end) return null;
  jp = i + 1;
  if (simple) {
    const u = unescapeBuf as unknown as Latin1Sliceable;
    return hi < 0x80 ? u.latin1Slice(0, o) : u.utf8Slice(0, o);
  }
  try {
    return JSON.parse((h as unknown as Latin1Sliceable).utf8Slice(start - 1, i + 1)) as string;
  } catch {
    return null;
  }
}

/** True when h[p, p + name.length) is the ASCII `name` followed by a closing quote. */
function keyIs(h: Buffer, p: number, end: number, name: string): boolean {
  const n = name.length;
  if (p + n >= end || h[p + n] !== Q) return false;
  for (let k = 0; k < n; k++) if (h[p + k] !== name.charCodeAt(k)) return false;
  return true;
}

/** True when h[p, ...) starts with the ASCII word `w`. */
function literalAt(h: Buffer, p: number, end: number, w: string): boolean {
  const n = w.length;
  if (p + n > end) return false;
  for (let k = 0; k < n; k++) if (h[p + k] !== w.charCodeAt(k)) return false;
  return true;
}

/** The extFields object whose '{' is at p (string and boolean values; null values dropped); sets jp. */
function jsonExtFields(h: Buffer, p: number, end: number): ExtFields | null {
  const fields: ExtFields = {};
  p = skipWs(h, p + 1, end);
  if (p < end && h[p] === 0x7d) {
    jp = p + 1;
    return fields;
  }
  for (;;) {
    if (p >= end || h[p] !== Q) return null;
    const key = jsonString(h, p, end);
    if (key === null || key === '__proto__') return null;
    p = skipWs(h, jp, end);
    if (p >= end || h[p] !== 0x3a) return null;
    p = skipWs(h, p + 1, end);
    if (p >= end) return null;
    const c = h[p]!;
    if (c === Q) {
      const v = jsonString(h, p, end);
      if (v === null) return null;
      fields[key] = v;
      p = jp;
    } else if (c === 0x74 && literalAt(h, p, end, 'true')) {
      fields[key] = true;
      p += 4;
    } else if (c === 0x66 && literalAt(h, p, end, 'false')) {
      fields[key] = false;
      p += 5;
    } else if (c === 0x6e && literalAt(h, p, end, 'null')) {
      // JSON.parse would keep it and decodeJsonHeader then drops it; a later duplicate still wins.
      delete fields[key];
      p += 4;
    } else {
      return null; // numbers, objects, arrays: the general path
    }
    p = skipWs(h, p, end);
    if (p >= end) return null;
    const d = h[p++]!;
    if (d === 0x7d) {
      jp = p;
      return fields;
    }
    if (d !== 0x2c) return null;
    p = skipWs(h, p, end);
  }
}

/** The command in the JSON header h[start, end), or null to let decodeJsonHeader decide. */
export function parseJsonHeader(h: Buffer, start: number, end: number): RemotingCommand | null {
  let p = skipWs(h, start, end);
  if (p >= end || h[p] !== 0x7b) return null;
  p = skipWs(h, p + 1, end);
  let code = NaN;
  let opaque = 0;
  let flag = 0;
  let version = 0;
  let language: string | null = null;
  let remark: string | null = null;
  let ext: ExtFields | null = null;
  if (p < end && h[p] === 0x7d) return null;
  for (;;) {
    if (p >= end || h[p] !== Q) return null;
    const k = p + 1;
    p = k;
    while (p < end && h[p] !== Q) {
      if (h[p] === BS) return null;
      p++;
    }
    if (p >= end) return null;
    const klen = p - k;
    p = skipWs(h, p + 1, end);
    if (p >= end || h[p] !== 0x3a) return null;
    p = skipWs(h, p + 1, end);
    if (p >= end) return null;
    const c = h[p]!;
    const k0 = h[k]!;
    // Known keys by length and first letter, then checked in full.
    if (klen === 4 && k0 === 0x63 && keyIs(h, k, end, 'code')) {
      code = jsonInt(h, p, end);
      if (code !== code) return null;
      p = jp;
    } else if (klen === 9 && k0 === 0x65 && keyIs(h, k, end, 'extFields')) {
      if (c === 0x7b) {
        ext = jsonExtFields(h, p, end);
        if (ext === null) return null;
        p = jp;
      } else if (c === 0x6e && literalAt(h, p, end, 'null')) {
        ext = null;
        p += 4;
      } else {
        return null;
      }
    } else if (klen === 4 && k0 === 0x66 && keyIs(h, k, end, 'flag')) {
      flag = jsonInt(h, p, end);
      if (flag !== flag) return null;
      p = jp;
    } else if (klen === 8 && k0 === 0x6c && keyIs(h, k, end, 'language')) {
      if (c !== Q) return null;
      language = jsonString(h, p, end);
      if (language === null) return null;
      p = jp;
    } else if (klen === 6 && k0 === 0x6f && keyIs(h, k, end, 'opaque')) {
      opaque = jsonInt(h, p, end);
      if (opaque !== opaque) return null;
      p = jp;
    } else if (klen === 6 && k0 === 0x72 && keyIs(h, k, end, 'remark')) {
      if (c === Q) {
        remark = jsonString(h, p, end);
        if (remark === null) return null;
        p = jp;
      } else if (c === 0x6e && literalAt(h, p, end, 'null')) {
        remark = null;
        p += 4;
      } else {
        return null;
      }
    } else if (klen === 7 && k0 === 0x76 && keyIs(h, k, end, 'version')) {
      version = jsonInt(h, p, end);
      if (version !== version) return null;
      p = jp;
    } else if (c === Q) {
      // serializeTypeCurrentRPC and any other string-valued key: read over and ignored.
      if (jsonString(h, p, end) === null) return null;
      p = jp;
    } else {
      return null;
    }
    p = skipWs(h, p, end);
    if (p >= end) return null;
    const d = h[p++]!;
    if (d === 0x7d) break;
    if (d !== 0x2c) return null;
    p = skipWs(h, p, end);
  }
  if (skipWs(h, p, end) !== end || code !== code) return null;
  const cmd = new RemotingCommand(code, opaque, ext);
  cmd.flag = flag;
  cmd.version = version;
  if (language !== null) cmd.language = language;
  cmd.remark = remark;
  return cmd;
}

/**
 * Header strings repeat from request to request (group, topic, "TBW102", "0", "false", field
 * names): short ASCII ones are looked up in a small table keyed by their bytes and the same string
 * is handed out again, with no allocation; anything else is decoded natively.
 */
const INTERN_SLOTS = 4096;
const INTERN_MAX = 48;
const internTable: string[] = new Array<string>(INTERN_SLOTS).fill('');

/** Node's Buffer has latin1Slice (what toString('latin1') ends in) without the argument checks; not in @types/node. */
interface Latin1Sliceable {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

function readHeaderString(h: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  if (n > INTERN_MAX) return h.toString('utf8', start, end);
  // Values starting with a digit (offsets, timestamps, most msgIds) rarely repeat: interning them
  // would only cost a hash and evict names that do repeat.
  const b0 = h[start]!;
  if (b0 >= 0x30 && b0 <= 0x39) return (h as unknown as Latin1Sliceable).utf8Slice(start, end);
  let x = 0;
  for (let i = start; i < end; i++) {
    const b = h[i]!;
    if (b >= 0x80) return h.toString('utf8', start, end);
    x = Math.imul(x ^ b, 0x01000193);
  }
  return internAscii(h, start, end, x);
}

/** The interned string for the ASCII bytes h[start, end) whose running hash is x. */
function internAscii(h: Buffer, start: number, end: number, x: number): string {
  const n = end - start;
  x ^= n;
  const slot = (x ^ (x >>> 15)) & (INTERN_SLOTS - 1);
  const cached = internTable[slot]!;
  if (cached.length === n) {
    let j = 0;
    while (j < n && cached.charCodeAt(j) === h[start + j]) j++;
    if (j === n) return cached;
  }
  const fresh = (h as unknown as Latin1Sliceable).latin1Slice(start, end);
  internTable[slot] = fresh;
  return fresh;
}

function int32At(h: Buffer, p: number): number {
  return (h[p]! << 24) | (h[p + 1]! << 16) | (h[p + 2]! << 8) | h[p + 3]!;
}

/** The ROCKETMQ header in frame[start, end) (remoting.md §1.4). */
function decodeRocketmqHeader(h: Buffer, start: number, end: number): RemotingCommand {
  if (end - start < 21) throw new ProtocolError(`ROCKETMQ header of ${end - start} bytes is shorter than 21`);
  const code = ((h[start]! << 24) | (h[start + 1]! << 16)) >> 16;
  const lang = h[start + 2]!;
  const version = ((h[start + 3]! << 24) | (h[start + 4]! << 16)) >> 16;
  const opaque = int32At(h, start + 5);
  const flag = int32At(h, start + 9);
  const remarkLen = int32At(h, start + 13);
  let pos = start + 17;
  if (remarkLen < 0 || remarkLen > end - pos - 4) throw new ProtocolError(`remark length ${remarkLen} exceeds the header`);
  const cmd = new RemotingCommand(code, opaque);
  cmd.language = languageName(lang);
  cmd.version = version;
  cmd.flag = flag;
  if (remarkLen > 0) cmd.remark = h.toString('utf8', pos, pos + remarkLen);
  pos += remarkLen;
  const extLen = int32At(h, pos);
  pos += 4;
  if (extLen < 0 || extLen > end - pos) throw new ProtocolError(`extFields length ${extLen} exceeds the header`);
  if (extLen > 0) {
    const extEnd = pos + extLen;
    const fields: ExtFields = {};
    while (pos < extEnd) {
      if (extEnd - pos < 2) throw new ProtocolError('truncated extFields key length');
      const kl = ((h[pos]! << 24) | (h[pos + 1]! << 16)) >> 16;
      pos += 2;
      if (kl < 0 || extEnd - pos < kl + 4) throw new ProtocolError('truncated extFields key');
      const key = readHeaderString(h, pos, pos + kl);
      pos += kl;
      const vl = int32At(h, pos);
      pos += 4;
      if (vl < 0 || extEnd - pos < vl) throw new ProtocolError('truncated extFields value');
      fields[key] = readHeaderString(h, pos, pos + vl);
      pos += vl;
    }
    cmd.extFields = fields;
  }
  return cmd;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** The JSON header text exactly as fastjson lays it out (fields in alphabetical order). */
export function jsonHeaderText(cmd: RemotingCommand): string {
  let s = '{"code":' + cmd.code;
  if (cmd.extFields !== null) s += ',"extFields":' + extFieldsJson(cmd.extFields);
  s += ',"flag":' + cmd.flag + ',"language":' + JSON.stringify(cmd.language) + ',"opaque":' + cmd.opaque;
  if (cmd.remark !== null) s += ',"remark":' + JSON.stringify(cmd.remark);
  return s + ',"serializeTypeCurrentRPC":"JSON","version":' + cmd.version + '}';
}

/** extFields always go out as strings, as Java writes them. */
function extFieldsJson(ext: ExtFields): string {
  let s = '{';
  let first = true;
  for (const k in ext) {
    const v = ext[k];
    if (v === undefined || v === null) continue;
    s += (first ? '"' : ',"') + (needsEscape(k) ? JSON.stringify(k).slice(1, -1) : k) + '":';
    s += typeof v === 'string' && !needsEscape(v) ? '"' + v + '"' : JSON.stringify(String(v));
    first = false;
  }
  return s + '}';
}

function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/** UTF-8 byte length; short ASCII strings (the usual header field) are measured without a native call. */
function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return n;
}

/** Writes a string whose UTF-8 length is `len` at `pos`; ASCII goes byte by byte, the rest natively. */
function writeUtf8(buf: Buffer, s: string, pos: number, len: number): void {
  if (len === s.length && len <= 64) {
    for (let i = 0; i < len; i++) buf[pos + i] = s.charCodeAt(i);
  } else {
    buf.write(s, pos, len, 'utf8');
  }
}

/** Bytes of the extFields section of a ROCKETMQ header (6 + key + value per field). */
function rocketmqExtLength(ext: ExtFields | null): number {
  let extLen = 0;
  if (ext !== null) {
    for (const k in ext) {
      const v = ext[k];
      if (v === undefined || v === null) continue;
      extLen += 6 + utf8Length(k) + utf8Length(typeof v === 'string' ? v : String(v));
    }
  }
  return extLen;
}

/**
 * Writes a whole frame prefix with a ROCKETMQ (binary) header at `out[pos]`: length, type word,
 * then the header laid out as remoting.md §1.4 says. The caller has checked the room
 * (8 + headerLen bytes). Returns the position after the prefix.
 */
function writeRocketmqPrefix(out: Buffer, pos: number, cmd: RemotingCommand, remark: string, remarkLen: number, extLen: number, bodyLength: number): number {
  const headerLen = 21 + remarkLen + extLen;
  out.writeInt32BE(4 + headerLen + bodyLength, pos);
  out.writeInt32BE((SerializeType.ROCKETMQ << 24) | headerLen, pos + 4);
  out.writeInt16BE((cmd.code << 16) >> 16, pos + 8); // Java truncates codes above 32767 the same way
  out[pos + 10] = (LanguageCode as Record<string, number>)[cmd.language] ?? LanguageCode.OTHER;
  out.writeInt16BE((cmd.version << 16) >> 16, pos + 11);
  out.writeInt32BE(cmd.opaque | 0, pos + 13);
  out.writeInt32BE(cmd.flag | 0, pos + 17);
  out.writeInt32BE(remarkLen, pos + 21);
  let p = pos + 25;
  if (remarkLen > 0) writeUtf8(out, remark, p, remarkLen);
  p += remarkLen;
  out.writeInt32BE(extLen, p);
  p += 4;
  const ext = cmd.extFields;
  if (ext !== null) {
    for (const k in ext) {
      const v = ext[k];
      if (v === undefined || v === null) continue;
      const sv = typeof v === 'string' ? v : String(v);
      const kl = utf8Length(k);
      const vl = utf8Length(sv);
      out.writeInt16BE(kl, p);
      writeUtf8(out, k, p + 2, kl);
      p += 2 + kl;
      out.writeInt32BE(vl, p);
      writeUtf8(out, sv, p + 4, vl);
      p += 4 + vl;
    }
  }
  return p;
}

function rocketmqPrefix(cmd: RemotingCommand, bodyLength: number): Buffer {
  const remark = cmd.remark === null ? '' : cmd.remark;
  const remarkLen = utf8Length(remark);
  const extLen = rocketmqExtLength(cmd.extFields);
  const out = Buffer.allocUnsafe(29 + remarkLen + extLen);
  writeRocketmqPrefix(out, 0, cmd, remark, remarkLen, extLen, bodyLength);
  return out;
}

/**
 * The frame prefix for `cmd`: length, serialize-type word and header, sized for a body of
 * `bodyLength` bytes that the caller writes right after (so large bodies are never copied).
 */
export function encodeCommandPrefix(cmd: RemotingCommand, bodyLength: number): Buffer {
  if (cmd.serializeType === SerializeType.ROCKETMQ) return rocketmqPrefix(cmd, bodyLength);
  const text = jsonHeaderText(cmd);
  const hl = Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(8 + hl);
  out.writeInt32BE(4 + hl + bodyLength, 0);
  out.writeInt32BE(hl, 4);
  out.write(text, 8, 'utf8');
  return out;
}

/**
 * The same bytes as `encodeCommandPrefix`, written into `out` at `pos` (an output buffer the
 * connection batches replies in). Returns the position after the prefix, or -1 when it does not
 * fit in `out[pos, out.length)` (nothing is written then).
 */
export function encodeCommandPrefixInto(cmd: RemotingCommand, bodyLength: number, out: Buffer, pos: number): number {
  if (cmd.serializeType === SerializeType.ROCKETMQ) {
    const fast = writeRocketmqPrefixAscii(out, pos, cmd, bodyLength);
    if (fast >= 0) return fast;
    const remark = cmd.remark === null ? '' : cmd.remark;
    const remarkLen = utf8Length(remark);
    const extLen = rocketmqExtLength(cmd.extFields);
    if (pos + 29 + remarkLen + extLen > out.length) return -1;
    return writeRocketmqPrefix(out, pos, cmd, remark, remarkLen, extLen, bodyLength);
  }
  const fast = writeJsonPrefixAscii(out, pos, cmd, bodyLength);
  if (fast >= 0) return fast;
  const text = jsonHeaderText(cmd);
  // JSON header text is ASCII unless a value is not; only then is the UTF-8 length measured natively.
  const hl = isAscii(text) ? text.length : Buffer.byteLength(text, 'utf8');
  if (pos + 8 + hl > out.length) return -1;
  out.writeInt32BE(4 + hl + bodyLength, pos);
  out.writeInt32BE(hl, pos + 4);
  if (hl === text.length) out.write(text, pos + 8, hl, 'latin1');
  else out.write(text, pos + 8, hl, 'utf8');
  return pos + 8 + hl;
}

/** Writes ASCII `s` at `p`; -1 when it is not ASCII or does not fit below `limit`. */
function asciiAt(out: Buffer, p: number, s: string, limit: number): number {
  const n = s.length;
  if (p + n > limit) return -1;
  if (n > 24 && p + n + 4 <= limit) {
    // Long strings: one native UTF-8 write. It is ASCII exactly when it took n bytes: with 4 bytes
    // of room to spare, a non-ASCII character would have made it write more than n.
    return out.write(s, p, n + 4, 'utf8') === n ? p + n : -1;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    out[p + i] = c;
  }
  return p + n;
}

function putInt32(out: Buffer, p: number, v: number): void {
  out[p] = v >>> 24;
  out[p + 1] = v >>> 16;
  out[p + 2] = v >>> 8;
  out[p + 3] = v;
}

/**
 * The usual case of writeRocketmqPrefix in one pass: every string ASCII, so byte lengths are
 * known once written and are filled in behind. Returns -1 (having written nothing that counts)
 * when a string is not ASCII or the room runs out; the caller then takes the measured path.
 */
function writeRocketmqPrefixAscii(out: Buffer, pos: number, cmd: RemotingCommand, bodyLength: number): number {
  const limit = out.length;
  if (pos + 29 > limit) return -1;
  const code = (cmd.code << 16) >> 16; // Java truncates codes above 32767 the same way
  out[pos + 8] = code >>> 8;
  out[pos + 9] = code;
  out[pos + 10] = (LanguageCode as Record<string, number>)[cmd.language] ?? LanguageCode.OTHER;
  const version = (cmd.version << 16) >> 16;
  out[pos + 11] = version >>> 8;
  out[pos + 12] = version;
  putInt32(out, pos + 13, cmd.opaque | 0);
  putInt32(out, pos + 17, cmd.flag | 0);
  let p = pos + 25;
  if (cmd.remark !== null) {
    p = asciiAt(out, p, cmd.remark, limit);
    if (p < 0) return -1;
  }
  putInt32(out, pos + 21, p - pos - 25);
  const extLenAt = p;
  p += 4;
  const ext = cmd.extFields;
  if (ext !== null) {
    for (const k in ext) {
      const v = ext[k];
      if (v === undefined || v === null) continue;
      const ke = asciiAt(out, p + 2, k, limit);
      if (ke < 0 || ke - p - 2 > 32767 || ke + 4 > limit) return -1;
      const kl = ke - p - 2;
      out[p] = kl >>> 8;
      out[p + 1] = kl;
      const ve = asciiAt(out, ke + 4, typeof v === 'string' ? v : String(v), limit);
      if (ve < 0) return -1;
      putInt32(out, ke, ve - ke - 4);
      p = ve;
    }
  }
  if (p > limit) return -1;
  putInt32(out, extLenAt, p - extLenAt - 4);
  const headerLen = p - pos - 8;
  putInt32(out, pos, 4 + headerLen + bodyLength);
  putInt32(out, pos + 4, (SerializeType.ROCKETMQ << 24) | headerLen);
  return p;
}

/** The short escapes JSON.stringify writes for control characters (0 = none: \u00xx). */
const SHORT_ESCAPE: number[] = Array.from({ length: 32 }, () => 0);
SHORT_ESCAPE[0x08] = 0x62; // \b
SHORT_ESCAPE[0x09] = 0x74; // \t
SHORT_ESCAPE[0x0a] = 0x6e; // \n
SHORT_ESCAPE[0x0c] = 0x66; // \f
SHORT_ESCAPE[0x0d] = 0x72; // \r
const LOWER_HEX = '0123456789abcdef';

/**
 * Writes ASCII `s` at `p` as the inside of a JSON string, escaped as JSON.stringify escapes it
 * (quote, backslash, control characters: the 0x01/0x02 property separators become \u0001 and
 * \u0002); -1 when `s` has a character beyond ASCII or it does not fit.
 */
function jsonPlainAt(out: Buffer, p: number, s: string, limit: number): number {
  const n = s.length;
  if (p + n > limit) return -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      if (c > 0x7f || p >= limit) return -1;
      out[p++] = c;
      continue;
    }
    if (p + 6 > limit) return -1;
    out[p++] = 0x5c;
    if (c >= 0x20) {
      out[p++] = c; // \" or \\
    } else if (SHORT_ESCAPE[c] !== 0) {
      out[p++] = SHORT_ESCAPE[c]!;
    } else {
      out[p++] = 0x75;
      out[p++] = 0x30;
      out[p++] = 0x30;
      out[p++] = LOWER_HEX.charCodeAt(c >> 4);
      out[p++] = LOWER_HEX.charCodeAt(c & 15);
    }
  }
  return p;
}

/** Writes the decimal digits of a safe integer at `p`; -1 when it is not one or does not fit. */
function jsonIntAt(out: Buffer, p: number, v: number, limit: number): number {
  if (!Number.isSafeInteger(v)) return -1;
  if (v >= 0 && v < 10) {
    if (p >= limit) return -1;
    out[p] = 0x30 + v;
    return p + 1;
  }
  return asciiAt(out, p, String(v), limit);
}

// The constant pieces of the header, in fastjson's field order.
const J_CODE = '{"code":';
const J_EXT = ',"extFields":{';
const J_FLAG = ',"flag":';
const J_LANG = ',"language":"';
const J_OPAQUE = '","opaque":';
const J_REMARK = ',"remark":"';
const J_TAIL = ',"serializeTypeCurrentRPC":"JSON","version":';

/**
 * The JSON (fastjson-shaped) header prefix written straight into `out`, the same bytes as
 * jsonHeaderText gives, without building the text: for the usual header, whose strings are ASCII
 * (escapes included). Returns -1 (nothing that counts written) otherwise or when the room runs
 * out; the caller then takes the text path.
 */
function writeJsonPrefixAscii(out: Buffer, pos: number, cmd: RemotingCommand, bodyLength: number): number {
  const limit = out.length;
  let p = asciiAt(out, pos + 8, J_CODE, limit);
  if (p < 0) return -1;
  p = jsonIntAt(out, p, cmd.code, limit);
  if (p < 0) return -1;
  const ext = cmd.extFields;
  if (ext !== null) {
    p = asciiAt(out, p, J_EXT, limit);
    if (p < 0) return -1;
    let first = true;
    for (const k in ext) {
      const v = ext[k];
      if (v === undefined || v === null) continue;
      if (p + 6 > limit) return -1;
      if (!first) out[p++] = 0x2c;
      out[p++] = 0x22;
      p = jsonPlainAt(out, p, k, limit);
      if (p < 0 || p + 3 > limit) return -1;
      out[p++] = 0x22;
      out[p++] = 0x3a;
      out[p++] = 0x22;
      p = jsonPlainAt(out, p, typeof v === 'string' ? v : String(v), limit);
      if (p < 0 || p >= limit) return -1;
      out[p++] = 0x22;
      first = false;
    }
    if (p >= limit) return -1;
    out[p++] = 0x7d;
  }
  p = asciiAt(out, p, J_FLAG, limit);
  if (p < 0) return -1;
  p = jsonIntAt(out, p, cmd.flag, limit);
  if (p < 0) return -1;
  p = asciiAt(out, p, J_LANG, limit);
  if (p < 0) return -1;
  p = jsonPlainAt(out, p, cmd.language, limit);
  if (p < 0) return -1;
  p = asciiAt(out, p, J_OPAQUE, limit);
  if (p < 0) return -1;
  p = jsonIntAt(out, p, cmd.opaque, limit);
  if (p < 0) return -1;
  if (cmd.remark !== null) {
    p = asciiAt(out, p, J_REMARK, limit);
    if (p < 0) return -1;
    p = jsonPlainAt(out, p, cmd.remark, limit);
    if (p < 0 || p >= limit) return -1;
    out[p++] = 0x22;
  }
  p = asciiAt(out, p, J_TAIL, limit);
  if (p < 0) return -1;
  p = jsonIntAt(out, p, cmd.version, limit);
  if (p < 0 || p >= limit) return -1;
  out[p++] = 0x7d;
  const headerLen = p - pos - 8;
  putInt32(out, pos, 4 + headerLen + bodyLength);
  putInt32(out, pos + 4, headerLen); // serialize type JSON (0) in the high byte
  return p;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The whole frame in one buffer (length field included). */
export function encodeCommand(cmd: RemotingCommand): Buffer {
  const bodyLen = cmd.body?.length ?? 0;
  const prefix = encodeCommandPrefix(cmd, bodyLen);
  return bodyLen === 0 ? prefix : Buffer.concat([prefix, cmd.body!], prefix.length + bodyLen);
}
