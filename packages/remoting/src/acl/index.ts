// ACL 1.0 (plain_acl.yml) for servers: rules, the file watcher, the validator and the remoting
// guard. A subpath of its own so SDK users never load the YAML parser.
export * from './permission.js';
export * from './remote-address.js';
export * from './plain-acl-config.js';
export * from './validator.js';
export * from './acl-file.js';
export * from './guard.js';
export * from './credentials.js';
