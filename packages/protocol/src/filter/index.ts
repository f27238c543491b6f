export * from './tag.js';
export * from './sql92.js';
