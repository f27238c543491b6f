// HEART_BEAT body types and reader (remoting.md §3.5), shared by the broker (reads them) and the client (sends them).
import { parseTagExpression } from '../filter/tag.js';
import { parseLenientJson, type JsonValue } from '../json.js';
import { jsonArr, jsonNum, jsonObj, jsonStr } from './json-fields.js';

/** One subscription of a consumer group as a heartbeat carries it. */
export interface SubscriptionData {
  topic: string;
  subString: string;
  tagsSet: string[];
  codeSet: number[];
  subVersion: number;
  /** TAG or SQL92 from our client; read as sent from others. */
  expressionType: string;
  classFilterMode: boolean;
}

export interface ConsumerData {
  groupName: string;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
  unitMode: boolean;
  subscriptionDataSet: SubscriptionData[];
}

export interface HeartbeatData {
  clientID: string;
  producerDataSet: { groupName: string }[];
  consumerDataSet: ConsumerData[];
}

/** A subscription as a heartbeat (or CHECK_CLIENT_CONFIG) carries it; tags and codes are recomputed when a client omits them. */
export function readSubscriptionData(v: JsonValue): SubscriptionData {
  const o = jsonObj(v);
  const subString = jsonStr(o['subString'], '*');
  const expressionType = jsonStr(o['expressionType'], 'TAG').toUpperCase() || 'TAG';
  let tagsSet = jsonArr(o['tagsSet']).map((t) => jsonStr(t));
  let codeSet = jsonArr(o['codeSet']).map((c) => jsonNum(c));
  if (expressionType === 'TAG' && tagsSet.length === 0 && subString !== '*' && subString.trim() !== '') {
    const parsed = parseTagExpression(subString);
    tagsSet = parsed.tags;
    codeSet = parsed.codes;
  }
  return {
    topic: jsonStr(o['topic']),
    subString,
    tagsSet,
    codeSet,
    subVersion: jsonNum(o['subVersion'], Date.now()),
    expressionType,
    classFilterMode: o['classFilterMode'] === true,
  };
}

/** Reads a HEART_BEAT body leniently (missing fields get RocketMQ's defaults). */
export function decodeHeartbeatData(body: Buffer | null): HeartbeatData {
  const o = jsonObj(body ? parseLenientJson(body.toString('utf8')) : {});
  return {
    clientID: jsonStr(o['clientID']),
    producerDataSet: jsonArr(o['producerDataSet']).map((p) => ({ groupName: jsonStr(jsonObj(p)['groupName']) })),
    consumerDataSet: jsonArr(o['consumerDataSet']).map((c) => {
      const co = jsonObj(c);
      return {
        groupName: jsonStr(co['groupName']),
        consumeType: jsonStr(co['consumeType'], 'CONSUME_PASSIVELY'),
        messageModel: jsonStr(co['messageModel'], 'CLUSTERING'),
        consumeFromWhere: jsonStr(co['consumeFromWhere'], 'CONSUME_FROM_LAST_OFFSET'),
        unitMode: co['unitMode'] === true,
        subscriptionDataSet: jsonArr(co['subscriptionDataSet']).map(readSubscriptionData),
      };
    }),
  };
}
