/**
 * Request headers as RocketMQ's Java client puts them on the wire with its default JSON
 * serialisation (remoting.md §1.3), rebuilt here from facts about the Java side, independently of
 * our SDK's encoder, so the bench can check that the frames it sends are the ones a Java client
 * would send:
 *
 * - The header is fastjson's rendering of the RemotingCommand bean: properties in alphabetical
 *   order (code, extFields, flag, language, opaque, remark when not null, serializeTypeCurrentRPC,
 *   version), no whitespace, language as the enum name.
 * - extFields is a java.util.HashMap<String, String> filled from the custom header's non-null
 *   fields; fastjson writes a HashMap in its iteration order (bucket order), not sorted.
 * - Message properties are a HashMap too, joined as name 0x01 value 0x02.
 * - fastjson escapes `"` and `\`, writes \b \t \n \f \r in short form, and every other character
 *   below 0x20 (and 0x7F-0x9F) as \u00XX with upper-case hex digits.
 */

/** java.lang.String.hashCode. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * The iteration order of a java.util.HashMap (default capacity 16, load factor 0.75) after `keys`
 * were put in this order: by bucket of the final table (hash ^ hash >>> 16, masked), and within a
 * bucket by insertion (resizes keep the relative order of a bucket's entries).
 */
export function javaHashMapOrder(keys: readonly string[]): string[] {
  let cap = 16;
  while (keys.length > cap * 0.75) cap *= 2;
  const bucket = (k: string): number => {
    const h = javaStringHash(k);
    return (h ^ (h >>> 16)) & (cap - 1);
  };
  return keys
    .map((k, i) => ({ k, i, b: bucket(k) }))
    .sort((x, y) => x.b - y.b || x.i - y.i)
    .map((e) => e.k);
}

/** A Record whose enumeration order is the Java HashMap's for these entries (inserted in the given order). */
export function javaHashMap(entries: readonly (readonly [string, string])[]): Record<string, string> {
  const byKey = new Map(entries);
  const out: Record<string, string> = {};
  for (const k of javaHashMapOrder(entries.map((e) => e[0]))) out[k] = byKey.get(k)!;
  return out;
}

const HEX = '0123456789ABCDEF';

/** A string literal as fastjson writes it (double quotes, default features). */
export function fastjsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0d) out += '\\r';
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += '\\u00' + HEX[c >> 4]! + HEX[c & 15]!;
    else out += s[i]!;
  }
  return out + '"';
}

export interface JavaCommand {
  code: number;
  opaque: number;
  flag: number;
  version: number;
  remark?: string;
  /** Enumerated in the order it goes out (use javaHashMap). */
  extFields: Record<string, string> | null;
}

/** The JSON header text a Java RemotingCommand is serialised to. */
export function javaJsonHeader(c: JavaCommand): string {
  let s = '{"code":' + c.code;
  if (c.extFields !== null) {
    s += ',"extFields":{';
    let first = true;
    for (const k in c.extFields) {
      s += (first ? '' : ',') + fastjsonString(k) + ':' + fastjsonString(c.extFields[k]!);
      first = false;
    }
    s += '}';
  }
  s += ',"flag":' + c.flag + ',"language":"JAVA","opaque":' + c.opaque;
  if (c.remark !== undefined) s += ',"remark":' + fastjsonString(c.remark);
  return s + ',"serializeTypeCurrentRPC":"JSON","version":' + c.version + '}';
}

/** The whole frame (length field included) for a JSON header and body, as Java's encoder lays it out. */
export function javaFrame(c: JavaCommand, body: Buffer | null): Buffer {
  const header = Buffer.from(javaJsonHeader(c), 'utf8');
  const bodyLen = body?.length ?? 0;
  const out = Buffer.alloc(8 + header.length + bodyLen);
  out.writeInt32BE(4 + header.length + bodyLen, 0);
  out.writeInt32BE(header.length, 4); // serialize type JSON = 0 in the high byte
  header.copy(out, 8);
  body?.copy(out, 8 + header.length);
  return out;
}

/** MQVersion.CURRENT_VERSION of a 5.3.3 client (remoting.md §1.6). */
export const JAVA_CLIENT_VERSION = 479;

/** Message properties string: a HashMap's entries in its order, name 0x01 value 0x02 each. */
export function javaPropertiesString(entries: readonly (readonly [string, string])[]): string {
  const m = javaHashMap(entries);
  let s = '';
  for (const k in m) s += k + '\u0001' + m[k]! + '\u0002';
  return s;
}

/**
 * extFields of SEND_MESSAGE_V2 as DefaultMQProducer (5.x) fills SendMessageRequestHeaderV2 for a
 * plain message: a..k, m, n set (l, maxReconsumeTimes, stays null unless it is a retry), the
 * base-class fields (ns, nsd, bname, oway, lo) null. Values are the Java toString of each field.
 */
export function javaSendV2Ext(v: {
  producerGroup: string;
  topic: string;
  defaultTopicQueueNums: number;
  queueId: number;
  bornTimestamp: number;
  properties: string;
  brokerName: string;
}): Record<string, string> {
  return javaHashMap([
    ['a', v.producerGroup],
    ['b', v.topic],
    ['c', 'TBW102'],
    ['d', String(v.defaultTopicQueueNums)],
    ['e', String(v.queueId)],
    ['f', '0'],
    ['g', String(v.bornTimestamp)],
    ['h', '0'],
    ['i', v.properties],
    ['j', '0'],
    ['k', 'false'],
    ['m', 'false'],
    ['n', v.brokerName],
  ]);
}

/**
 * extFields of PULL_MESSAGE as DefaultMQPullConsumer (5.x) sends a non-blocking pull: sysFlag =
 * SUBSCRIPTION only (0x4), commitOffset 0, suspendTimeoutMillis = brokerSuspendMaxTimeMillis
 * (20000, unused without the SUSPEND bit), subVersion 0 for a TAG expression, maxMsgBytes
 * Integer.MAX_VALUE, bname = the queue's broker. Two pairs share a bucket (maxMsgNums/sysFlag,
 * queueOffset/expressionType); both pairs also share one in the HashSet of header fields the map is
 * filled from, so they go in declaration order, as listed here.
 */
export function javaPullExt(v: {
  group: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  maxMsgNums: number;
  brokerName: string;
}): Record<string, string> {
  return javaHashMap([
    ['consumerGroup', v.group],
    ['topic', v.topic],
    ['queueId', String(v.queueId)],
    ['queueOffset', String(v.queueOffset)],
    ['maxMsgNums', String(v.maxMsgNums)],
    ['sysFlag', '4'],
    ['commitOffset', '0'],
    ['suspendTimeoutMillis', '20000'],
    ['subscription', '*'],
    ['subVersion', '0'],
    ['expressionType', 'TAG'],
    ['maxMsgBytes', '2147483647'],
    ['bname', v.brokerName],
  ]);
}

/**
 * A message id as MessageClientIDSetter makes one: 32 upper-case hex digits, a fixed prefix
 * (address, pid, class-loader hash) then start-relative time and a counter.
 */
export function uniqIdMaker(): () => string {
  const prefix = '7F000001' + (process.pid & 0xffff).toString(16).toUpperCase().padStart(4, '0') + '1B2C3D4E';
  const t0 = Date.now();
  let counter = 0;
  return () => {
    counter = (counter + 1) & 0xffff;
    const t = ((Date.now() - t0) >>> 0).toString(16).toUpperCase().padStart(8, '0');
    return prefix + t + counter.toString(16).toUpperCase().padStart(4, '0');
  };
}
