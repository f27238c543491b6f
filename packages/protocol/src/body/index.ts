// Route domain types and the JSON / binary bodies of the name-server requests.
export * from './route.js';
export * from './json-bodies.js';
export * from './register-broker.js';
export * from './heartbeat.js';
export * from './json-fields.js';
