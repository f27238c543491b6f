// Lenient readers for fields of a parsed JSON body: RocketMQ clients send numbers as strings,
// leave fields out, or send fastjson's Map-shaped objects. Each returns a default instead of throwing;
// bodies that must be exact use the strict readers in json-bodies.ts.
import type { JsonValue } from '../json.js';

export type JsonObject = Record<string, JsonValue>;

/** A string field; numbers and booleans are stringified, null/absent give `d`. */
export function jsonStr(v: JsonValue | undefined, d = ''): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? d : String(v);
}

/** A number field, also when sent as a numeric string; anything else gives `d`. */
export function jsonNum(v: JsonValue | undefined, d = 0): number {
  return typeof v === 'number' ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d;
}

/** A boolean field, also when sent as "true"/"false"; anything else gives `d`. */
export function jsonBool(v: JsonValue | undefined, d = false): boolean {
  return typeof v === 'boolean' ? v : typeof v === 'string' ? (v.toLowerCase() === 'true' ? true : v.toLowerCase() === 'false' ? false : d) : d;
}

/** An array field, or []. */
export function jsonArr(v: JsonValue | undefined): JsonValue[] {
  return Array.isArray(v) ? v : [];
}

/** An object field (a fastjson Map becomes a plain object), or {}. */
export function jsonObj(v: JsonValue | undefined): JsonObject {
  if (v instanceof Map) {
    const o: JsonObject = {};
    for (const [k, x] of v) o[String(k)] = x;
    return o;
  }
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}
