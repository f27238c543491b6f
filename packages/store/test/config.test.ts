// Store configuration: bad settings are StoreConfigErrors naming the property and the value.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { DefaultMessageStore, parseDelayLevels, parseDeleteWhen, resolveStoreConfig, silentLogger, StoreConfigError } from '../src/index.js';
import { rmDir, smallConfig, tmpDir } from './helpers.js';

function configError(f: () => unknown): StoreConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof StoreConfigError) return e;
    throw e;
  }
  throw new Error('no StoreConfigError thrown');
}

describe('store configuration', () => {
  it('parses delay levels and refuses anything but a duration list', () => {
    expect(parseDelayLevels('1s 5s  10m 2h 1d')).toEqual([1000, 5000, 600_000, 7_200_000, 86_400_000]);
    const e = configError(() => parseDelayLevels('1x 5s'));
    expect(e.message).toBe('messageDelayLevel: "1x 5s" is not a duration list like "1s 5s 10m 2h"');
    expect([e.name, e.property, e.value]).toEqual(['StoreConfigError', 'messageDelayLevel', '1x 5s']);
    expect(e).toBeInstanceOf(Error);
    for (const bad of ['s', '1.5s', '-1s', 'as', '5 s']) expect(configError(() => parseDelayLevels(bad)).property).toBe('messageDelayLevel');
  });

  it('parses deleteWhen hours', () => {
    expect(parseDeleteWhen('04')).toEqual([4]);
    expect(parseDeleteWhen('04; 16;')).toEqual([4, 16]);
    expect(configError(() => parseDeleteWhen('25')).message).toBe('deleteWhen: "25" is not a list of hours 0-23 like "04" or "04;16"');
  });

  it('resolveStoreConfig checks every setting it relies on', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['messageDelayLevel', { messageDelayLevel: '1s 5q' }],
      ['mappedFileSizeConsumeQueue', { mappedFileSizeConsumeQueue: 1001 }],
      ['mappedFileSizeConsumeQueue', { mappedFileSizeConsumeQueue: 0 }],
      ['mappedFileSizeCommitLog', { mappedFileSizeCommitLog: 1024 }],
      ['mappedFileSizeCommitLog', { mappedFileSizeCommitLog: Number.NaN }],
      ['commitLogWriteChunkSize', { commitLogWriteChunkSize: 0 }],
      ['flushDiskType', { flushDiskType: 'SOMETIMES' }],
      ['preallocateMode', { preallocateMode: 'fallocate' }],
      ['deleteWhen', { deleteWhen: 'four' }],
    ];
    for (const [property, over] of cases) {
      const e = configError(() => resolveStoreConfig(over));
      expect([property, e.property, e.value]).toEqual([property, property, over[property]]);
      expect(e.message.startsWith(`${property}: `)).toBe(true);
    }
    expect(resolveStoreConfig({ messageDelayLevel: '1s', deleteWhen: '' }).messageDelayLevel).toBe('1s');
  });

  it('the store constructor refuses a bad config with StoreConfigError', () => {
    expect(configError(() => new DefaultMessageStore({ logger: silentLogger, config: { messageDelayLevel: '1x 5s' } })).property).toBe('messageDelayLevel');
  });

  it('a segment larger than mappedFileSizeCommitLog is a configuration mismatch', async () => {
    const dir = tmpDir();
    try {
      fs.mkdirSync(path.join(dir, 'commitlog'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'commitlog', '00000000000000000000'), Buffer.alloc(128 * 1024));
      const s = new DefaultMessageStore({ logger: silentLogger, config: smallConfig(dir) });
      await expect(s.load()).rejects.toBeInstanceOf(StoreConfigError);
    } finally {
      rmDir(dir);
    }
  });
});
