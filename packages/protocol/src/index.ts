export * from './codes.js';
export * from './errors.js';
export * from './frame-decoder.js';
export * from './remoting-command.js';
export * from './json.js';
export * from './headers/index.js';
export * from './message/index.js';
