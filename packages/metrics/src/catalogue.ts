/**
 * Metric names shared with RocketMQ 5, so its dashboards and alerts work unchanged. Domain code
 * refers to these through probes; only this package turns them into prom-client families.
 */
export const METRIC = {
  messagesInTotal: { name: 'rocketmq_messages_in_total', help: 'Messages written by producers', labelNames: ['topic', 'message_type'] },
  messagesOutTotal: { name: 'rocketmq_messages_out_total', help: 'Messages delivered to consumers', labelNames: ['topic', 'consumer_group'] },
  throughputInTotal: { name: 'rocketmq_throughput_in_total', help: 'Bytes written by producers', labelNames: ['topic'] },
  throughputOutTotal: { name: 'rocketmq_throughput_out_total', help: 'Bytes delivered to consumers', labelNames: ['topic', 'consumer_group'] },
  consumerLagMessages: {
    name: 'rocketmq_consumer_lag_messages',
    help: 'Messages not yet consumed by the group',
    labelNames: ['topic', 'consumer_group'],
  },
  consumerLagLatency: {
    name: 'rocketmq_consumer_lag_latency',
    help: 'Age in milliseconds of the oldest message the group has not consumed',
    labelNames: ['topic', 'consumer_group'],
  },
  rpcLatency: { name: 'rocketmq_rpc_latency', help: 'Request handling time in milliseconds', labelNames: ['protocol_type', 'request_code', 'response_code'] },
  storageSize: { name: 'rocketmq_storage_size', help: 'Bytes used by the message store', labelNames: [] },
  storageFlushBehindBytes: {
    name: 'rocketmq_storage_flush_behind_bytes',
    help: 'Bytes appended to the commit log but not yet flushed to disk',
    labelNames: [],
  },
  storageFlushLatency: {
    name: 'rocketmq_storage_flush_latency',
    help: 'Time of one flush (write and fdatasync) in milliseconds, per store file kind',
    labelNames: ['file_kind'],
  },
  replicationBehindBytes: {
    name: 'rocketmq_storage_replication_behind_bytes',
    help: 'Commit-log bytes a slave lacks: on a slave, behind its master; on a master, its furthest-behind connected slave',
    labelNames: ['role'],
  },
  storageDiskUsedRatio: { name: 'rocketmq_storage_disk_used_ratio', help: 'Used fraction (0-1) of the disk holding the commit log', labelNames: [] },
  popReviveInMessageTotal: {
    name: 'rocketmq_pop_revive_in_message_total',
    help: 'POP checkpoint and ack records read by the revive service',
    labelNames: ['revive_message_type'],
  },
  popReviveRetryMessagesTotal: {
    name: 'rocketmq_pop_revive_retry_messages_total',
    help: 'Un-acked popped messages put back into their pop retry topic',
    labelNames: ['topic', 'consumer_group'],
  },
  popReviveLag: { name: 'rocketmq_pop_revive_lag', help: 'Records of a revive queue not yet settled by the revive service', labelNames: ['queue_id'] },
  halfMessages: { name: 'rocketmq_half_messages', help: 'Transactions waiting for their commit or rollback (open half messages)', labelNames: ['topic'] },
  commitMessagesTotal: { name: 'rocketmq_commit_messages_total', help: 'Transactions committed', labelNames: ['topic'] },
  rollbackMessagesTotal: { name: 'rocketmq_rollback_messages_total', help: 'Transactions rolled back', labelNames: ['topic'] },
  // Timer messages (RocketMQ 5's DefaultStoreMetricsConstant).
  timerEnqueueTotal: { name: 'rocketmq_timer_enqueue_total', help: 'Timer messages taken into the timer wheel, per real topic', labelNames: ['topic'] },
  timerDequeueTotal: { name: 'rocketmq_timer_dequeue_total', help: 'Timer messages delivered by the timer wheel, per real topic', labelNames: ['topic'] },
  timingMessages: { name: 'rocketmq_timing_messages', help: 'Timer messages waiting for their delivery time, per real topic', labelNames: ['topic'] },
  timerEnqueueLag: { name: 'rocketmq_timer_enqueue_lag', help: 'Messages in rmq_sys_wheel_timer not yet taken into the timer wheel', labelNames: [] },
  timerEnqueueLatency: {
    name: 'rocketmq_timer_enqueue_latency',
    help: 'Age in seconds of the oldest message not yet taken into the timer wheel (seconds, as RocketMQ 5 reports it)',
    labelNames: [],
  },
  timerDequeueLag: {
    name: 'rocketmq_timer_dequeue_lag',
    help: 'Timers in the wheel from its read time on (RocketMQ 5: dequeue behind messages)',
    labelNames: [],
  },
  timerDequeueLatency: {
    name: 'rocketmq_timer_dequeue_latency',
    help: 'Seconds the timer wheel read time is behind the clock (seconds, as RocketMQ 5 reports it)',
    labelNames: [],
  },
  // No RocketMQ name for these two.
  transactionChecksTotal: {
    name: 'rocketmq_transaction_checks_total',
    help: 'Transaction state checks sent to producers (CHECK_TRANSACTION_STATE)',
    labelNames: ['topic'],
  },
  transactionDiscardsTotal: {
    name: 'rocketmq_transaction_discards_total',
    help: 'Transactions given up after transactionCheckMax checks (moved to TRANS_CHECK_MAX_TIME_TOPIC)',
    labelNames: ['topic'],
  },
} as const;
