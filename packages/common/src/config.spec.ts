import { describe, expect, it } from '@jest/globals';
import { envNameOf, loadConfig, parseServerArgs, printConfig, ConfigError } from './config.js';
import { parseProperties, stringifyProperties } from './properties.js';

const schema = {
  listenPort: { type: 'int', default: 9876, min: 1, max: 65535 },
  namesrvAddr: { type: 'string', default: '' },
  autoCreateTopicEnable: { type: 'bool', default: true },
  flushDiskType: { type: 'enum', default: 'ASYNC_FLUSH', values: ['ASYNC_FLUSH', 'SYNC_FLUSH'] },
} as const;

describe('properties', () => {
  it('reads the forms Java accepts', () => {
    const p = parseProperties('# c\n! c2\na=1\nb : 2\nc 3\n  d=x\\\n   y\ne=\\u0041\\tq\nf\\=g=h\n\nempty=\n');
    expect(Object.fromEntries(p)).toEqual({ a: '1', b: '2', c: '3', d: 'xy', e: 'A\tq', 'f=g': 'h', empty: '' });
  });
  it('round-trips', () => {
    const src = { 'a b': ' lead', 'k=1': 'v:2#x', n: 'line\nbreak' };
    expect(Object.fromEntries(parseProperties(stringifyProperties(src)))).toEqual(src);
  });
});

describe('loadConfig', () => {
  it('applies defaults, file, env and overrides in that order', () => {
    const warnings: string[] = [];
    const { config, unknown } = loadConfig(schema, {
      text: 'listenPort=10000\nflushDiskType=sync_flush\nbogus=1\nautoCreateTopicEnable=false',
      env: { ROCKETMQ_LISTEN_PORT: '10001', NAMESRV_ADDR: '127.0.0.1:9876' },
      overrides: { autoCreateTopicEnable: 'true' },
      warn: (m) => warnings.push(m),
    });
    expect(config).toEqual({ listenPort: 10001, namesrvAddr: '127.0.0.1:9876', autoCreateTopicEnable: true, flushDiskType: 'SYNC_FLUSH' });
    expect([...unknown.keys()]).toEqual(['bogus']);
    expect(warnings[0]).toContain('bogus');
  });
  it('rejects invalid values with the property name', () => {
    expect(() => loadConfig(schema, { text: 'listenPort=abc' })).toThrow(/listenPort: expected an integer/);
    expect(() => loadConfig(schema, { text: 'listenPort=70000' })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { text: 'autoCreateTopicEnable=yes' })).toThrow(/autoCreateTopicEnable/);
    expect(() => loadConfig(schema, { text: 'flushDiskType=FAST' })).toThrow(/ASYNC_FLUSH, SYNC_FLUSH/);
  });
  it('names env variables as RocketMQ does', () => {
    expect(envNameOf('listenPort')).toBe('ROCKETMQ_LISTEN_PORT');
    expect(envNameOf('mappedFileSizeCommitLog')).toBe('ROCKETMQ_MAPPED_FILE_SIZE_COMMIT_LOG');
    expect(envNameOf('tls.server.certPath')).toBe('ROCKETMQ_TLS_SERVER_CERT_PATH');
    expect(envNameOf('tls.server.need.client.auth')).toBe('ROCKETMQ_TLS_SERVER_NEED_CLIENT_AUTH');
  });
  it('prints sorted properties', () => {
    expect(printConfig({ b: 1, a: true })).toBe('a=true\nb=1\n');
  });
});

describe('parseServerArgs', () => {
  it('reads -c -n -p and --overrides', () => {
    expect(parseServerArgs(['-c', 'x.conf', '-n', 'h:1', '-p', '--listenPort=5', '--brokerName', 'b'])).toEqual({
      configFile: 'x.conf',
      namesrvAddr: 'h:1',
      printConfig: true,
      help: false,
      overrides: { listenPort: '5', brokerName: 'b' },
    });
    expect(() => parseServerArgs(['-c'])).toThrow(/needs a value/);
    expect(() => parseServerArgs(['what'])).toThrow(/unknown argument/);
  });
});
