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
  static responseTo(req: RemotingCommand, code: number, remark: string | null = null, extFields: ExtFields | null = null, body: Buffer | null = null): RemotingCommand {
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
  const header = frame.subarray(4, 4 + headerLen);
  let cmd: RemotingCommand;
  if (type === SerializeType.JSON) cmd = decodeJsonHeader(header);
  else if (type === SerializeType.ROCKETMQ) cmd = decodeRocketmqHeader(header);
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

function decodeJsonHeader(header: Buffer): RemotingCommand {
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

const ASCII: string[] = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

/** Header strings are short and nearly always ASCII: build those in JS, leave the rest to the native decoder. */
function readUtf8(h: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === 1) {
    const b = h[start]!;
    if (b < 0x80) return ASCII[b]!;
  } else if (n <= 24) {
    let s = '';
    for (let i = start; i < end; i++) {
      const b = h[i]!;
      if (b >= 0x80) return h.toString('utf8', start, end);
      s += ASCII[b]!;
    }
    return s;
  }
  return h.toString('utf8', start, end);
}

function decodeRocketmqHeader(h: Buffer): RemotingCommand {
  if (h.length < 21) throw new ProtocolError(`ROCKETMQ header of ${h.length} bytes is shorter than 21`);
  const code = h.readInt16BE(0);
  const lang = h.readUInt8(2);
  const version = h.readInt16BE(3);
  const opaque = h.readInt32BE(5);
  const flag = h.readInt32BE(9);
  const remarkLen = h.readInt32BE(13);
  let pos = 17;
  if (remarkLen < 0 || remarkLen > h.length - pos - 4) throw new ProtocolError(`remark length ${remarkLen} exceeds the header`);
  const cmd = new RemotingCommand(code, opaque);
  cmd.language = languageName(lang);
  cmd.version = version;
  cmd.flag = flag;
  if (remarkLen > 0) cmd.remark = h.toString('utf8', pos, pos + remarkLen);
  pos += remarkLen;
  const extLen = h.readInt32BE(pos);
  pos += 4;
  if (extLen < 0 || extLen > h.length - pos) throw new ProtocolError(`extFields length ${extLen} exceeds the header`);
  if (extLen > 0) {
    const end = pos + extLen;
    const fields: ExtFields = {};
    while (pos < end) {
      if (end - pos < 2) throw new ProtocolError('truncated extFields key length');
      const kl = h.readInt16BE(pos);
      pos += 2;
      if (kl < 0 || end - pos < kl + 4) throw new ProtocolError('truncated extFields key');
      const key = readUtf8(h, pos, pos + kl);
      pos += kl;
      const vl = h.readInt32BE(pos);
      pos += 4;
      if (vl < 0 || end - pos < vl) throw new ProtocolError('truncated extFields value');
      fields[key] = readUtf8(h, pos, pos + vl);
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
  } else buf.write(s, pos, len, 'utf8');
}

/**
 * A whole frame prefix with a ROCKETMQ (binary) header, written in one buffer: length, type
 * word, then the header laid out as remoting.md §1.4 says.
 */
function rocketmqPrefix(cmd: RemotingCommand, bodyLength: number): Buffer {
  const remark = cmd.remark === null ? '' : cmd.remark;
  const remarkLen = utf8Length(remark);
  const ext = cmd.extFields;
  let extLen = 0;
  if (ext !== null) {
    for (const k in ext) {
      const v = ext[k];
      if (v === undefined || v === null) continue;
      extLen += 6 + utf8Length(k) + utf8Length(typeof v === 'string' ? v : String(v));
    }
  }
  const headerLen = 21 + remarkLen + extLen;
  const out = Buffer.allocUnsafe(8 + headerLen);
  out.writeInt32BE(4 + headerLen + bodyLength, 0);
  out.writeInt32BE((SerializeType.ROCKETMQ << 24) | headerLen, 4);
  out.writeInt16BE((cmd.code << 16) >> 16, 8); // Java truncates codes above 32767 the same way
  out[10] = (LanguageCode as Record<string, number>)[cmd.language] ?? LanguageCode.OTHER;
  out.writeInt16BE((cmd.version << 16) >> 16, 11);
  out.writeInt32BE(cmd.opaque | 0, 13);
  out.writeInt32BE(cmd.flag | 0, 17);
  out.writeInt32BE(remarkLen, 21);
  let pos = 25;
  if (remarkLen > 0) writeUtf8(out, remark, pos, remarkLen);
  pos += remarkLen;
  out.writeInt32BE(extLen, pos);
  pos += 4;
  if (ext !== null) {
    for (const k in ext) {
      const v = ext[k];
      if (v === undefined || v === null) continue;
      const sv = typeof v === 'string' ? v : String(v);
      const kl = utf8Length(k);
      const vl = utf8Length(sv);
      out.writeInt16BE(kl, pos);
      writeUtf8(out, k, pos + 2, kl);
      pos += 2 + kl;
      out.writeInt32BE(vl, pos);
      writeUtf8(out, sv, pos + 4, vl);
      pos += 4 + vl;
    }
  }
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

/** The whole frame in one buffer (length field included). */
export function encodeCommand(cmd: RemotingCommand): Buffer {
  const bodyLen = cmd.body?.length ?? 0;
  const prefix = encodeCommandPrefix(cmd, bodyLen);
  return bodyLen === 0 ? prefix : Buffer.concat([prefix, cmd.body!], prefix.length + bodyLen);
}
