// @rocketmq-ts/proxy: the RocketMQ 5 gRPC front door (apache.rocketmq.v2.MessagingService).
export * from './state/index.js';
