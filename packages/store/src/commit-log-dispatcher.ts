// Turns a stored record into its consume-queue unit and index keys, then tells the DispatchEvent
// listeners. One code path for every way a record enters the log: the put path (right after the
// append), recovery (records read back) and replication (raw bytes from a master).
import { MessageConst, MessageSysFlag, splitKeys, TopicValidator } from '@rocketmq-ts/common';
import { findProperty, javaStringHashCode, type RecordInfo } from '@rocketmq-ts/protocol';
import type { ConsumeQueue } from './consumequeue/consume-queue.js';
import type { ConsumeQueueTable } from './consumequeue/consume-queue-table.js';
import type { IndexService } from './keyindex/index-service.js';
import type { DispatchEvent } from './message-store.js';
import type { StoreLogger } from './probe.js';

const PREPARED = MessageSysFlag.TRANSACTION_PREPARED_TYPE;
const ROLLBACK = MessageSysFlag.TRANSACTION_ROLLBACK_TYPE;

/** The fields of a stored record that dispatch needs (a RecordInfo has them all). */
export type DispatchRequest = Pick<
  RecordInfo,
  'topic' | 'queueId' | 'queueOffset' | 'physicalOffset' | 'size' | 'sysFlag' | 'storeTimestamp' | 'propertiesString'
>;

export class CommitLogDispatcher {
  private readonly listeners: ((e: DispatchEvent) => void)[] = [];
  // Busy topics repeat their tags: hash each distinct one once.
  private lastTags = '';
  private lastTagsCode = 0;

  constructor(
    private readonly queues: ConsumeQueueTable,
    /** undefined when messageIndexEnable is off. */
    private readonly index: IndexService | undefined,
    /** Delay level → ms (parseDelayLevels), for the tags code of the schedule topic. */
    private readonly delayLevels: readonly number[],
    private readonly logger: StoreLogger,
  ) {}

  /**
   * The consume-queue tags code of a record: `explicit` when given; for the schedule topic the
   * time the message is due (store time + its delay level); otherwise the hash of its TAGS.
   */
  tagsCodeOf(topic: string, props: string, explicit: number | undefined, storeTimestamp: number): number {
    if (explicit !== undefined) return explicit;
    if (topic === TopicValidator.RMQ_SYS_SCHEDULE_TOPIC) {
      const lvl = findProperty(props, MessageConst.PROPERTY_DELAY_TIME_LEVEL);
      if (lvl !== undefined) {
        const n = Math.min(Math.max(Number.parseInt(lvl, 10) || 1, 1), this.delayLevels.length);
        return storeTimestamp + (this.delayLevels[n - 1] ?? 0);
      }
    }
    const tags = findProperty(props, MessageConst.PROPERTY_TAGS);
    if (tags === undefined || tags.length === 0) return 0;
    if (tags !== this.lastTags) {
      this.lastTags = tags;
      this.lastTagsCode = javaStringHashCode(tags);
    }
    return this.lastTagsCode;
  }

  /**
   * Dispatches one record: a consume-queue unit at its queue offset (not for transaction
   * PREPARED/ROLLBACK records: they are not consumable), its index keys (not for ROLLBACK), and an
   * event to the listeners when a unit was added. `queue` is the record's queue when the caller has
   * it at hand (the put path); otherwise it is looked up, created if needed. Recovery passes what is
   * already there: units of records at or after `queuesFrom` are (re)written, keys of records after
   * `indexedTo` are added. Returns true when a unit or keys were added.
   */
  dispatch(r: DispatchRequest, tagsCode: number, queue?: ConsumeQueue, queuesFrom = -1, indexedTo = -1): boolean {
    const tx = r.sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK;
    const phy = r.physicalOffset;
    // Idempotent: a unit already present is kept (or repaired), so re-dispatching is safe.
    const queued =
      tx !== PREPARED &&
      tx !== ROLLBACK &&
      phy >= queuesFrom &&
      (queue ?? this.queues.findOrCreate(r.topic, r.queueId)).putAt(r.queueOffset, phy, r.size, tagsCode);
    const indexed = this.index !== undefined && tx !== ROLLBACK && phy > indexedTo;
    if (indexed) this.indexKeys(r.topic, r.propertiesString, phy, r.storeTimestamp);
    // Listeners last: what they are told about is in the queue and the index already.
    if (queued && this.listeners.length > 0) {
      this.emit({
        topic: r.topic,
        queueId: r.queueId,
        queueOffset: r.queueOffset,
        tagsCode,
        commitLogOffset: phy,
        msgSize: r.size,
        storeTimestamp: r.storeTimestamp,
        propertiesString: r.propertiesString,
      });
    }
    return queued || indexed;
  }

  /** A record read back from the log (recovery, replication): its tags code comes from its properties. */
  dispatchRecord(info: RecordInfo, queuesFrom = -1, indexedTo = -1): boolean {
    return this.dispatch(info, this.tagsCodeOf(info.topic, info.propertiesString, undefined, info.storeTimestamp), undefined, queuesFrom, indexedTo);
  }

  /** Adds a listener for every unit added to a consume queue; returns its removal. */
  onDispatch(listener: (e: DispatchEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** The message's UNIQ_KEY and KEYS go to the index, so queryMessage finds it by either. */
  private indexKeys(topic: string, props: string, phy: number, storeTimestamp: number): void {
    if (props.length === 0 || this.index === undefined) return;
    const uniq = findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
    if (uniq !== undefined) this.index.putKey(topic, uniq, phy, storeTimestamp);
    const keys = findProperty(props, MessageConst.PROPERTY_KEYS);
    if (keys !== undefined) for (const k of splitKeys(keys)) this.index.putKey(topic, k, phy, storeTimestamp);
  }

  private emit(e: DispatchEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        // A listener's failure must not fail the append that already happened.
        this.logger.error('dispatch listener failed', { error: String(err) });
      }
    }
  }
}
