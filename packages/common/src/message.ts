// Message domain types shared by the broker, the store and the clients.
// Wire/disk facts come from protocol/remoting.md §4; the code is ours.

/** Well-known property keys stored in a message's properties string (remoting.md §4.4). */
export const MessageConst = {
  PROPERTY_KEYS: 'KEYS',
  PROPERTY_TAGS: 'TAGS',
  PROPERTY_WAIT_STORE_MSG_OK: 'WAIT',
  PROPERTY_DELAY_TIME_LEVEL: 'DELAY',
  PROPERTY_RETRY_TOPIC: 'RETRY_TOPIC',
  PROPERTY_REAL_TOPIC: 'REAL_TOPIC',
  PROPERTY_REAL_QUEUE_ID: 'REAL_QID',
  PROPERTY_TRANSACTION_PREPARED: 'TRAN_MSG',
  PROPERTY_PRODUCER_GROUP: 'PGROUP',
  PROPERTY_MIN_OFFSET: 'MIN_OFFSET',
  PROPERTY_MAX_OFFSET: 'MAX_OFFSET',
  PROPERTY_BUYER_ID: 'BUYER_ID',
  PROPERTY_ORIGIN_MESSAGE_ID: 'ORIGIN_MESSAGE_ID',
  PROPERTY_TRANSFER_FLAG: 'TRANSFER_FLAG',
  PROPERTY_CORRECTION_FLAG: 'CORRECTION_FLAG',
  PROPERTY_MQ2_FLAG: 'MQ2_FLAG',
  PROPERTY_RECONSUME_TIME: 'RECONSUME_TIME',
  PROPERTY_MSG_REGION: 'MSG_REGION',
  PROPERTY_TRACE_SWITCH: 'TRACE_ON',
  PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX: 'UNIQ_KEY',
  PROPERTY_MAX_RECONSUME_TIMES: 'MAX_RECONSUME_TIMES',
  PROPERTY_CONSUME_START_TIMESTAMP: 'CONSUME_START_TIME',
  PROPERTY_TRANSACTION_PREPARED_QUEUE_OFFSET: 'TRAN_PREPARED_QUEUE_OFFSET',
  PROPERTY_TRANSACTION_CHECK_TIMES: 'TRANSACTION_CHECK_TIMES',
  PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS: 'CHECK_IMMUNITY_TIME_IN_SECONDS',
  PROPERTY_TRANSACTION_ID: '__transactionId__',
  PROPERTY_INSTANCE_ID: 'INSTANCE_ID',
  PROPERTY_CORRELATION_ID: 'CORRELATION_ID',
  PROPERTY_MESSAGE_REPLY_TO_CLIENT: 'REPLY_TO_CLIENT',
  PROPERTY_MESSAGE_TTL: 'TTL',
  PROPERTY_REPLY_MESSAGE_ARRIVE_TIME: 'ARRIVE_TIME',
  PROPERTY_CLUSTER: 'CLUSTER',
  PROPERTY_MESSAGE_TYPE: 'MSG_TYPE',
  PROPERTY_POP_CK: 'POP_CK',
  PROPERTY_FIRST_POP_TIME: '1ST_POP_TIME',
  PROPERTY_SHARDING_KEY: '__SHARDINGKEY',
  PROPERTY_INNER_MULTI_DISPATCH: 'INNER_MULTI_DISPATCH',
  PROPERTY_INNER_MULTI_QUEUE_OFFSET: 'INNER_MULTI_QUEUE_OFFSET',
  PROPERTY_TIMER_DELAY_SEC: 'TIMER_DELAY_SEC',
  PROPERTY_TIMER_DELIVER_MS: 'TIMER_DELIVER_MS',
  PROPERTY_TIMER_DELAY_MS: 'TIMER_DELAY_MS',
  PROPERTY_TIMER_OUT_MS: 'TIMER_OUT_MS',
  PROPERTY_TIMER_ENQUEUE_MS: 'TIMER_ENQUEUE_MS',
  PROPERTY_TIMER_DEQUEUE_MS: 'TIMER_DEQUEUE_MS',
  PROPERTY_TIMER_ROLL_TIMES: 'TIMER_ROLL_TIMES',
  PROPERTY_TIMER_DEL_UNIQKEY: 'TIMER_DEL_UNIQKEY',
  /** 4.x (ONS) delivery time: RocketMQ only uses it to classify a message as DELAY in metrics; it is not scheduled. */
  PROPERTY_START_DELIVER_TIME: '__STARTDELIVERTIME',
  PROPERTY_DLQ_ORIGIN_TOPIC: 'DLQ_ORIGIN_TOPIC',
  PROPERTY_DLQ_ORIGIN_MESSAGE_ID: 'DLQ_ORIGIN_MESSAGE_ID',
  PROPERTY_BORN_HOST: '__BORNHOST',
  PROPERTY_BORN_TIMESTAMP: 'BORN_TIMESTAMP',
  PROPERTY_INNER_NUM: 'INNER_NUM',
  PROPERTY_INNER_BASE: 'INNER_BASE',
  /** Properties whose name starts with this prefix live only in memory and are never stored. */
  PROPERTY_TRANSIENT_PREFIX: '__RMQ.TRANSIENT.',
  /** Several keys in KEYS are separated by a space. */
  KEY_SEPARATOR: ' ',
  /** Separator between a key and its value in the properties string (char 1). */
  NAME_VALUE_SEPARATOR: '\u0001',
  /** Separator after each key/value pair in the properties string (char 2). */
  PROPERTY_SEPARATOR: '\u0002',
} as const;

/** Bits of a record's SYSFLAG field (remoting.md §4.2). */
export const MessageSysFlag = {
  COMPRESSED_FLAG: 0x1,
  MULTI_TAGS_FLAG: 0x2,
  TRANSACTION_NOT_TYPE: 0x0,
  TRANSACTION_PREPARED_TYPE: 0x4,
  TRANSACTION_COMMIT_TYPE: 0x8,
  TRANSACTION_ROLLBACK_TYPE: 0xc,
  /** Mask of the two transaction-type bits. */
  TRANSACTION_TYPE_MASK: 0xc,
  BORNHOST_V6_FLAG: 0x10,
  STOREHOSTADDRESS_V6_FLAG: 0x20,
  NEED_UNWRAP_FLAG: 0x40,
  INNER_BATCH_FLAG: 0x80,
  COMPRESSION_LZ4_TYPE: 0x100,
  COMPRESSION_ZSTD_TYPE: 0x200,
  COMPRESSION_ZLIB_TYPE: 0x300,
  /** Mask of the compression-type bits 8..10. */
  COMPRESSION_TYPE_MASK: 0x700,
} as const;

export type TransactionType = 0x0 | 0x4 | 0x8 | 0xc;

/** The transaction type bits of a sysFlag (NOT_TYPE, PREPARED, COMMIT or ROLLBACK). */
export function getTransactionValue(sysFlag: number): TransactionType {
  return (sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK) as TransactionType;
}

/** sysFlag with its transaction bits replaced by `type`. */
export function resetTransactionValue(sysFlag: number, type: TransactionType): number {
  return (sysFlag & ~MessageSysFlag.TRANSACTION_TYPE_MASK) | type;
}

/** PREPARED and ROLLBACK records take queue offset 0 and never reach a consume queue. */
export function isTransactionHalfOrRollback(sysFlag: number): boolean {
  const t = getTransactionValue(sysFlag);
  return t === MessageSysFlag.TRANSACTION_PREPARED_TYPE || t === MessageSysFlag.TRANSACTION_ROLLBACK_TYPE;
}

/** A host and port as stored in a record (IPv4 or IPv6 literal; IPv4-mapped IPv6 is treated as IPv4). */
export interface SocketAddress {
  address: string;
  port: number;
}

export type MessageProperties = Map<string, string>;

/** A message as a producer builds it: topic, user flag, body and properties. */
export class Message {
  topic: string;
  flag: number;
  body: Buffer;
  properties: MessageProperties;
  /** Id of the transaction this message belongs to (client side only). */
  transactionId?: string;

  constructor(
    topic: string,
    body: Buffer = Buffer.alloc(0),
    options: {
      tags?: string;
      keys?: string | readonly string[];
      flag?: number;
      properties?: MessageProperties | Record<string, string>;
      /** Deliver at this time (ms since the epoch, or a Date): a RocketMQ 5 timer message (TIMER_DELIVER_MS). */
      deliveryTimestamp?: number | Date;
    } = {},
  ) {
    this.topic = topic;
    this.body = body;
    this.flag = options.flag ?? 0;
    this.properties = toPropertiesMap(options.properties);
    if (options.tags !== undefined) this.setTags(options.tags);
    if (options.keys !== undefined) this.setKeys(options.keys);
    if (options.deliveryTimestamp !== undefined) this.deliverAt(options.deliveryTimestamp);
  }

  /**
   * When the broker delivers this message (ms since the epoch; TIMER_DELIVER_MS), undefined for an
   * ordinary message. The broker's timer delivers it at most timerPrecisionMs (1 s) late, up to
   * timerMaxDelaySec (3 days) ahead; a time in the past means now.
   */
  get deliveryTimestamp(): number | undefined {
    const v = this.properties.get(MessageConst.PROPERTY_TIMER_DELIVER_MS);
    return v === undefined ? undefined : Number(v);
  }

  set deliveryTimestamp(at: number | undefined) {
    if (at === undefined) this.properties.delete(MessageConst.PROPERTY_TIMER_DELIVER_MS);
    else this.deliverAt(at);
  }

  /** Makes this a timer message delivered at `at` (TIMER_DELIVER_MS); returns the message. */
  deliverAt(at: number | Date): this {
    const ms = at instanceof Date ? at.getTime() : at;
    if (!Number.isSafeInteger(ms)) throw new RangeError(`delivery time ${String(at)} is not a whole number of ms since the epoch`);
    return this.setDeliverTimeMs(ms);
  }

  /** Java's Message.setDeliverTimeMs (TIMER_DELIVER_MS, absolute ms). */
  setDeliverTimeMs(ms: number): this {
    this.properties.set(MessageConst.PROPERTY_TIMER_DELIVER_MS, String(Math.trunc(ms)));
    return this;
  }

  /** Java's Message.setDelayTimeSec (TIMER_DELAY_SEC, seconds from when the broker stores it; wins over the others). */
  setDelayTimeSec(sec: number): this {
    this.properties.set(MessageConst.PROPERTY_TIMER_DELAY_SEC, String(Math.trunc(sec)));
    return this;
  }

  /** Java's Message.setDelayTimeMs (TIMER_DELAY_MS, ms from when the broker stores it). */
  setDelayTimeMs(ms: number): this {
    this.properties.set(MessageConst.PROPERTY_TIMER_DELAY_MS, String(Math.trunc(ms)));
    return this;
  }

  getProperty(name: string): string | undefined {
    return this.properties.get(name);
  }

  putProperty(name: string, value: string): void {
    this.properties.set(name, value);
  }

  clearProperty(name: string): void {
    this.properties.delete(name);
  }

  getTags(): string | undefined {
    return this.properties.get(MessageConst.PROPERTY_TAGS);
  }

  setTags(tags: string): void {
    this.properties.set(MessageConst.PROPERTY_TAGS, tags);
  }

  /** KEYS as stored: keys joined by a space. */
  getKeys(): string | undefined {
    return this.properties.get(MessageConst.PROPERTY_KEYS);
  }

  /** KEYS split on spaces, empty entries dropped. */
  getKeyList(): string[] {
    return splitKeys(this.getKeys());
  }

  setKeys(keys: string | readonly string[]): void {
    this.properties.set(MessageConst.PROPERTY_KEYS, typeof keys === 'string' ? keys : keys.join(MessageConst.KEY_SEPARATOR));
  }

  /** Delay level 1..18, 0 when unset or unparsable. */
  getDelayTimeLevel(): number {
    const v = this.properties.get(MessageConst.PROPERTY_DELAY_TIME_LEVEL);
    if (v === undefined) return 0;
    const n = Number.parseInt(v, 10);
    return Number.isFinite(n) ? n : 0;
  }

  setDelayTimeLevel(level: number): void {
    this.properties.set(MessageConst.PROPERTY_DELAY_TIME_LEVEL, String(level));
  }

  /** WAIT defaults to true when absent (only "false" turns it off). */
  isWaitStoreMsgOK(): boolean {
    return this.properties.get(MessageConst.PROPERTY_WAIT_STORE_MSG_OK) !== 'false';
  }

  setWaitStoreMsgOK(wait: boolean): void {
    this.properties.set(MessageConst.PROPERTY_WAIT_STORE_MSG_OK, String(wait));
  }

  getUniqKey(): string | undefined {
    return this.properties.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX);
  }

  setUniqKey(key: string): void {
    this.properties.set(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX, key);
  }
}

/** A stored message: the record's fields as decoded from the commit log (remoting.md §4.1). */
export interface MessageExt {
  topic: string;
  flag: number;
  body: Buffer;
  properties: MessageProperties;
  queueId: number;
  /** Whole record length in bytes. */
  storeSize: number;
  /** Consume-queue (logical) offset. */
  queueOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: SocketAddress;
  storeTimestamp: number;
  storeHost: SocketAddress;
  /** Offset msgId: store host + commit-log offset in hex (remoting.md §4.6). */
  msgId: string;
  /** Physical commit-log offset of the record. */
  commitLogOffset: number;
  /** CRC32 of the stored body, masked with 0x7FFFFFFF. */
  bodyCRC: number;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
}

/** Splits a KEYS value on spaces, dropping empty parts. */
export function splitKeys(keys: string | undefined): string[] {
  if (keys === undefined || keys.length === 0) return [];
  return keys.split(MessageConst.KEY_SEPARATOR).filter((k) => k.length > 0);
}

export function toPropertiesMap(p: MessageProperties | Record<string, string> | undefined): MessageProperties {
  if (p === undefined) return new Map();
  if (p instanceof Map) return new Map(p);
  return new Map(Object.entries(p));
}
