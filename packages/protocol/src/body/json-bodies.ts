import { ProtocolError } from '../errors.js';
import { jsonEntries, parseLenientJson, stringifyFastjson, type JsonValue } from '../json.js';
import type { BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicList, TopicRouteData } from './route.js';

/**
 * JSON bodies of the name-server requests (remoting.md §3.10–3.11). Writers lay fields out in
 * alphabetical order as fastjson does; readers are lenient (fastjson's unquoted integer keys,
 * numbers sent as strings, unknown fields ignored). Readers throw ProtocolError on bodies that
 * are not JSON of the expected shape.
 */

// ---------------------------------------------------------------------------------------------
// lenient field readers

type Obj = Record<string, JsonValue>;

export function parseJsonBody(body: Buffer | string | null | undefined, what: string): JsonValue {
  if (body === null || body === undefined) throw new ProtocolError(`${what}: no body`);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  return parseLenientJson(text);
}

function asObject(v: JsonValue | undefined, what: string): Obj {
  if (v === null || v === undefined) return {};
  if (v instanceof Map) {
    const o: Obj = {};
    for (const [k, x] of v) o[String(k)] = x;
    return o;
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError(`${what} is not a JSON object`);
  return v;
}

function num(v: JsonValue | undefined, dflt: number, what: string): number {
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new ProtocolError(`${what} is not a number`);
  return n;
}

function str(v: JsonValue | undefined, dflt: string): string {
  if (v === undefined || v === null) return dflt;
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function bool(v: JsonValue | undefined, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.toLowerCase() === 'true';
  return v !== 0;
}

function list(v: JsonValue | undefined, what: string): JsonValue[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ProtocolError(`${what} is not a JSON array`);
  return v;
}

function sortedMap<V>(m: Map<number, V>): Map<number, V> {
  return new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
}

// ---------------------------------------------------------------------------------------------
// DataVersion

export function dataVersionToJson(v: DataVersion): string {
  return `{"counter":${v.counter},"stateVersion":${v.stateVersion},"timestamp":${v.timestamp}}`;
}

export function readDataVersion(v: JsonValue | undefined): DataVersion {
  const o = asObject(v, 'dataVersion');
  // AtomicLong counters have been seen written as {"value":n} by other serialisers.
  const c = o['counter'];
  const counter = c !== null && typeof c === 'object' && !Array.isArray(c) && !(c instanceof Map) ? c['value'] : c;
  return {
    stateVersion: num(o['stateVersion'], 0, 'dataVersion.stateVersion'),
    timestamp: num(o['timestamp'], 0, 'dataVersion.timestamp'),
    counter: num(counter, 0, 'dataVersion.counter'),
  };
}

export function decodeDataVersion(body: Buffer | string): DataVersion {
  return readDataVersion(parseJsonBody(body, 'DataVersion'));
}

// ---------------------------------------------------------------------------------------------
// TopicConfig

export function readTopicConfig(name: string, v: JsonValue | undefined): TopicConfig {
  const o = asObject(v, `topicConfig ${name}`);
  const attrs: Record<string, string> = {};
  for (const [k, x] of jsonEntries(o['attributes'] ?? null)) attrs[String(k)] = str(x, '');
  return {
    topicName: str(o['topicName'], name),
    readQueueNums: num(o['readQueueNums'], 16, 'readQueueNums'),
    writeQueueNums: num(o['writeQueueNums'], 16, 'writeQueueNums'),
    perm: num(o['perm'], 6, 'perm'),
    topicFilterType: str(o['topicFilterType'], 'SINGLE_TAG'),
    topicSysFlag: num(o['topicSysFlag'], 0, 'topicSysFlag'),
    order: bool(o['order'], false),
    attributes: attrs,
  };
}

/** fastjson field order: attributes, order, perm, readQueueNums, topicFilterType, topicName, topicSysFlag, writeQueueNums. */
export function topicConfigToJson(t: TopicConfig): string {
  return (
    `{"attributes":${stringifyFastjson(t.attributes ?? {})},"order":${t.order},"perm":${t.perm},"readQueueNums":${t.readQueueNums},` +
    `"topicFilterType":${JSON.stringify(t.topicFilterType)},"topicName":${JSON.stringify(t.topicName)},` +
    `"topicSysFlag":${t.topicSysFlag},"writeQueueNums":${t.writeQueueNums}}`
  );
}

/** TopicConfigSerializeWrapper (topics.json, and the inner part of RegisterBrokerBody). */
export interface TopicConfigSerializeWrapper {
  topicConfigTable: Map<string, TopicConfig>;
  dataVersion: DataVersion;
  /** 5.x static topics; kept as raw JSON values, we do not interpret them. */
  topicQueueMappingInfoMap?: Map<string, JsonValue> | undefined;
}

export function readTopicConfigSerializeWrapper(v: JsonValue | undefined): TopicConfigSerializeWrapper {
  const o = asObject(v, 'topicConfigSerializeWrapper');
  const table = new Map<string, TopicConfig>();
  for (const [k, x] of jsonEntries(o['topicConfigTable'] ?? null)) table.set(String(k), readTopicConfig(String(k), x));
  const mapping = new Map<string, JsonValue>();
  for (const [k, x] of jsonEntries(o['topicQueueMappingInfoMap'] ?? null)) mapping.set(String(k), x);
  return { topicConfigTable: table, dataVersion: readDataVersion(o['dataVersion']), topicQueueMappingInfoMap: mapping };
}

export function topicConfigSerializeWrapperToJson(w: TopicConfigSerializeWrapper): string {
  const parts: string[] = [];
  for (const [k, t] of w.topicConfigTable) parts.push(JSON.stringify(k) + ':' + topicConfigToJson(t));
  return `{"dataVersion":${dataVersionToJson(w.dataVersion)},"topicConfigTable":{${parts.join(',')}}}`;
}

// ---------------------------------------------------------------------------------------------
// Route, cluster info, topic list, KV table

function queueDataJson(q: QueueData): string {
  return `{"brokerName":${JSON.stringify(q.brokerName)},"perm":${q.perm},"readQueueNums":${q.readQueueNums},"topicSysFlag":${q.topicSysFlag},"writeQueueNums":${q.writeQueueNums}}`;
}

function brokerDataJson(b: BrokerData, standard: boolean): string {
  let s = `{"brokerAddrs":${stringifyFastjson(sortedMap(b.brokerAddrs), { standard })},"brokerName":${JSON.stringify(b.brokerName)},"cluster":${JSON.stringify(b.cluster)},"enableActingMaster":${b.enableActingMaster}`;
  if (b.zoneName !== undefined && b.zoneName !== null) s += `,"zoneName":${JSON.stringify(b.zoneName)}`;
  return s + '}';
}

/**
 * TopicRouteData as the name server writes it: `standard` for clients of version ≥ 4.9.4 or that
 * asked acceptStandardJsonOnly (`"brokerAddrs":{"0":"a"}`), fastjson's default otherwise
 * (`"brokerAddrs":{0:"a"}`).
 */
export function topicRouteDataToJson(r: TopicRouteData, standard: boolean): string {
  let s = '{"brokerDatas":[' + r.brokerDatas.map((b) => brokerDataJson(b, standard)).join(',') + ']';
  s += ',"filterServerTable":' + stringifyFastjson(r.filterServerTable, { standard });
  if (r.orderTopicConf !== undefined && r.orderTopicConf !== null) s += ',"orderTopicConf":' + JSON.stringify(r.orderTopicConf);
  s += ',"queueDatas":[' + r.queueDatas.map(queueDataJson).join(',') + ']';
  return s + '}';
}

export function readQueueData(v: JsonValue): QueueData {
  const o = asObject(v, 'queueData');
  return {
    brokerName: str(o['brokerName'], ''),
    readQueueNums: num(o['readQueueNums'], 0, 'readQueueNums'),
    writeQueueNums: num(o['writeQueueNums'], 0, 'writeQueueNums'),
    perm: num(o['perm'], 0, 'perm'),
    // very old brokers spelled it topicSynFlag
    topicSysFlag: num(o['topicSysFlag'] ?? o['topicSynFlag'], 0, 'topicSysFlag'),
  };
}

export function readBrokerData(v: JsonValue): BrokerData {
  const o = asObject(v, 'brokerData');
  const addrs = new Map<number, string>();
  for (const [k, x] of jsonEntries(o['brokerAddrs'] ?? null)) {
    const id = Number(k);
    if (!Number.isInteger(id)) throw new ProtocolError(`brokerAddrs key ${String(k)} is not a broker id`);
    addrs.set(id, str(x, ''));
  }
  const bd: BrokerData = {
    cluster: str(o['cluster'], ''),
    brokerName: str(o['brokerName'], ''),
    brokerAddrs: addrs,
    enableActingMaster: bool(o['enableActingMaster'], false),
  };
  if (typeof o['zoneName'] === 'string') bd.zoneName = o['zoneName'];
  return bd;
}

export function decodeTopicRouteData(body: Buffer | string): TopicRouteData {
  const o = asObject(parseJsonBody(body, 'TopicRouteData'), 'TopicRouteData');
  const filter = new Map<string, string[]>();
  for (const [k, x] of jsonEntries(o['filterServerTable'] ?? null)) {
    filter.set(
      String(k),
      list(x, 'filterServerTable').map((a) => str(a, '')),
    );
  }
  const r: TopicRouteData = {
    queueDatas: list(o['queueDatas'], 'queueDatas').map(readQueueData),
    brokerDatas: list(o['brokerDatas'], 'brokerDatas').map(readBrokerData),
    filterServerTable: filter,
  };
  if (typeof o['orderTopicConf'] === 'string') r.orderTopicConf = o['orderTopicConf'];
  return r;
}

/** ClusterInfo: always fastjson's default (non-standard) form, as Java's name server writes it. */
export function clusterInfoToJson(c: ClusterInfo, standard = false): string {
  const b: string[] = [];
  for (const [name, bd] of c.brokerAddrTable) b.push(JSON.stringify(name) + ':' + brokerDataJson(bd, standard));
  return `{"brokerAddrTable":{${b.join(',')}},"clusterAddrTable":${stringifyFastjson(c.clusterAddrTable, { standard })}}`;
}

export function decodeClusterInfo(body: Buffer | string): ClusterInfo {
  const o = asObject(parseJsonBody(body, 'ClusterInfo'), 'ClusterInfo');
  const brokers = new Map<string, BrokerData>();
  for (const [k, x] of jsonEntries(o['brokerAddrTable'] ?? null)) brokers.set(String(k), readBrokerData(x));
  const clusters = new Map<string, string[]>();
  for (const [k, x] of jsonEntries(o['clusterAddrTable'] ?? null)) {
    clusters.set(
      String(k),
      list(x, 'clusterAddrTable').map((n) => str(n, '')),
    );
  }
  return { brokerAddrTable: brokers, clusterAddrTable: clusters };
}

export function topicListToJson(t: TopicList): string {
  let s = '{';
  if (t.brokerAddr !== undefined && t.brokerAddr !== null) s += `"brokerAddr":${JSON.stringify(t.brokerAddr)},`;
  return s + `"topicList":${JSON.stringify(t.topicList)}}`;
}

export function decodeTopicList(body: Buffer | string): TopicList {
  const o = asObject(parseJsonBody(body, 'TopicList'), 'TopicList');
  const out: TopicList = { topicList: list(o['topicList'], 'topicList').map((x) => str(x, '')) };
  if (typeof o['brokerAddr'] === 'string') out.brokerAddr = o['brokerAddr'];
  return out;
}

/** KVTable `{"table":{"k":"v"}}`. */
export function kvTableToJson(table: Map<string, string> | Record<string, string>): string {
  return '{"table":' + stringifyFastjson(table instanceof Map ? table : new Map(Object.entries(table))) + '}';
}

export function decodeKVTable(body: Buffer | string): Map<string, string> {
  const o = asObject(parseJsonBody(body, 'KVTable'), 'KVTable');
  const out = new Map<string, string>();
  for (const [k, x] of jsonEntries(o['table'] ?? null)) out.set(String(k), str(x, ''));
  return out;
}
