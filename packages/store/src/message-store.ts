// The MessageStore contract: what the broker needs from its storage engine.
import type { MessageProperties, SocketAddress } from '@rocketmq-ts/common';
import type { DecodedMessage } from '@rocketmq-ts/protocol';
import type { RecoveryReport, StoreStats } from './probe.js';
import type { GetMessageResult, PutMessageResult, QueryMessageResult } from './status.js';
import type { TimerCheckpointData } from './timer/timer-checkpoint.js';
import type { TimerStatus } from './timer/timer-types.js';

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

export interface GetMessageOptions {
  /** Read into buffers lent by the store (see getMessage). */
  lendBuffers?: boolean;
}

export interface MessageStore {
  /** Opens files and recovers; returns the recovery report. */
  load(): Promise<RecoveryReport>;
  /** What load() returned; undefined before it. */
  readonly recoveryReport: RecoveryReport | undefined;
  /** Starts flush and retention services. */
  start(): Promise<void>;
  /** Flushes everything, writes the checkpoint, removes the abort file, closes files. */
  shutdown(): Promise<void>;

  /** Resolves once the record is in the files (and, under SYNC_FLUSH, on disk unless waitStoreMsgOK is false). */
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
  /**
   * Flow control (RocketMQ's isOSPageCacheBusy): ms appends have been waiting on stalled I/O (a
   * segment roll, a group-commit fdatasync, a thread-pool write); 0 when none are. Puts are
   * refused with OS_PAGE_CACHE_BUSY once it passes osPageCacheBusyTimeOutMills.
   */
  writeStallMillis(): number;
  /** Appends waiting on the commit log now (a roll, their fdatasync or write): the put queue's size. */
  waitingAppends(): number;

  /**
   * Up to maxMsgNums records of a queue from `offset` (and at most maxBytes, but at least one), filtered.
   * With `lendBuffers`, the records may be read into buffers the store lends (result.lent), to be
   * given back with releaseMessageBuffers when nothing refers to them any more.
   */
  getMessage(
    group: string,
    topic: string,
    queueId: number,
    offset: number,
    maxMsgNums: number,
    maxBytes?: number,
    filter?: MessageFilter,
    opts?: GetMessageOptions,
  ): Promise<GetMessageResult>;
  /** Gives back the buffers a getMessage result borrowed (result.lent); its messageBuffers must not be used after this. Idempotent. */
  releaseMessageBuffers(result: GetMessageResult): void;
  /** Next queue offset to be written (0 for an unknown queue). */
  getMaxOffsetInQueue(topic: string, queueId: number): number;
  /** First queue offset still readable (retention moves it forward). */
  getMinOffsetInQueue(topic: string, queueId: number): number;
  /** Commit-log offset of a queue offset's message; -1 if there is none. */
  getCommitLogOffsetInQueue(topic: string, queueId: number, consumeQueueOffset: number): Promise<number>;
  /** First offset stored at/after `timestamp` ('lower', the default), or last stored at/before it ('upper'). */
  getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number, boundary?: 'lower' | 'upper'): Promise<number>;
  /** Store time of the oldest message of a queue, or of the whole log without topic/queueId; -1 if none. */
  getEarliestMessageTime(topic?: string, queueId?: number): Promise<number>;
  /** Store time of a queue offset's message; -1 if there is none. */
  getMessageStoreTimeStamp(topic: string, queueId: number, consumeQueueOffset: number): Promise<number>;
  /**
   * The stored record at a commit-log offset (VIEW_MESSAGE_BY_ID). With `decodeProperties: false`
   * the properties are left in `propertiesString` (the Map stays empty).
   */
  lookMessageByOffset(commitLogOffset: number, opts?: { decodeProperties?: boolean }): Promise<DecodedMessage | undefined>;
  /** The raw record bytes at a commit-log offset (`size` when known). */
  selectOneMessageByOffset(commitLogOffset: number, size?: number): Promise<Buffer | undefined>;
  /** Messages of `topic` stored in [begin, end] with `key` among their KEYS or as UNIQ_KEY. */
  queryMessage(topic: string, key: string, maxNum: number, begin: number, end: number): Promise<QueryMessageResult>;
  /** The message with this UNIQ_KEY (client msgId), stored in [begin, end]. */
  queryMessageByUniqKey(topic: string, uniqKey: string, begin?: number, end?: number): Promise<QueryMessageResult>;

  /** Removes the topics' consume queues (memory and files); commit-log records age out as usual. */
  deleteTopics(topics: Iterable<string>): Promise<number>;
  /** One retention pass now (it also runs on a timer); `force` deletes expired files at any hour. */
  runCleanup(opts?: { force?: boolean }): Promise<void>;
  /** Offset of the oldest commit-log byte still stored. */
  getMinPhyOffset(): number;
  /** End of the commit log: where the next record goes. */
  getMaxPhyOffset(): number;
  /**
   * Slave side of replication: whole records (and segment-closing blanks) from the master at
   * `offset`, which must be getMaxPhyOffset(); checked, appended and dispatched. False, with
   * nothing appended, for a wrong offset or a damaged chunk.
   */
  appendRawCommitLog(offset: number, data: Buffer): Promise<boolean>;
  /** Offset of the commit log below which everything is on disk (fdatasynced). */
  getFlushedWhere(): number;
  /** Slave: the master's HA address (from the name servers' answer to the registration). */
  updateHaMasterAddress(addr: string): void;
  /** Replication state: a master's slaves and how far behind they are, a slave's connection. */
  getHaStatus(): HAStatus;
  /** Called for every message added to a consume queue; returns the unsubscribe. */
  onDispatch(listener: (e: DispatchEvent) => void): () => void;
  /** Offsets, sizes, disk state and counters as name → value (broker runtime info, metrics). */
  getRuntimeInfo(): Record<string, number | string>;
  /** The store's counters (a copy). */
  getStats(): StoreStats;
  /** Timer messages (RocketMQ 5's TimerMessageStore); undefined when timerWheelEnable is off. */
  readonly timerMessageStore: TimerMessageStoreView | undefined;
}

/** What the broker uses of the timer: when delivery runs, its state, the slave's copy of the master's progress. */
export interface TimerMessageStoreView {
  /** Starts delivering due timers (masters only: RocketMQ's shouldRunningDequeue). */
  startDequeue(): void;
  /** Stops delivering; resolves once the slot in progress settled (it comes again after a restart). */
  stopDequeue(): Promise<void>;
  readonly dequeueRunning: boolean;
  status(): TimerStatus;
  /** Every timer message due at or before this time (ms) has been delivered (0: unknown yet). */
  deliveredUpTo(): Promise<number>;
  /** The GET_TIMER_CHECK_POINT body: the checkpoint as last flushed (56 bytes). */
  checkpointBody(): Buffer;
  /** The GET_TIMER_METRICS body (config/timermetrics). */
  metricsJson(): string;
  /** Pending timers per real topic. */
  timingCounts(): ReadonlyMap<string, number>;
  /** Timers enqueued and delivered since start, per real topic. */
  readonly enqueueTotal: ReadonlyMap<string, number>;
  readonly dequeueTotal: ReadonlyMap<string, number>;
  /** Slave: the master's read time and queue progress. */
  syncFromMaster(m: TimerCheckpointData): void;
}

/** Replication as one side sees it (GET_BROKER_RUNTIME_INFO, metrics). */
export interface HAStatus {
  role: 'ASYNC_MASTER' | 'SYNC_MASTER' | 'SLAVE';
  /** Master: the connected slaves, the furthest ahead first. */
  slaves: HASlaveStatus[];
  /** Master: port of the HA listener (0: none). */
  haPort: number;
  /** Slave: the connection to the master. */
  master: HAClientStatus | undefined;
}

/** What a master knows about one connected slave. */
export interface HASlaveStatus {
  addr: string;
  /** The slave's commit-log end as last reported; -1 before its first report. */
  ackOffset: number;
  /** Master's log end minus ackOffset. */
  behindBytes: number;
}

/** A slave's replication connection. */
export interface HAClientStatus {
  masterAddress: string;
  connected: boolean;
  /** The local commit-log end. */
  localOffset: number;
  /** The master's end as far as its frames tell (their offset + size), -1 before the first. */
  masterOffset: number;
  /** masterOffset - localOffset (0 when unknown). */
  behindBytes: number;
}
