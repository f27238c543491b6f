// SEND_BATCH_MESSAGE body codec (remoting.md §4.5): concatenated entries of
// int32 TOTALSIZE, int32 MAGICCODE (0), int32 BODYCRC (0), int32 FLAG, int32 bodyLen, body, int16 propsLen, props.
import { decodeProperties, encodeProperties } from './properties.js';
import type { MessageProperties } from '@rocketmq-ts/common';

export interface BatchEntry {
  flag: number;
  body: Buffer;
  properties: MessageProperties;
}

/** Raw entry: the properties string is kept as stored (the broker re-encodes only what it changes). */
export interface RawBatchEntry {
  flag: number;
  body: Buffer;
  propertiesString: string;
}

export class BatchDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchDecodeError';
  }
}

const ENTRY_FIXED = 4 + 4 + 4 + 4 + 4 + 2;

export function encodeBatchBody(entries: readonly BatchEntry[]): Buffer {
  const props = entries.map((e) => encodeProperties(e.properties));
  let total = 0;
  for (let i = 0; i < entries.length; i++) total += ENTRY_FIXED + (entries[i] as BatchEntry).body.length + Buffer.byteLength(props[i] as string);
  const buf = Buffer.alloc(total);
  let p = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as BatchEntry;
    const ps = props[i] as string;
    const pLen = Buffer.byteLength(ps);
    const size = ENTRY_FIXED + e.body.length + pLen;
    buf.writeInt32BE(size, p);
    buf.writeInt32BE(0, p + 4);
    buf.writeInt32BE(0, p + 8);
    buf.writeInt32BE(e.flag | 0, p + 12);
    buf.writeInt32BE(e.body.length, p + 16);
    e.body.copy(buf, p + 20);
    let q = p + 20 + e.body.length;
    buf.writeInt16BE(pLen, q);
    q += 2;
    buf.write(ps, q, 'utf8');
    p += size;
  }
  return buf;
}

/** Decodes a batch body; bodies are views into `buf`. Throws BatchDecodeError on malformed input. */
export function decodeBatchBodyRaw(buf: Buffer): RawBatchEntry[] {
  const out: RawBatchEntry[] = [];
  let p = 0;
  while (p < buf.length) {
    if (buf.length - p < ENTRY_FIXED) throw new BatchDecodeError(`truncated batch entry at ${p}`);
    const size = buf.readInt32BE(p);
    const flag = buf.readInt32BE(p + 12);
    const bodyLen = buf.readInt32BE(p + 16);
    if (bodyLen < 0 || p + 20 + bodyLen + 2 > buf.length) throw new BatchDecodeError(`bad body length ${bodyLen} at ${p}`);
    const body = buf.subarray(p + 20, p + 20 + bodyLen);
    let q = p + 20 + bodyLen;
    const pLen = buf.readInt16BE(q);
    q += 2;
    if (pLen < 0 || q + pLen > buf.length) throw new BatchDecodeError(`bad properties length ${pLen} at ${p}`);
    const propertiesString = buf.toString('utf8', q, q + pLen);
    q += pLen;
    // TOTALSIZE is informative; the field lengths decide where the next entry starts.
    if (size !== q - p) throw new BatchDecodeError(`entry size ${size} != ${q - p} at ${p}`);
    out.push({ flag, body, propertiesString });
    p = q;
  }
  return out;
}

export function decodeBatchBody(buf: Buffer): BatchEntry[] {
  return decodeBatchBodyRaw(buf).map((e) => ({ flag: e.flag, body: e.body, properties: decodeProperties(e.propertiesString) }));
}
