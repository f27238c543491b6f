// The put-time transform of timer messages (RocketMQ's HookUtils.handleScheduleMessage, a put hook
// run on every single-message store put, internal ones included): a message with TIMER_DELAY_SEC,
// TIMER_DELAY_MS or TIMER_DELIVER_MS (or, without those, the 4.x property __STARTDELIVERTIME, an
// absolute ms time like TIMER_DELIVER_MS) is parked in rmq_sys_wheel_timer queue 0 with its slot
// time (TIMER_OUT_MS) and real topic/queue (REAL_TOPIC, REAL_QID) until the timer delivers it.
// Batches are not transformed (RocketMQ's hook skips MessageExtBatch).
import { MessageConst, MessageSysFlag, TopicValidator } from '@rocketmq-ts/common';
import { encodeProperties } from '@rocketmq-ts/protocol';
import type { PutMessageRequest } from '../message-store.js';
import { PutMessageStatus } from '../status.js';

export const TIMER_TOPIC = TopicValidator.RMQ_SYS_WHEEL_TIMER_TOPIC;
const SEP1 = MessageConst.NAME_VALUE_SEPARATOR;
const SEP2 = MessageConst.PROPERTY_SEPARATOR;
const DELAY_SEC = MessageConst.PROPERTY_TIMER_DELAY_SEC;
const DELAY_MS = MessageConst.PROPERTY_TIMER_DELAY_MS;
const DELIVER_MS = MessageConst.PROPERTY_TIMER_DELIVER_MS;
/** 4.x's delivery time (ms since the epoch): scheduled as TIMER_DELIVER_MS when none of the TIMER_ properties is set. */
const START_DELIVER = MessageConst.PROPERTY_START_DELIVER_TIME;
const TIMER_PROPS = [DELAY_SEC, DELAY_MS, DELIVER_MS, START_DELIVER];
/** A Java long: what Long.parseLong accepts (sign, up to 19 digits). */
const JAVA_LONG = /^[+-]?\d{1,19}$/;
const LONG_LIMIT = 9.223372036854776e18;

export interface TimerHookConfig {
  readonly timerWheelEnable: boolean;
  readonly timerPrecisionMs: number;
  readonly timerMaxDelaySec: number;
  readonly timerCongestNumEachSlot: number;
}

/** Whether props[from, to) is one of `names` (compared in place, no substring made). */
function nameIn(props: string, from: number, to: number, names: readonly string[]): boolean {
  for (const name of names) if (name.length === to - from && props.startsWith(name, from)) return true;
  return false;
}

/**
 * The properties string without the named properties (and without empty pairs); every pair kept
 * ends with its separator. The kept pairs are copied in runs: one slice per run, not per pair.
 */
export function removeProperties(props: string, names: readonly string[]): string {
  let out = '';
  let from = 0;
  let run = 0; // start of the run of kept pairs not yet copied
  const n = props.length;
  while (from < n) {
    let end = props.indexOf(SEP2, from);
    if (end < 0) end = n;
    let sep = props.indexOf(SEP1, from);
    if (sep < 0 || sep > end) sep = end;
    if (end === from || nameIn(props, from, sep, names)) {
      if (from > run) out += props.slice(run, from);
      run = end + 1;
    }
    from = end + 1;
  }
  if (n > run) out += props.slice(run, n);
  // The last pair kept may lack its separator.
  if (out.length > 0 && out.charCodeAt(out.length - 1) !== SEP2.charCodeAt(0)) out += SEP2;
  return out;
}

/** The properties string with the pairs set (replaced when present, appended otherwise). */
export function setProperties(props: string, pairs: readonly (readonly [string, string])[]): string {
  let out = removeProperties(
    props,
    pairs.map((p) => p[0]),
  );
  for (const [k, v] of pairs) out += k + SEP1 + v + SEP2;
  return out;
}

/**
 * The request with another topic, queue and properties. Written out field by field: an object
 * spread of a request costs ~100× more (V8 cannot clone its shape), on every timer message.
 */
function retarget(m: PutMessageRequest, topic: string, queueId: number, propertiesString: string, tagsCode: number | undefined): PutMessageRequest {
  return {
    topic,
    queueId,
    body: m.body,
    flag: m.flag,
    propertiesString,
    tagsCode,
    sysFlag: m.sysFlag,
    bornTimestamp: m.bornTimestamp,
    bornHost: m.bornHost,
    storeHost: m.storeHost,
    reconsumeTimes: m.reconsumeTimes,
    preparedTransactionOffset: m.preparedTransactionOffset,
    waitStoreMsgOK: m.waitStoreMsgOK,
  };
}

function parseJavaLong(s: string): number | undefined {
  if (!JAVA_LONG.test(s)) return undefined;
  const v = Number(s);
  return Math.abs(v) < LONG_LIMIT ? v : undefined;
}

/** The properties a timer cares about, found in one pass over a properties string (reused, not allocated per call). */
export interface TimerProps {
  delaySec: string | undefined;
  delayMs: string | undefined;
  deliverMs: string | undefined;
  startDeliverTime: string | undefined;
  delayLevel: string | undefined;
  outMs: string | undefined;
  delUniqKey: string | undefined;
  realTopic: string | undefined;
  realQid: string | undefined;
}

export function newTimerProps(): TimerProps {
  return {
    delaySec: undefined,
    delayMs: undefined,
    deliverMs: undefined,
    startDeliverTime: undefined,
    delayLevel: undefined,
    outMs: undefined,
    delUniqKey: undefined,
    realTopic: undefined,
    realQid: undefined,
  };
}

/** Fills `out` from `props` in one pass (the hot path calls this instead of one search per name). */
export function scanTimerProps(props: string, out: TimerProps): TimerProps {
  out.delaySec = out.delayMs = out.deliverMs = out.startDeliverTime = out.delayLevel = out.outMs = out.delUniqKey = out.realTopic = out.realQid = undefined;
  let from = 0;
  const n = props.length;
  while (from < n) {
    let end = props.indexOf(SEP2, from);
    if (end < 0) end = n;
    const sep = props.indexOf(SEP1, from);
    if (sep >= 0 && sep < end) {
      const v = props.slice(sep + 1, end);
      switch (props.slice(from, sep)) {
        case DELAY_SEC:
          out.delaySec = v;
          break;
        case DELAY_MS:
          out.delayMs = v;
          break;
        case DELIVER_MS:
          out.deliverMs = v;
          break;
        case START_DELIVER:
          out.startDeliverTime = v;
          break;
        case MessageConst.PROPERTY_DELAY_TIME_LEVEL:
          out.delayLevel = v;
          break;
        case MessageConst.PROPERTY_TIMER_OUT_MS:
          out.outMs = v;
          break;
        case MessageConst.PROPERTY_TIMER_DEL_UNIQKEY:
          out.delUniqKey = v;
          break;
        case MessageConst.PROPERTY_REAL_TOPIC:
          out.realTopic = v;
          break;
        case MessageConst.PROPERTY_REAL_QUEUE_ID:
          out.realQid = v;
          break;
      }
    }
    from = end + 1;
  }
  return out;
}

export class TimerPutHook {
  private readonly scan = newTimerProps();
  /** TIMER_OUT_MS given by the last apply() that moved a message into the timer topic. */
  lastOutMs = 0;

  constructor(
    private readonly config: TimerHookConfig,
    /** The timer's clock. */
    private readonly now: () => number,
    /** Timers already in the slot of a time (flow control). */
    private readonly slotNum: (slotMs: number) => number,
  ) {}

  /**
   * The message as it is to be stored: unchanged (the usual case, decided by one substring test),
   * transformed (timer topic, or timer properties dropped for a delay-level message), or a status
   * refusing it.
   */
  apply(m: PutMessageRequest): PutMessageRequest | PutMessageStatus {
    const props = m.propertiesString ?? encodeProperties(m.properties);
    if (!props.includes('TIMER_') && !props.includes(START_DELIVER)) return m;
    const tx = (m.sysFlag ?? 0) & MessageSysFlag.TRANSACTION_TYPE_MASK;
    if (tx !== MessageSysFlag.TRANSACTION_NOT_TYPE && tx !== MessageSysFlag.TRANSACTION_COMMIT_TYPE) return m;
    // A rolled timer going back into the wheel, and transaction halves: the timer starts at the commit.
    if (m.topic === TIMER_TOPIC || m.topic === TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC || m.topic === TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC) return m;
    const t = scanTimerProps(props, this.scan);
    const sec = t.delaySec;
    const ms = sec === undefined ? t.delayMs : undefined;
    const at = sec === undefined && ms === undefined ? (t.deliverMs ?? t.startDeliverTime) : undefined;
    if (sec === undefined && ms === undefined && at === undefined) return m;
    // A delay level wins: the timer properties go, the level path stays.
    if (t.delayLevel !== undefined && Number.parseInt(t.delayLevel, 10) > 0) {
      return retarget(m, m.topic, m.queueId, removeProperties(props, TIMER_PROPS), m.tagsCode);
    }
    if (t.outMs !== undefined) return m;
    if (!this.config.timerWheelEnable) return PutMessageStatus.WHEEL_TIMER_NOT_ENABLE;
    const now = this.now();
    const value = parseJavaLong((sec ?? ms ?? at) as string);
    if (value === undefined) return PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL;
    let deliverMs = sec !== undefined ? now + value * 1000 : ms !== undefined ? now + value : value;
    if (deliverMs <= now) {
      // Due already: stored as a normal message (a delete marker for the past makes no sense).
      return t.delUniqKey !== undefined ? PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL : m;
    }
    if (deliverMs - now > this.config.timerMaxDelaySec * 1000) return PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL;
    // The slot: an exact multiple of the precision goes one slot earlier, so that it is delivered on time.
    const p = this.config.timerPrecisionMs;
    deliverMs = deliverMs % p === 0 ? deliverMs - p : Math.floor(deliverMs / p) * p;
    if (this.isReject(deliverMs)) return PutMessageStatus.WHEEL_TIMER_FLOW_CONTROL;
    this.lastOutMs = deliverMs;
    const added = [
      [MessageConst.PROPERTY_TIMER_OUT_MS, String(deliverMs)],
      [MessageConst.PROPERTY_REAL_TOPIC, m.topic],
      [MessageConst.PROPERTY_REAL_QUEUE_ID, String(m.queueId)],
    ] as const;
    // Usually none of them is there: append without rebuilding the string.
    let out: string;
    if (t.realTopic === undefined && t.realQid === undefined) {
      out = props.length === 0 || props.endsWith(SEP2) ? props : props + SEP2;
      for (const [k, v] of added) out += k + SEP1 + v + SEP2;
    } else {
      out = setProperties(props, added);
    }
    return retarget(m, TIMER_TOPIC, 0, out, undefined);
  }

  /** RocketMQ's isReject: above timerCongestNumEachSlot a growing share is refused, all of it at twice that. */
  private isReject(slotMs: number): boolean {
    const limit = this.config.timerCongestNumEachSlot;
    if (limit >= 2_147_483_647) return false;
    const n = this.slotNum(slotMs);
    if (n <= limit) return false;
    if (n >= limit * 2) return true;
    return Math.floor(Math.random() * 1000) > (1000 * (n - limit)) / (limit + 0.1);
  }
}
