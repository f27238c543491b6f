// The MessageStore contract: what the broker needs from its storage engine.
import type { MessageProperties, SocketAddress } from '@rocketmq-ts/common';
import type { DecodedMessage } from '@rocketmq-ts/protocol';
import type { RecoveryReport, StoreStats } from './probe.js';
import type { GetMessageResult, PutMessageResult, QueryMessageResult } from './status.js';

/** A message to store (RocketMQ's MessageExtBrokerInner). */
export interface PutMessageRequest {
  topic: string;
  queueId: number;
  body: Buffer;
  flag?: number;
  /** Properties as a map, or... */
  properties?: MessageProperties | Readonly<Record<string, string>>;
  /** ...already encoded (the broker forwards the wire string untouched; wins over `properties`). */
  propertiesString?: string;
  /** Explicit consume-queue tags code (e.g. deliver time for the delay topic); default hash(TAGS). */
  tagsCode?: number;
  sysFlag?: number;
  bornTimestamp?: number;
  bornHost?: SocketAddress;
  /** Defaults to the store's configured storeHost. */
  storeHost?: SocketAddress;
  reconsumeTimes?: number;
  preparedTransactionOffset?: number;
  /** SYNC_FLUSH only: wait for the fdatasync (default: WAIT property, else true). */
  waitStoreMsgOK?: boolean;
}

/** Filters messages during getMessage: by consume-queue tags code first, then optionally by record. */
export interface MessageFilter {
  isMatchedByConsumeQueue(tagsCode: number): boolean;
  isMatchedByCommitLog?(record: Buffer): boolean;
}

/** Emitted once per message added to a consume queue (long polling wakes pulls from this). */
export interface DispatchEvent {
  topic: string;
  queueId: number;
  queueOffset: number;
  tagsCode: number;
  commitLogOffset: number;
  msgSize: number;
  storeTimestamp: number;
  propertiesString: string;
}

export interface MessageStore {
  /** Opens files and recovers; returns the recovery report. */
  load(): Promise<RecoveryReport>;
  /** Starts flush and retention services. */
  start(): Promise<void>;
  /** Flushes everything, writes the checkpoint, removes the abort file, closes files. */
  shutdown(): Promise<void>;

  putMessage(msg: PutMessageRequest): Promise<PutMessageResult>;
  /** Batch of messages for one topic/queue, stored contiguously (one record each). */
  putMessages(msgs: readonly PutMessageRequest[]): Promise<PutMessageResult>;
  /**
   * putMessage, but the result comes back as a value when nothing had to wait (hot send path).
   * Its PUT_OK means "appended"; the records reach the files at the next writeAppended() (or
   * shortly after by themselves): call writeAppended() before acknowledging.
   */
  putMessageNow(msg: PutMessageRequest): PutMessageResult | Promise<PutMessageResult>;
  /** putMessages in the same form as putMessageNow. */
  putMessagesNow(msgs: readonly PutMessageRequest[]): PutMessageResult | Promise<PutMessageResult>;
  /**
   * Hands everything appended so far to the OS (a crash of this process then loses none of it);
   * synchronous, meant to run once per batch of replies. False when appended records could not
   * be written: their replies must not go out.
   */
  writeAppended(): boolean;

  getMessage(group: string, topic: string, queueId: number, offset: number, maxMsgNums: number, maxBytes?: number, filter?: MessageFilter): Promise<GetMessageResult>;
  getMaxOffsetInQueue(topic: string, queueId: number): number;
  getMinOffsetInQueue(topic: string, queueId: number): number;
  getCommitLogOffsetInQueue(topic: string, queueId: number, consumeQueueOffset: number): Promise<number>;
  /** First queue offset whose message was stored at or after `timestamp` (maxOffset if none). */
  /** First offset stored at/after `timestamp` ('lower'), or last stored at/before it ('upper'). */
  getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number, boundary?: 'lower' | 'upper'): Promise<number>;
  getEarliestMessageTime(topic?: string, queueId?: number): Promise<number>;
  getMessageStoreTimeStamp(topic: string, queueId: number, consumeQueueOffset: number): Promise<number>;
  /** The stored record at a commit-log offset (VIEW_MESSAGE_BY_ID). */
  lookMessageByOffset(commitLogOffset: number): Promise<DecodedMessage | undefined>;
  selectOneMessageByOffset(commitLogOffset: number, size?: number): Promise<Buffer | undefined>;
  queryMessage(topic: string, key: string, maxNum: number, begin: number, end: number): Promise<QueryMessageResult>;
  queryMessageByUniqKey(topic: string, uniqKey: string, begin?: number, end?: number): Promise<QueryMessageResult>;

  /** Removes the topics' consume queues (memory and files); commit-log records age out as usual. */
  deleteTopics(topics: Iterable<string>): Promise<number>;
  getMinPhyOffset(): number;
  getMaxPhyOffset(): number;
  /** Slave side of replication: bytes from the master at `offset`, re-dispatched locally. */
  appendRawCommitLog(offset: number, data: Buffer): Promise<boolean>;
  onDispatch(listener: (e: DispatchEvent) => void): () => void;
  getRuntimeInfo(): Record<string, number | string>;
  getStats(): StoreStats;
}
