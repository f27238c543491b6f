import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { BrokerConfig } from './config.js';

/**
 * brokerIP1 / brokerIP2 given as host names (in docker-compose a service name, which resolves to
 * the container's address). The broker writes its address into message records and msgIds, which
 * hold raw IP bytes, and registers it with the name servers; so a name is resolved once at
 * start-up and the address is used from then on.
 */

/** Host name → address; IPv4 preferred when the name has both. */
export type HostLookup = (host: string) => Promise<string>;

export class BrokerAddressError extends Error {}

export const lookupIPv4First: HostLookup = async (host) => {
  const all = await lookup(host, { all: true });
  const pick = all.find((a) => a.family === 4) ?? all[0];
  if (pick === undefined) throw new Error('no address');
  return pick.address;
};

/** `value` itself when it is an IP address, else the address it resolves to. */
export async function resolveBrokerHost(property: string, value: string, lookupFn: HostLookup = lookupIPv4First): Promise<string> {
  if (isIP(value) !== 0) return value;
  if (value.trim() === '') throw new BrokerAddressError(`${property} is empty`);
  try {
    return await lookupFn(value);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new BrokerAddressError(`${property} "${value}" is neither an IP address nor a host name that resolves (${why})`);
  }
}

/**
 * Resolves brokerIP1 and brokerIP2 in place (the config, its flat view and the store's storeHost)
 * and logs one line per name resolved. Throws BrokerAddressError when a name does not resolve.
 */
export async function resolveBrokerAddresses(config: BrokerConfig, info: (line: string) => void, lookupFn: HostLookup = lookupIPv4First): Promise<void> {
  const byName = new Map<string, ('brokerIP1' | 'brokerIP2')[]>();
  for (const property of ['brokerIP1', 'brokerIP2'] as const) {
    if (isIP(config[property]) !== 0) continue;
    byName.set(config[property], [...(byName.get(config[property]) ?? []), property]);
  }
  for (const [name, properties] of byName) {
    const address = await resolveBrokerHost(properties[0]!, name, lookupFn);
    info(`${properties.join(' and ')} ${name} resolved to ${address}`);
    for (const property of properties) {
      config[property] = address;
      config.flat[property] = address;
    }
  }
  config.store.storeHost = { address: config.brokerIP1, port: config.listenPort };
}
