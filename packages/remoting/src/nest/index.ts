// Server side on NestJS: RemotingServer (a custom transport), @RemotingHandler discovery,
// start-up helpers and Nest's logger routed through ours.
export * from './handlers.js';
export * from './server.js';
export * from './bootstrap.js';
export * from './logger.js';
