// The timer's reports, in a file of their own: the store's interfaces name them without importing the timer.

/** What load() found (logged, and part of the store's recovery report). */
export interface TimerRecoveryReport {
  timerLogUnitsChecked: number;
  timerLogEnd: number;
  timerLogStopReason: string;
  timerLogFilesDeleted: number;
  slotsRepaired: number;
  timerQueueOffset: number;
  timerReadTimeMs: number;
  timerPending: number;
}

/** The timer's state (runtime info, metrics, mqadmin). */
export interface TimerStatus {
  precisionMs: number;
  /** Slot the dequeue reads next; everything before was delivered. */
  currReadTimeMs: number;
  /** Wall clock floored to the precision. */
  currWriteTimeMs: number;
  /** Next timer-topic queue offset to enqueue, and the queue's end. */
  currQueueOffset: number;
  timerQueueMaxOffset: number;
  /** Messages in rmq_sys_wheel_timer not yet enqueued. */
  enqueueBehindMessages: number;
  /** Timers in the wheel from the read time on (RocketMQ's getAllCongestNum / dequeue lag). */
  pending: number;
  /** How far the read time is behind the wall clock (ms). */
  dequeueBehindMs: number;
  enqueueTps: number;
  dequeueTps: number;
  dequeueRunning: boolean;
  timerLogEnd: number;
  timerLogFiles: number;
}
