export * from './message.js';
export * from './properties.js';
export * from './config.js';
export * from './net.js';
export * from './vocabulary.js';
export * from './recall-handle.js';
