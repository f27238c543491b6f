// The MessageStore contract run against DefaultMessageStore (small segments, so tests cross them).
import { DefaultMessageStore, silentLogger } from '../../src/index.js';
import { copyAsCrashed, smallConfig, tearCommitLogTail } from '../helpers.js';
import { describeMessageStoreContract } from './message-store-contract.js';

describeMessageStoreContract('DefaultMessageStore', {
  create: ({ dir, now, config }) =>
    new DefaultMessageStore({
      logger: silentLogger,
      diskUsage: async () => ({ totalBytes: 1e12, freeBytes: 9e11 }),
      ...(now !== undefined ? { now } : {}),
      config: smallConfig(dir, config),
    }),
  crash: async (_store, dir) => copyAsCrashed(dir),
  tearTail: tearCommitLogTail,
});
