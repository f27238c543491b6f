import { describe, expect, it } from '@jest/globals';
import { BrokerAddressError, lookupIPv4First, resolveBrokerAddresses, resolveBrokerHost, type HostLookup } from './broker-address.js';
import { loadBrokerConfig } from './config.js';

const table = (names: Record<string, string>): HostLookup & { asked: string[] } => {
  const asked: string[] = [];
  const f = async (host: string): Promise<string> => {
    asked.push(host);
    const a = names[host];
    if (a === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a;
  };
  return Object.assign(f, { asked });
};

describe('resolveBrokerHost', () => {
  it('keeps IP addresses as they are, without a lookup', async () => {
    const lookup = table({});
    expect(await resolveBrokerHost('brokerIP1', '10.0.0.5', lookup)).toBe('10.0.0.5');
    expect(await resolveBrokerHost('brokerIP1', '::1', lookup)).toBe('::1');
    expect(lookup.asked).toEqual([]);
  });

  it('resolves a host name', async () => {
    expect(await resolveBrokerHost('brokerIP1', 'broker-a', table({ 'broker-a': '172.18.0.5' }))).toBe('172.18.0.5');
  });

  it('says which property and name did not resolve, in one line', async () => {
    const err = await resolveBrokerHost('brokerIP2', 'nowhere', table({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerAddressError);
    expect((err as Error).message).toBe('brokerIP2 "nowhere" is neither an IP address nor a host name that resolves (ENOTFOUND)');
  });

  it('the default lookup resolves localhost to 127.0.0.1 (IPv4 first)', async () => {
    expect(await lookupIPv4First('localhost')).toBe('127.0.0.1');
  });
});

describe('resolveBrokerAddresses', () => {
  it('puts the address into brokerIP1, brokerIP2 (default: brokerIP1), the flat view and storeHost, with one log line', async () => {
    const { config } = loadBrokerConfig({ overrides: { brokerIP1: 'broker-a', listenPort: '10911' } });
    expect(config.brokerIP2).toBe('broker-a');
    const lines: string[] = [];
    const lookup = table({ 'broker-a': '172.18.0.5' });
    await resolveBrokerAddresses(config, (l) => lines.push(l), lookup);
    expect(lookup.asked).toEqual(['broker-a']);
    expect(lines).toEqual(['brokerIP1 and brokerIP2 broker-a resolved to 172.18.0.5']);
    expect(config.brokerIP1).toBe('172.18.0.5');
    expect(config.brokerIP2).toBe('172.18.0.5');
    expect(config.flat['brokerIP1']).toBe('172.18.0.5');
    expect(config.flat['brokerIP2']).toBe('172.18.0.5');
    expect(config.store.storeHost).toEqual({ address: '172.18.0.5', port: 10911 });
  });

  it('resolves brokerIP1 and brokerIP2 separately when they differ; leaves addresses alone', async () => {
    const { config } = loadBrokerConfig({ overrides: { brokerIP1: '10.0.0.7', brokerIP2: 'ha-net', listenPort: '10911' } });
    const lines: string[] = [];
    await resolveBrokerAddresses(config, (l) => lines.push(l), table({ 'ha-net': '192.168.9.9' }));
    expect(lines).toEqual(['brokerIP2 ha-net resolved to 192.168.9.9']);
    expect([config.brokerIP1, config.brokerIP2]).toEqual(['10.0.0.7', '192.168.9.9']);
    expect(config.store.storeHost).toEqual({ address: '10.0.0.7', port: 10911 });
  });

  it('logs nothing and changes nothing when both are addresses', async () => {
    const { config } = loadBrokerConfig({ overrides: { brokerIP1: '10.0.0.5' } });
    const lines: string[] = [];
    await resolveBrokerAddresses(config, (l) => lines.push(l), table({}));
    expect(lines).toEqual([]);
    expect(config.store.storeHost.address).toBe('10.0.0.5');
  });

  it('throws BrokerAddressError for a name that does not resolve', async () => {
    const { config } = loadBrokerConfig({ overrides: { brokerIP1: 'broker-x' } });
    await expect(resolveBrokerAddresses(config, () => undefined, table({}))).rejects.toThrow(
      new BrokerAddressError('brokerIP1 "broker-x" is neither an IP address nor a host name that resolves (ENOTFOUND)'),
    );
  });
});
