// The Nest-free root: connections, the client, logging. Server-side Nest parts (the transport,
// @RemotingHandler, bootstrap) are in '@rocketmq-ts/remoting/nest', so SDK users load no Nest.
export * from './logger.js';
export * from './connection.js';
export * from './client.js';
export * from './process.js';
export * from './tls.js';
export * from './tls-config.js';
