// @rocketmq-ts/admin: the admin SDK (MQAdmin) and the mqadmin command line (runCli).
export * from './admin.js';
export * from './format.js';
export type { ConsumerRunningInfo, ClientSubscription, ClientQueueInfo, ConsumeDirectlyResult } from './consumer-running-info.js';
export type { HalfMessage, HalfMessageScan, HalfScanOptions, HalfScanProgress } from './half-messages.js';
export type { WhereIsMessageResult, StoredCopy, GroupProgress, GroupConsumeState, RetryCopy, TransactionInfo, TimerInfo } from './where-is-message.js';
export { runCli, parseTimestamp, COMMAND_NAMES, type CliIO } from './cli.js';
