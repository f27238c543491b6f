import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { canConnect } from '@rocketmq-ts/common';
import { waitFor } from './wait.js';

export { canConnect };

/** Ports this process handed out lately: the OS may offer a just-closed port again at once. */
const handedOut = new Set<number>();
const HANDED_OUT_MAX = 4096;

function remember(port: number): number {
  if (handedOut.size >= HANDED_OUT_MAX) handedOut.clear();
  handedOut.add(port);
  return port;
}

function bindAny(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read the bound port'))));
    });
  });
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close), never one this
 * process handed out before: two calls in a row must not give a server the same port twice.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await bindAny();
    if (handedOut.has(port)) continue;
    return remember(port);
  }
  throw new Error('no fresh free port after 50 tries');
}

/** The first port the OS hands out for port 0 and for outgoing connections (32768 when unreadable). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 21_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canBindAll(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * A port for something that binds it long after it is picked (a container's published port, bound
 * minutes later once images are built): free on every address now, and below the OS's ephemeral
 * range, so no port-0 bind or outgoing connection of another test process can take it meanwhile.
 */
export async function publishablePort(): Promise<number> {
  const low = 20_000;
  const span = ephemeralLow() - low;
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * span);
    if (handedOut.has(port) || !(await canBindAll(port))) continue;
    return remember(port);
  }
  throw new Error(`no free port in ${low}-${low + span - 1} after 200 tries`);
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects after timeoutMs. */
export async function waitForPort(port: number, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  await waitFor(() => canConnect(port, host), { timeoutMs, intervalMs: 50, message: `${host}:${port} to accept connections` });
}

/** True when a server's start failed because a port it was given was taken (its log names the clash). */
export function isPortClash(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return /is already in use|EADDRINUSE/.test(m);
}

/**
 * Runs `start` (which picks its ports with freePort) again when it fails on a port clash: a port
 * free a moment ago may be taken by another test process before the server binds it.
 */
export async function retryOnPortClash<T>(start: () => Promise<T>, tries = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (e) {
      if (i >= tries || !isPortClash(e)) throw e;
    }
  }
}
