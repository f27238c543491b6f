// Properties string codec: `name \u0001 value \u0002` repeated (remoting.md §4.4).
import { MessageConst, type MessageProperties } from '@rocketmq-ts/common';

const NV = 1;
const PS = 2;

/**
 * Encodes properties as stored: every pair followed by 0x02 (a trailing separator, as the Java side writes).
 * Transient properties (`__RMQ.TRANSIENT.` prefix) are skipped.
 */
export function encodeProperties(props: MessageProperties | Readonly<Record<string, string>> | undefined): string {
  if (props === undefined) return '';
  let s = '';
  const entries = props instanceof Map ? props.entries() : Object.entries(props);
  for (const [k, v] of entries) {
    if (k.startsWith(MessageConst.PROPERTY_TRANSIENT_PREFIX)) continue;
    s += k + MessageConst.NAME_VALUE_SEPARATOR + v + MessageConst.PROPERTY_SEPARATOR;
  }
  return s;
}

/**
 * Decodes a properties string. Tolerant: a missing trailing separator is fine, and segments shorter
 * than 3 chars or without a name/value separator are skipped (remoting.md §4.4).
 */
export function decodeProperties(s: string): MessageProperties {
  const map: MessageProperties = new Map();
  let start = 0;
  const n = s.length;
  while (start < n) {
    let end = s.indexOf(MessageConst.PROPERTY_SEPARATOR, start);
    if (end < 0) end = n;
    if (end - start >= 3) {
      const sep = s.indexOf(MessageConst.NAME_VALUE_SEPARATOR, start);
      if (sep >= 0 && sep < end) map.set(s.slice(start, sep), s.slice(sep + 1, end));
    }
    start = end + 1;
  }
  return map;
}

/** Decodes properties straight from bytes (UTF-8) without keeping the string. */
export function decodePropertiesBytes(buf: Buffer, start: number, end: number): MessageProperties {
  return decodeProperties(buf.toString('utf8', start, end));
}

/**
 * Finds one property's value in an encoded string without building a map (dispatch hot path).
 * Returns undefined when absent.
 */
export function findProperty(s: string, name: string): string | undefined {
  let from = 0;
  const n = s.length;
  while (from < n) {
    let end = s.indexOf(MessageConst.PROPERTY_SEPARATOR, from);
    if (end < 0) end = n;
    // A name matches only at the start of a segment and only if followed by the 0x01 separator.
    if (end - from > name.length && s.charCodeAt(from + name.length) === NV && s.startsWith(name, from)) {
      return s.slice(from + name.length + 1, end);
    }
    from = end + 1;
  }
  return undefined;
}

/** True when the byte is a separator of the properties string. */
export function isPropertySeparatorByte(b: number): boolean {
  return b === NV || b === PS;
}
