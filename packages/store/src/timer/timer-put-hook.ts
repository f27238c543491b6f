// The put-time transform of timer messages (RocketMQ's HookUtils.handleScheduleMessage, a put hook
// run on every single-message store put, internal ones included): a message with TIMER_DELAY_SEC,
// TIMER_DELAY_MS or TIMER_DELIVER_MS is parked in rmq_sys_wheel_timer queue 0 with its slot time
// (TIMER_OUT_MS) and real topic/queue (REAL_TOPIC, REAL_QID) until the timer delivers it.
// Batches are not transformed (RocketMQ's hook skips MessageExtBatch).
import { MessageConst, MessageSysFlag, TopicValidator } from '@rocketmq-ts/common';
import { encodeProperties, findProperty } from '@rocketmq-ts/protocol';
import type { PutMessageRequest } from '../message-store.js';
import { PutMessageStatus } from '../status.js';

export const TIMER_TOPIC = TopicValidator.RMQ_SYS_WHEEL_TIMER_TOPIC;
const SEP1 = MessageConst.NAME_VALUE_SEPARATOR;
const SEP2 = MessageConst.PROPERTY_SEPARATOR;
const DELAY_SEC = MessageConst.PROPERTY_TIMER_DELAY_SEC;
const DELAY_MS = MessageConst.PROPERTY_TIMER_DELAY_MS;
const DELIVER_MS = MessageConst.PROPERTY_TIMER_DELIVER_MS;
const TIMER_PROPS = [DELAY_SEC, DELAY_MS, DELIVER_MS];
/** A Java long: what Long.parseLong accepts (sign, up to 19 digits). */
const JAVA_LONG = /^[+-]?\d{1,19}$/;
const LONG_LIMIT = 9.223372036854776e18;

export interface TimerHookConfig {
  readonly timerWheelEnable: boolean;
  readonly timerPrecisionMs: number;
  readonly timerMaxDelaySec: number;
  readonly timerCongestNumEachSlot: number;
}

/** The properties string without the named properties. */
export function removeProperties(props: string, names: readonly string[]): string {
  let out = '';
  let from = 0;
  const n = props.length;
  while (from < n) {
    let end = props.indexOf(SEP2, from);
    if (end < 0) end = n;
    const sep = props.indexOf(SEP1, from);
    const name = sep >= 0 && sep < end ? props.slice(from, sep) : props.slice(from, end);
    if (end > from && !names.includes(name)) out += props.slice(from, end) + SEP2;
    from = end + 1;
  }
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

function parseJavaLong(s: string): number | undefined {
  if (!JAVA_LONG.test(s)) return undefined;
  const v = Number(s);
  return Math.abs(v) < LONG_LIMIT ? v : undefined;
}

export class TimerPutHook {
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
    if (!props.includes('TIMER_')) return m;
    const tx = (m.sysFlag ?? 0) & MessageSysFlag.TRANSACTION_TYPE_MASK;
    if (tx !== MessageSysFlag.TRANSACTION_NOT_TYPE && tx !== MessageSysFlag.TRANSACTION_COMMIT_TYPE) return m;
    // A rolled timer going back into the wheel, and transaction halves: the timer starts at the commit.
    if (m.topic === TIMER_TOPIC || m.topic === TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC || m.topic === TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC) return m;
    const sec = findProperty(props, DELAY_SEC);
    const ms = sec === undefined ? findProperty(props, DELAY_MS) : undefined;
    const at = sec === undefined && ms === undefined ? findProperty(props, DELIVER_MS) : undefined;
    if (sec === undefined && ms === undefined && at === undefined) return m;
    const level = findProperty(props, MessageConst.PROPERTY_DELAY_TIME_LEVEL);
    // A delay level wins: the timer properties go, the level path stays.
    if (level !== undefined && Number.parseInt(level, 10) > 0) return { ...m, propertiesString: removeProperties(props, TIMER_PROPS) };
    if (findProperty(props, MessageConst.PROPERTY_TIMER_OUT_MS) !== undefined) return m;
    if (!this.config.timerWheelEnable) return PutMessageStatus.WHEEL_TIMER_NOT_ENABLE;
    const now = this.now();
    const value = parseJavaLong((sec ?? ms ?? at) as string);
    if (value === undefined) return PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL;
    let deliverMs = sec !== undefined ? now + value * 1000 : ms !== undefined ? now + value : value;
    if (deliverMs <= now) {
      // Due already: stored as a normal message (a delete marker for the past makes no sense).
      if (findProperty(props, MessageConst.PROPERTY_TIMER_DEL_UNIQKEY) !== undefined) return PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL;
      return m;
    }
    if (deliverMs - now > this.config.timerMaxDelaySec * 1000) return PutMessageStatus.WHEEL_TIMER_MSG_ILLEGAL;
    // The slot: an exact multiple of the precision goes one slot earlier, so that it is delivered on time.
    const p = this.config.timerPrecisionMs;
    deliverMs = deliverMs % p === 0 ? deliverMs - p : Math.floor(deliverMs / p) * p;
    if (this.isReject(deliverMs)) return PutMessageStatus.WHEEL_TIMER_FLOW_CONTROL;
    return {
      ...m,
      topic: TIMER_TOPIC,
      queueId: 0,
      tagsCode: undefined,
      propertiesString: setProperties(props, [
        [MessageConst.PROPERTY_TIMER_OUT_MS, String(deliverMs)],
        [MessageConst.PROPERTY_REAL_TOPIC, m.topic],
        [MessageConst.PROPERTY_REAL_QUEUE_ID, String(m.queueId)],
      ]),
    };
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
