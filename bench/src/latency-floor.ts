#!/usr/bin/env node
// `node bench/dist/latency-floor.js [requests]`: the machine's own round-trip floor for the
// "1 in flight" row. A bare Node TCP server process answers each 1,100-byte request (a 1 KiB send
// with its header) with 64 bytes; one request in flight over loopback, three rounds, p50/p99/p999.
// Whatever tail this shows (scheduling on a shared 2-core VM) is under every server's latency row.
import { spawn } from 'node:child_process';
import { createServer, connect, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const REQUEST = 1100;
const REPLY = 64;

function serve(): void {
  const srv = createServer((s) => {
    s.setNoDelay(true);
    let got = 0;
    const reply = Buffer.alloc(REPLY, 1);
    s.on('data', (d: Buffer) => {
      got += d.length;
      while (got >= REQUEST) {
        got -= REQUEST;
        s.write(reply);
      }
    });
  });
  srv.listen(0, '127.0.0.1', () => console.log((srv.address() as AddressInfo).port));
}

async function measure(n: number): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    const sock = connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    const req = Buffer.alloc(REQUEST, 2);
    const lat = new Float64Array(n);
    let waiting: (() => void) | null = null;
    let got = 0;
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= REPLY && waiting !== null) {
        got -= REPLY;
        const w = waiting;
        waiting = null;
        w();
      }
    });
    const ms = (s: Float64Array, p: number): string => (s[Math.min(n - 1, Math.floor(p * n))]! / 1000).toFixed(3);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        await new Promise<void>((r) => {
          waiting = r;
          sock.write(req);
        });
        lat[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
      const s = lat.slice().sort();
      console.log(`round ${round + 1}: ${n} requests, p50 ${ms(s, 0.5)} ms, p99 ${ms(s, 0.99)} ms, p999 ${ms(s, 0.999)} ms`);
    }
    sock.destroy();
  } finally {
    child.kill('SIGTERM');
  }
}

if (process.argv[2] === 'serve') serve();
else await measure(Math.max(1000, Number(process.argv[2] ?? 20_000) || 20_000));
