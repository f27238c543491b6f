export * from './logger.js';
export * from './connection.js';
export * from './handlers.js';
export * from './server.js';
export * from './client.js';
export * from './bootstrap.js';
