// @rocketmq-ts/proxy: the RocketMQ 5 gRPC front door (apache.rocketmq.v2.MessagingService).
export * from './state/index.js';
export * from './config.js';
export * from './grpc/status.js';
export * from './grpc/proto.js';
