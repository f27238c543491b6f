// Message record codec, properties codec, msgIds, Java String.hashCode and CRC32 (pure, no I/O).
export * from './hash.js';
export * from './crc32.js';
export * from './int64.js';
export * from './address.js';
export * from './properties.js';
export * from './record.js';
export * from './batch.js';
export * from './msgid.js';
