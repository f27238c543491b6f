import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { makeTempDir, removeTempDirs } from '@rocketmq-ts/testing';
import { ignoredButKnown, isIgnoredJavaProperty, loadBrokerConfig, updatePropertiesFile } from './config.js';

afterAll(() => removeTempDirs());

describe('loadBrokerConfig', () => {
  it('reads RocketMQ names, derives store paths and forces master id 0', () => {
    const { config } = loadBrokerConfig({
      overrides: { brokerId: '3', storePathRootDir: '/data/s', listenPort: '10921', brokerIP1: '10.0.0.5', flushDiskType: 'SYNC_FLUSH' },
    });
    expect(config.brokerId).toBe(0);
    expect(config.haListenPort).toBe(10922);
    expect(config.brokerIP2).toBe('10.0.0.5');
    expect(config.store.storePathCommitLog).toBe('/data/s/commitlog');
    expect(config.store.flushDiskType).toBe('SYNC_FLUSH');
    expect(config.store.storeHost).toEqual({ address: '10.0.0.5', port: 10921 });
    expect(config.flat['messageDelayLevel']).toBe('1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h');
  });

  it('a slave needs brokerId > 0', () => {
    expect(() => loadBrokerConfig({ overrides: { brokerRole: 'SLAVE', brokerId: '0' } })).toThrow(/brokerId > 0/);
    expect(loadBrokerConfig({ overrides: { brokerRole: 'SLAVE', brokerId: '1' } }).config.brokerId).toBe(1);
  });

  it('knows the Java-only properties it accepts silently', () => {
    expect(isIgnoredJavaProperty('sendMessageThreadPoolNums')).toBe(true);
    expect(isIgnoredJavaProperty('brokerNmae')).toBe(false);
  });
});

describe('updatePropertiesFile', () => {
  it('replaces values in place, keeps comments and order, appends new keys', () => {
    const path = join(makeTempDir('props-spec'), 'broker.conf');
    writeFileSync(path, '# comment\nbrokerName = broker-a\nfileReservedTime=48\n\n! bang comment\nlistenPort:10911\n');
    updatePropertiesFile(
      path,
      new Map([
        ['fileReservedTime', '24'],
        ['listenPort', '10921'],
        ['autoCreateTopicEnable', 'false'],
      ]),
    );
    expect(readFileSync(path, 'utf8')).toBe(
      '# comment\nbrokerName = broker-a\nfileReservedTime=24\n\n! bang comment\nlistenPort=10921\nautoCreateTopicEnable=false\n',
    );
  });
});

describe('RocketMQ properties accepted without effect', () => {
  it('never include a property this broker acts on', () => {
    expect(ignoredButKnown()).toEqual([]);
    expect(isIgnoredJavaProperty('slaveReadEnable')).toBe(false);
    expect(isIgnoredJavaProperty('sendMessageThreadPoolNums')).toBe(true);
  });
});
