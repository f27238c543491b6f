// @rocketmq-ts/store: the storage engine (commit log, consume queues, index, checkpoint, recovery, retention).
export * from './config.js';
export * from './status.js';
export * from './probe.js';
export * from './message-store.js';
export * from './default-message-store.js';
export * from './config-file-manager.js';
export * from './filter.js';
export { CommitLog, type Segment, type ScanResult } from './commitlog/commit-log.js';
export { ConsumeQueue, CQ_UNIT_SIZE, CQ_BLANK_SIZE } from './consumequeue/consume-queue.js';
export { IndexFile, INDEX_HEADER_SIZE, INDEX_ENTRY_SIZE } from './keyindex/index-file.js';
export { IndexService, indexFileName } from './keyindex/index-service.js';
export { StoreCheckpoint, CHECKPOINT_SIZE } from './checkpoint.js';
export { setFileWriteObserver, type FileWriteObserver } from './fsutil.js';
export { ConsumeQueueTable } from './consumequeue/consume-queue-table.js';
export { CommitLogDispatcher, type DispatchRequest } from './commit-log-dispatcher.js';
export { RawCommitLogAppender, checkRawChunk, type RawChunkCheck, type RawPiece } from './ha/raw-append.js';
export { HAService, HA_HEADER_SIZE } from './ha/ha-service.js';
export { HAClient } from './ha/ha-client.js';
export { TimerMessageStore } from './timer/timer-message-store.js';
export type { TimerStatus, TimerRecoveryReport } from './timer/timer-types.js';
export { TimerWheel, TIMER_SLOTS_TOTAL, TIMER_SLOT_SIZE, TIMER_WHEEL_LENGTH } from './timer/timer-wheel.js';
export {
  TimerLog,
  TIMER_UNIT_SIZE,
  MAGIC_DEFAULT,
  MAGIC_ROLL,
  MAGIC_DELETE,
  encodeTimerUnit,
  decodeTimerUnit,
  newTimerUnit,
  type TimerUnit,
} from './timer/timer-log.js';
export {
  TimerCheckpoint,
  encodeTimerCheckpoint,
  decodeTimerCheckpoint,
  TIMER_CHECKPOINT_BODY_SIZE,
  type TimerCheckpointData,
} from './timer/timer-checkpoint.js';
export { TimerPutHook, TIMER_TOPIC, removeProperties, setProperties } from './timer/timer-put-hook.js';
