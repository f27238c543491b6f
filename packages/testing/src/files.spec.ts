import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseProperties } from '@rocketmq-ts/common';
import { appMain, makeTempDir, removeTempDirs, repoRoot, writeConf } from './files.js';

describe('files', () => {
  it('finds the repo root and app entry points', () => {
    const root = repoRoot();
    expect(existsSync(join(root, 'pnpm-workspace.yaml'))).toBe(true);
    expect(appMain('nameserver')).toBe(join(root, 'apps', 'nameserver', 'dist', 'main.js'));
  });

  it('writes a properties file that the common parser reads back, and cleans temp dirs', () => {
    const dir = makeTempDir('files-spec');
    const path = writeConf(dir, 'broker.conf', { brokerName: 'broker-a', listenPort: 10911, autoCreateTopicEnable: true, storePathRootDir: '/tmp/a b' });
    const props = parseProperties(readFileSync(path, 'utf8'));
    expect(Object.fromEntries(props)).toEqual({
      brokerName: 'broker-a',
      listenPort: '10911',
      autoCreateTopicEnable: 'true',
      storePathRootDir: '/tmp/a b',
    });
    removeTempDirs();
    expect(existsSync(dir)).toBe(false);
  });
});
