import { Sql92Filter, decodePropertiesBytes, findProperty, RecordOffsets, MESSAGE_MAGIC_CODE_V2 } from '@rocketmq-ts/protocol';
import type { MessageFilter } from '@rocketmq-ts/store';
import type { SubscriptionData } from '../client/consumer-manager.js';

/**
 * Which stored messages a pull returns. Tag subscriptions compare the consume queue's tags hash
 * (no commit-log read) and leave the exact string check to the client, as RocketMQ does. SQL92
 * subscriptions read the properties of each candidate record.
 */
export function filterFor(sub: SubscriptionData | undefined): MessageFilter | undefined {
  if (!sub) return undefined;
  // One filter per subscription object: pulls reuse it instead of building sets per request.
  let f = filters.get(sub);
  if (f === undefined) filters.set(sub, (f = buildFilter(sub) ?? null));
  return f ?? undefined;
}

const filters = new WeakMap<SubscriptionData, MessageFilter | null>();
const matchers = new WeakMap<SubscriptionData, ((tagsCode: number, properties: string | undefined) => boolean) | null>();

function buildFilter(sub: SubscriptionData): MessageFilter | undefined {
  if (sub.expressionType === 'SQL92') {
    const f = compileSql92(sub.subString);
    return {
      isMatchedByConsumeQueue: () => true,
      isMatchedByCommitLog: (record) => {
        const props = recordProperties(record);
        return f.matches((k) => props.get(k));
      },
    };
  }
  if (sub.subString === '*' || sub.subString.trim() === '' || sub.codeSet.length === 0) return undefined;
  const codes = new Set(sub.codeSet);
  return { isMatchedByConsumeQueue: (c) => codes.has(c) };
}

/** Whether an arriving message (tags hash + properties string) can satisfy a parked pull. */
export function arrivalMatcher(sub: SubscriptionData | undefined): ((tagsCode: number, properties: string | undefined) => boolean) | undefined {
  if (!sub) return undefined;
  let m = matchers.get(sub);
  if (m === undefined) matchers.set(sub, (m = buildMatcher(sub) ?? null));
  return m ?? undefined;
}

function buildMatcher(sub: SubscriptionData): ((tagsCode: number, properties: string | undefined) => boolean) | undefined {
  if (sub.expressionType === 'SQL92') {
    const f = compileSql92(sub.subString);
    return (_c, props) => (props === undefined ? true : f.matches((k) => findProperty(props, k)));
  }
  if (sub.subString === '*' || sub.codeSet.length === 0) return undefined;
  const codes = new Set(sub.codeSet);
  return (c) => codes.has(c);
}

const sqlCache = new Map<string, Sql92Filter>();

/** A compiled SQL92 filter, cached by expression (throws FilterSyntaxError). */
export function compileSql92(expression: string): Sql92Filter {
  let f = sqlCache.get(expression);
  if (!f) {
    f = new Sql92Filter(expression);
    if (sqlCache.size > 10_000) sqlCache.clear();
    sqlCache.set(expression, f);
  }
  return f;
}

/** Properties of a stored record, decoded without touching the body. */
export function recordProperties(record: Buffer): Map<string, string> {
  const sysFlag = record.readInt32BE(RecordOffsets.SYSFLAG);
  const bornHostLen = (sysFlag & 0x10) !== 0 ? 20 : 8;
  const storeHostLen = (sysFlag & 0x20) !== 0 ? 20 : 8;
  let p = RecordOffsets.BORNHOST + bornHostLen + 8 + storeHostLen + 4 + 8;
  const bodyLen = record.readInt32BE(p);
  p += 4 + bodyLen;
  const v2 = record.readInt32BE(RecordOffsets.MAGICCODE) === MESSAGE_MAGIC_CODE_V2;
  const topicLen = v2 ? record.readInt16BE(p) : record.readUInt8(p);
  p += (v2 ? 2 : 1) + topicLen;
  const propsLen = record.readInt16BE(p);
  p += 2;
  return decodePropertiesBytes(record, p, p + propsLen);
}
