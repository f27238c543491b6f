import { constants as zconst, deflateSync, inflateSync } from 'node:zlib';
import { ProtocolError } from '../errors.js';
import { jsonEntries, parseLenientJson, stringifyFastjson, type JsonValue } from '../json.js';
import {
  dataVersionToJson,
  parseJsonBody,
  readDataVersion,
  readTopicConfigSerializeWrapper,
  topicConfigSerializeWrapperToJson,
  type TopicConfigSerializeWrapper,
} from './json-bodies.js';
import type { TopicConfig } from './route.js';

/**
 * REGISTER_BROKER body (remoting.md §3.10), in both forms:
 * - plain: `{"filterServerList":[],"topicConfigSerializeWrapper":{...}}`
 * - compressed (`compressed=true` header): a zlib stream of length-prefixed pieces — DataVersion
 *   JSON, the topic count, each TopicConfig as its space-separated "encode" string, the
 *   filter-server list JSON, and (5.x brokers) the static-topic mapping entries.
 */
export interface RegisterBrokerBody {
  topicConfigSerializeWrapper: TopicConfigSerializeWrapper;
  filterServerList: string[];
}

/** Inflated bodies larger than this are refused (a zip bomb must not take the server down). */
export const MAX_INFLATED_REGISTER_BODY = 64 * 1024 * 1024;

export function decodeRegisterBrokerBody(body: Buffer | null | undefined, compressed: boolean): RegisterBrokerBody {
  if (body === null || body === undefined || body.length === 0) {
    return { topicConfigSerializeWrapper: { topicConfigTable: new Map(), dataVersion: { stateVersion: 0, timestamp: 0, counter: 0 } }, filterServerList: [] };
  }
  return compressed ? decodeCompressed(body) : decodePlain(body);
}

function decodePlain(body: Buffer): RegisterBrokerBody {
  const v = parseJsonBody(body, 'RegisterBrokerBody');
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Map) throw new ProtocolError('RegisterBrokerBody is not a JSON object');
  const filters = v['filterServerList'];
  return {
    topicConfigSerializeWrapper: readTopicConfigSerializeWrapper(v['topicConfigSerializeWrapper']),
    filterServerList: Array.isArray(filters) ? filters.map((x) => String(x)) : [],
  };
}

class Reader {
  pos = 0;
  constructor(private readonly b: Buffer) {}
  get remaining(): number {
    return this.b.length - this.pos;
  }
  int(what: string): number {
    if (this.remaining < 4) throw new ProtocolError(`compressed RegisterBrokerBody truncated at ${what}`);
    const v = this.b.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  text(what: string): string {
    const len = this.int(what);
    if (len < 0 || len > this.remaining) throw new ProtocolError(`compressed RegisterBrokerBody: bad length ${len} of ${what}`);
    const s = this.b.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

function decodeCompressed(body: Buffer): RegisterBrokerBody {
  let raw: Buffer;
  try {
    raw = inflateSync(body, { maxOutputLength: MAX_INFLATED_REGISTER_BODY });
  } catch (e) {
    throw new ProtocolError(`compressed RegisterBrokerBody does not inflate: ${(e as Error).message}`);
  }
  const r = new Reader(raw);
  const dataVersion = readDataVersion(parseLenientJson(r.text('dataVersion')));
  const count = r.int('topic count');
  if (count < 0 || count > r.remaining / 4) throw new ProtocolError(`compressed RegisterBrokerBody: bad topic count ${count}`);
  const table = new Map<string, TopicConfig>();
  for (let i = 0; i < count; i++) {
    const t = decodeTopicConfigString(r.text('topic config'));
    table.set(t.topicName, t);
  }
  const filtersJson = r.text('filterServerList');
  const filters = filtersJson === '' ? [] : parseLenientJson(filtersJson);
  const mapping = new Map<string, JsonValue>();
  if (r.remaining >= 4) {
    const n = r.int('mapping count');
    if (n < 0 || n > r.remaining / 4) throw new ProtocolError(`compressed RegisterBrokerBody: bad mapping count ${n}`);
    for (let i = 0; i < n; i++) {
      const m = parseLenientJson(r.text('topic queue mapping'));
      const topic = m !== null && typeof m === 'object' && !Array.isArray(m) && !(m instanceof Map) ? m['topic'] : undefined;
      if (typeof topic === 'string') mapping.set(topic, m);
    }
  }
  return {
    topicConfigSerializeWrapper: { topicConfigTable: table, dataVersion, topicQueueMappingInfoMap: mapping },
    filterServerList: Array.isArray(filters) ? filters.map((x) => String(x)) : [],
  };
}

/** `topicName readQueueNums writeQueueNums perm topicFilterType [attributesJSON]`. */
export function decodeTopicConfigString(s: string): TopicConfig {
  const parts = s.split(' ');
  if (parts.length < 5) throw new ProtocolError(`topic config string ${JSON.stringify(s.slice(0, 80))} has fewer than 5 fields`);
  const int = (x: string | undefined, what: string): number => {
    const n = Number(x);
    if (x === undefined || x === '' || !Number.isInteger(n)) throw new ProtocolError(`topic config string: ${what} is not an integer`);
    return n;
  };
  const attributes: Record<string, string> = {};
  if (parts.length >= 6) {
    const a = parseLenientJson(parts.slice(5).join(' '));
    for (const [k, v] of jsonEntries(a)) attributes[String(k)] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return {
    topicName: parts[0]!,
    readQueueNums: int(parts[1], 'readQueueNums'),
    writeQueueNums: int(parts[2], 'writeQueueNums'),
    perm: int(parts[3], 'perm'),
    topicFilterType: parts[4]!,
    topicSysFlag: 0,
    order: false,
    attributes,
  };
}

export function encodeTopicConfigString(t: TopicConfig): string {
  return `${t.topicName} ${t.readQueueNums} ${t.writeQueueNums} ${t.perm} ${t.topicFilterType} ${stringifyFastjson(t.attributes ?? {})}`;
}

export function encodeRegisterBrokerBody(b: RegisterBrokerBody, compressed: boolean): Buffer {
  if (!compressed) {
    return Buffer.from(
      `{"filterServerList":${JSON.stringify(b.filterServerList)},"topicConfigSerializeWrapper":${topicConfigSerializeWrapperToJson(b.topicConfigSerializeWrapper)}}`,
      'utf8',
    );
  }
  const pieces: Buffer[] = [];
  const int = (n: number): void => {
    const x = Buffer.allocUnsafe(4);
    x.writeInt32BE(n, 0);
    pieces.push(x);
  };
  const text = (s: string): void => {
    const x = Buffer.from(s, 'utf8');
    int(x.length);
    pieces.push(x);
  };
  const w = b.topicConfigSerializeWrapper;
  text(dataVersionToJson(w.dataVersion));
  int(w.topicConfigTable.size);
  for (const t of w.topicConfigTable.values()) text(encodeTopicConfigString(t));
  text(JSON.stringify(b.filterServerList));
  const mapping = w.topicQueueMappingInfoMap ?? new Map<string, JsonValue>();
  int(mapping.size);
  for (const m of mapping.values()) text(stringifyFastjson(m));
  return deflateSync(Buffer.concat(pieces), { level: zconst.Z_BEST_COMPRESSION });
}
