import { createServer, type Server } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { canConnect, freePort, waitForPort } from './ports.js';

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
