export * from './consumer/allocate.js';
