// Expected outcomes are statuses, not exceptions.

export const PutMessageStatus = {
  PUT_OK: 'PUT_OK',
  FLUSH_DISK_TIMEOUT: 'FLUSH_DISK_TIMEOUT',
  FLUSH_SLAVE_TIMEOUT: 'FLUSH_SLAVE_TIMEOUT',
  SLAVE_NOT_AVAILABLE: 'SLAVE_NOT_AVAILABLE',
  SERVICE_NOT_AVAILABLE: 'SERVICE_NOT_AVAILABLE',
  CREATE_MAPPED_FILE_FAILED: 'CREATE_MAPPED_FILE_FAILED',
  MESSAGE_ILLEGAL: 'MESSAGE_ILLEGAL',
  PROPERTIES_SIZE_EXCEEDED: 'PROPERTIES_SIZE_EXCEEDED',
  OS_PAGE_CACHE_BUSY: 'OS_PAGE_CACHE_BUSY',
  DISK_FULL: 'DISK_FULL',
  /** A timer message while timerWheelEnable is off. */
  WHEEL_TIMER_NOT_ENABLE: 'WHEEL_TIMER_NOT_ENABLE',
  /** Timer properties that do not parse, a delivery time beyond timerMaxDelaySec, or a delete marker for the past. */
  WHEEL_TIMER_MSG_ILLEGAL: 'WHEEL_TIMER_MSG_ILLEGAL',
  /** The timer's slot is over timerCongestNumEachSlot. */
  WHEEL_TIMER_FLOW_CONTROL: 'WHEEL_TIMER_FLOW_CONTROL',
  UNKNOWN_ERROR: 'UNKNOWN_ERROR',
} as const;
export type PutMessageStatus = (typeof PutMessageStatus)[keyof typeof PutMessageStatus];

export const GetMessageStatus = {
  FOUND: 'FOUND',
  NO_MATCHED_MESSAGE: 'NO_MATCHED_MESSAGE',
  MESSAGE_WAS_REMOVING: 'MESSAGE_WAS_REMOVING',
  OFFSET_FOUND_NULL: 'OFFSET_FOUND_NULL',
  OFFSET_OVERFLOW_BADLY: 'OFFSET_OVERFLOW_BADLY',
  OFFSET_OVERFLOW_ONE: 'OFFSET_OVERFLOW_ONE',
  OFFSET_TOO_SMALL: 'OFFSET_TOO_SMALL',
  NO_MATCHED_LOGIC_QUEUE: 'NO_MATCHED_LOGIC_QUEUE',
  NO_MESSAGE_IN_QUEUE: 'NO_MESSAGE_IN_QUEUE',
} as const;
export type GetMessageStatus = (typeof GetMessageStatus)[keyof typeof GetMessageStatus];

export interface AppendMessageResult {
  /** Commit-log offset of the (first) record. */
  wroteOffset: number;
  /** Bytes appended (all records of a batch). */
  wroteBytes: number;
  /** Offset msgId; comma-joined for a batch. */
  msgId: string;
  storeTimestamp: number;
  /** Queue offset of the (first) message. */
  logicsOffset: number;
  msgNum: number;
}

export interface PutMessageResult {
  status: PutMessageStatus;
  appendResult?: AppendMessageResult;
  /** Set when the message went into the timer wheel: the slot time it will be delivered at (TIMER_OUT_MS). */
  timerOutMs?: number;
}

export interface GetMessageResult {
  status: GetMessageStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /** Stored record bytes, one slice per message (not copies). */
  messageBuffers: Buffer[];
  messageQueueOffsets: number[];
  bufferTotalSize: number;
  /**
   * The records came from further behind the end of the log than accessMessageInMemoryMaxRatio of
   * RAM: a master suggests that this consumer reads from a slave (when slaveReadEnable is on).
   */
  suggestPullingFromSlave?: boolean;
  /**
   * With getMessage's `lendBuffers`: the store's buffers that messageBuffers are views of. Give
   * them back with releaseMessageBuffers once no view is used any more (e.g. the socket wrote
   * them); a result never given back just leaves them to the collector.
   */
  lent?: Buffer[] | undefined;
}

export interface QueryMessageResult {
  messageBuffers: Buffer[];
  indexLastUpdateTimestamp: number;
  indexLastUpdatePhyoffset: number;
  bufferTotalSize: number;
}
