export * from './codec.js';
export * from './namesrv.js';
export * from './producer.js';
export * from './consumer.js';
export * from './admin.js';
export * from './pop.js';
