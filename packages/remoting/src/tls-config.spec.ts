import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '@rocketmq-ts/common';
import { TLS_CONFIG_SCHEMA, applyTlsConfigFile, hideTlsSecrets, tlsClientOptionsFrom, tlsClientSettingsFromEnv, tlsServerOptionsFrom } from './tls-config.js';

const dir = mkdtempSync(join(tmpdir(), 'tls-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const load = (text: string, env: Record<string, string> = {}): ReturnType<typeof loadConfig<typeof TLS_CONFIG_SCHEMA>>['config'] =>
  loadConfig(TLS_CONFIG_SCHEMA, { text, env }).config;

describe('TLS settings', () => {
  it('defaults: permissive without a certificate serves plaintext only; outgoing plaintext', () => {
    const c = load('');
    expect(c['tls.server.mode']).toBe('permissive');
    expect(tlsServerOptionsFrom(c).mode).toBe('disabled');
    expect(tlsClientOptionsFrom(c)).toBeUndefined();
  });

  it('permissive with certificate and key serves TLS; enforcing without them is an error', () => {
    const c = load('tls.server.certPath=/a.crt\ntls.server.keyPath=/a.key\ntls.server.need.client.auth=require\n');
    expect(tlsServerOptionsFrom(c)).toMatchObject({ mode: 'permissive', certPath: '/a.crt', keyPath: '/a.key', needClientAuth: 'require', authClient: true });
    expect(() => tlsServerOptionsFrom(load('tls.server.mode=enforcing'))).toThrow(ConfigError);
    expect(() => load('tls.server.mode=strict')).toThrow(/disabled, permissive, enforcing/);
  });

  it('reads ROCKETMQ_TLS_* environment variables', () => {
    const c = load('', { ROCKETMQ_TLS_SERVER_MODE: 'enforcing', ROCKETMQ_TLS_SERVER_CERT_PATH: '/s.crt', ROCKETMQ_TLS_SERVER_KEY_PATH: '/s.key' });
    expect(tlsServerOptionsFrom(c).mode).toBe('enforcing');
    const env = tlsClientSettingsFromEnv({ ROCKETMQ_TLS_CLIENT_TRUST_CERT_PATH: '/ca.crt' });
    expect(env).toEqual({ enabled: false, options: expect.objectContaining({ trustCertPath: '/ca.crt', authServer: true, testMode: false }) });
    expect(tlsClientSettingsFromEnv({ ROCKETMQ_TLS_ENABLE: 'true' }).enabled).toBe(true);
  });

  it('tls.enable turns on outgoing TLS; test mode skips verification both ways', () => {
    const c = load('tls.enable=true\ntls.client.trustCertPath=/ca.crt\ntls.test.mode.enable=true\ntls.server.certPath=/a\ntls.server.keyPath=/b\n');
    expect(tlsClientOptionsFrom(c)).toMatchObject({ trustCertPath: '/ca.crt', testMode: true });
    expect(tlsServerOptionsFrom(c).authClient).toBe(false);
  });

  it('tls.config.file fills in what the main config leaves at its default', () => {
    const file = join(dir, 'tls.properties');
    writeFileSync(file, 'tls.server.mode=enforcing\ntls.server.certPath=/file.crt\ntls.server.keyPath=/file.key\n');
    const c = applyTlsConfigFile(load(`tls.config.file=${file}\ntls.server.certPath=/main.crt\n`));
    expect(c['tls.server.mode']).toBe('enforcing');
    expect(c['tls.server.certPath']).toBe('/main.crt');
    expect(c['tls.server.keyPath']).toBe('/file.key');
    writeFileSync(file, 'tls.server.typo=1\n');
    expect(() => applyTlsConfigFile(load(`tls.config.file=${file}`))).toThrow(/unknown TLS property/);
    expect(() => applyTlsConfigFile(load(`tls.config.file=${join(dir, 'missing')}`))).toThrow(ConfigError);
  });

  it('masks key passwords', () => {
    const c = hideTlsSecrets({ ...load('tls.server.keyPassword=secret'), listenPort: 1 });
    expect(c['tls.server.keyPassword']).toBe('******');
    expect(c['tls.client.keyPassword']).toBe('');
    expect(c.listenPort).toBe(1);
  });
});
