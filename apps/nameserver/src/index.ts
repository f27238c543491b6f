// Library surface of the name server (the process entry is main.ts).
export * from './config.js';
export * from './route-info.manager.js';
export * from './kv-config.manager.js';
export * from './metrics.js';
export * from './namesrv.processor.js';
export * from './namesrv.lifecycle.js';
export * from './app.module.js';
