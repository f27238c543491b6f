import { ProtocolError } from './errors.js';

/**
 * JSON as fastjson (RocketMQ's Java serialiser) writes it. Besides standard JSON it produces
 * unquoted integer map keys (`{0:"10.0.0.1:10911"}`) and objects as map keys
 * (`{{"brokerName":"b","queueId":0,"topic":"t"}:12}`). The reader accepts all of these; the writer
 * emits them for Map values, so Java tools read what we send.
 *
 * Reading: an object whose keys are all strings or bare words/numbers becomes a plain object
 * (keys as strings); an object with any object- or array-valued key becomes a Map whose keys are
 * the parsed values. `jsonEntries` walks either form.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue } | Map<JsonValue, JsonValue>;

export function parseLenientJson(text: string): JsonValue {
  const p = new LenientParser(text);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.pos !== text.length) p.fail('unexpected trailing characters');
  return v;
}

/** [key, value] pairs of a parsed object or Map (keys of plain objects are strings). */
export function jsonEntries(v: unknown): [JsonValue, JsonValue][] {
  if (v instanceof Map) return [...(v as Map<JsonValue, JsonValue>).entries()];
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return Object.entries(v as Record<string, JsonValue>);
  return [];
}

const MAX_DEPTH = 512;

class LenientParser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(msg: string): never {
    throw new ProtocolError(`bad JSON at ${this.pos}: ${msg}`);
  }

  ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('nested too deeply');
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"' || c === "'") return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    if (this.s.startsWith('true', this.pos)) return ((this.pos += 4), true);
    if (this.s.startsWith('false', this.pos)) return ((this.pos += 5), false);
    if (this.s.startsWith('null', this.pos)) return ((this.pos += 4), null);
    return this.fail(c === undefined ? 'unexpected end' : `unexpected character ${JSON.stringify(c)}`);
  }

  object(depth: number): JsonValue {
    this.pos++; // {
    const plain: Record<string, JsonValue> = {};
    let map: Map<JsonValue, JsonValue> | null = null;
    this.ws();
    if (this.s[this.pos] === '}') return (this.pos++, plain);
    for (;;) {
      this.ws();
      let key: JsonValue;
      const c = this.s[this.pos];
      if (c === '"' || c === "'") key = this.string();
      else if (c === '{' || c === '[') key = this.value(depth + 1);
      else key = this.bareWord();
      this.ws();
      if (this.s[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      this.ws();
      const v = this.value(depth + 1);
      if (typeof key === 'object' && key !== null && map === null) {
        map = new Map(Object.entries(plain));
      }
      if (map !== null) map.set(key, v);
      else if (key === '__proto__') Object.defineProperty(plain, key, { value: v, enumerable: true, writable: true, configurable: true });
      else plain[key as string] = v;
      this.ws();
      const d = this.s[this.pos++];
      if (d === '}') return map ?? plain;
      if (d !== ',') this.fail('expected "," or "}"');
    }
  }

  bareWord(): string {
    const start = this.pos;
    const s = this.s;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (/[A-Za-z0-9_$.\-+]/.test(c)) this.pos++;
      else break;
    }
    if (this.pos === start) this.fail('expected a key');
    return s.slice(start, this.pos);
  }

  array(depth: number): JsonValue {
    this.pos++; // [
    const out: JsonValue[] = [];
    this.ws();
    if (this.s[this.pos] === ']') return (this.pos++, out);
    for (;;) {
      this.ws();
      out.push(this.value(depth + 1));
      this.ws();
      const d = this.s[this.pos++];
      if (d === ']') return out;
      if (d !== ',') this.fail('expected "," or "]"');
    }
  }

  string(): string {
    const q = this.s[this.pos]!;
    const s = this.s;
    let i = this.pos + 1;
    let out = '';
    let runStart = i;
    while (i < s.length) {
      const c = s[i]!;
      if (c === q) {
        out += s.slice(runStart, i);
        this.pos = i + 1;
        return out;
      }
      if (c === '\\') {
        out += s.slice(runStart, i);
        const e = s[i + 1];
        i += 2;
        switch (e) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'u': {
            const hex = s.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          case undefined:
            this.pos = i;
            return this.fail('unterminated string');
          default:
            out += e;
        }
        runStart = i;
        continue;
      }
      i++;
    }
    this.pos = i;
    return this.fail('unterminated string');
  }

  number(): number {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.s.slice(this.pos, this.pos + 64));
    if (!m) this.fail('bad number');
    this.pos += m[0].length;
    return Number(m[0]);
  }
}

export interface FastjsonWriteOptions {
  /**
   * Standard JSON only (quoted keys everywhere), as the name server writes routes for clients
   * of version ≥ 4.9.4 or that asked `acceptStandardJsonOnly`. Object-keyed maps have no
   * standard form and are still written with object keys.
   */
  standard?: boolean;
}

/**
 * Serialises like fastjson: Maps with number keys get unquoted keys (unless `standard`), Maps
 * with object keys get the object's JSON as the key, everything else is standard JSON with keys
 * in insertion order. undefined fields are skipped, as null ones are by fastjson by default.
 */
export function stringifyFastjson(value: unknown, opts: FastjsonWriteOptions = {}): string {
  return write(value, opts.standard === true);
}

function write(v: unknown, standard: boolean): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return 'null';
  }
  if (Array.isArray(v)) return '[' + v.map((x) => (x === undefined ? 'null' : write(x, standard))).join(',') + ']';
  if (v instanceof Set) return write([...v], standard);
  if (v instanceof Map) {
    const parts: string[] = [];
    for (const [k, x] of v) {
      if (x === undefined) continue;
      let key: string;
      if (typeof k === 'number' || typeof k === 'bigint') key = standard ? `"${k}"` : String(k);
      else if (typeof k === 'string') key = JSON.stringify(k);
      else key = write(k, standard);
      parts.push(key + ':' + write(x, standard));
    }
    return '{' + parts.join(',') + '}';
  }
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined || x === null) continue;
    parts.push(JSON.stringify(k) + ':' + write(x, standard));
  }
  return '{' + parts.join(',') + '}';
}
