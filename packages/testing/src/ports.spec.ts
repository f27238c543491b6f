import { createServer, type Server } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { canConnect, freePort, publishablePort, retryOnPortClash, waitForPort } from './ports.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

describe('freePort / waitForPort', () => {
  it('gives a port that can be bound', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const s = await listen(port);
    expect(await canConnect(port)).toBe(true);
    await new Promise((r) => s.close(r));
    expect(await canConnect(port)).toBe(false);
  });

  it('gives different ports on consecutive calls', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 5; i++) ports.add(await freePort());
    expect(ports.size).toBeGreaterThan(1);
  });

  it('waits until a port starts listening', async () => {
    const port = await freePort();
    let server: Server | undefined;
    const t = setTimeout(() => void listen(port).then((s) => (server = s)), 150);
    await waitForPort(port, 5_000);
    clearTimeout(t);
    await new Promise((r) => server!.close(r));
  });

  it('rejects when nothing listens in time', async () => {
    const port = await freePort();
    await expect(waitForPort(port, 200)).rejects.toThrow(new RegExp(`127.0.0.1:${port}`));
  });
});

describe('retryOnPortClash', () => {
  it('starts again with fresh ports after a clash, and gives up on other errors at once', async () => {
    // A real clash: the first try binds a port someone else holds.
    const holder = await listen(await freePort());
    const held = (holder.address() as { port: number }).port;
    const tried: number[] = [];
    const server = await retryOnPortClash(async () => {
      const port = tried.length === 0 ? held : await freePort();
      tried.push(port);
      return listen(port);
    });
    expect(tried.length).toBe(2);
    expect(tried[0]).toBe(held);
    await new Promise((r) => server.close(r));
    await new Promise((r) => holder.close(r));

    let calls = 0;
    await expect(
      retryOnPortClash(async () => {
        calls++;
        throw new Error('broker exited: bad config');
      }),
    ).rejects.toThrow('bad config');
    expect(calls).toBe(1);

    calls = 0;
    await expect(
      retryOnPortClash(async () => {
        calls++;
        throw new Error('listenPort 1234 is already in use (bindAddress 127.0.0.1)');
      }, 3),
    ).rejects.toThrow('already in use');
    expect(calls).toBe(3);
  });
});

describe('publishablePort', () => {
  it('gives distinct ports below the range the OS hands out, free on every address', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await publishablePort();
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(low);
      ports.add(port);
    }
    expect(ports.size).toBe(20);
    const port = [...ports][0]!;
    const s = createServer();
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '0.0.0.0', resolve);
    });
    expect(await canConnect(port)).toBe(true);
    await new Promise((r) => s.close(r));
  });
});
