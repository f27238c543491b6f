import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort } from './ports.js';
import { isPidAlive, runningProcesses, startNode, stopAllProcesses } from './process.js';

afterAll(async () => {
  await stopAllProcesses(1_000);
});

// A tiny server: prints, listens on PORT, says bye on SIGTERM (unless STUBBORN=1).
const server = `
const net = require('node:net');
const port = Number(process.env.PORT);
console.log('hello from ' + process.pid);
console.error('to stderr');
net.createServer((c) => c.end()).listen(port, '127.0.0.1', () => console.log('listening on ' + port));
process.on('SIGTERM', () => {
  if (process.env.STUBBORN === '1') { console.log('ignoring SIGTERM'); return; }
  console.log('bye'); process.exit(7);
});
`;

describe('startNode', () => {
  it('waits for readyPattern, captures stdout and stderr, stops with SIGTERM', async () => {
    const port = await freePort();
    const p = await startNode('-e', [server], { name: 'srv', env: { PORT: String(port) }, readyPattern: /listening on \d+/ });
    expect(p.output()).toContain(`hello from ${p.pid}`);
    expect(p.output()).toContain('to stderr');
    expect(runningProcesses()).toContain(p);
    const code = await p.stop('SIGTERM', 5_000);
    expect(code).toBe(7);
    expect(p.output()).toContain('bye');
    expect(isPidAlive(p.pid)).toBe(false);
    expect(runningProcesses()).not.toContain(p);
  });

  it('waits for readyPort', async () => {
    const port = await freePort();
    const p = await startNode('-e', [server], { env: { PORT: String(port) }, readyPort: port });
    expect(p.output()).toMatch(/listening on/);
    await p.stop();
  });

  it('SIGKILLs after the grace period', async () => {
    const port = await freePort();
    const p = await startNode('-e', [server], { env: { PORT: String(port), STUBBORN: '1' }, readyPort: port });
    const started = Date.now();
    const code = await p.stop('SIGTERM', 300);
    expect(code).toBeNull();
    expect((await p.exited).signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(p.output()).toContain('ignoring SIGTERM');
  });

  it('waitForOutput sees later output and fails when the process exits', async () => {
    const p = await startNode('-e', ['setTimeout(() => console.log("late line"), 100); setTimeout(() => process.exit(2), 300);']);
    await expect(p.waitForOutput(/late (\w+)/, 5_000)).resolves.toEqual(expect.arrayContaining(['late line', 'line']));
    await expect(p.waitForOutput(/never printed/, 5_000)).rejects.toThrow(/exited before/);
    expect(await p.exited).toEqual({ code: 2, signal: null });
  });

  it('rejects with the output when the process dies before it is ready', async () => {
    await expect(startNode('-e', ['console.log("boom"); process.exit(3)'], { name: 'dies', readyPattern: /ready/ })).rejects.toThrow(
      /dies exited before.*\n[\s\S]*boom/,
    );
  });

  it('rejects and kills the process when it is not ready in time', async () => {
    const port = await freePort();
    await expect(startNode('-e', ['setInterval(() => {}, 1000)'], { name: 'slow', readyPort: port, timeoutMs: 300 })).rejects.toThrow(
      /slow: port \d+ did not accept connections within 300 ms/,
    );
    expect(runningProcesses().filter((p) => p.name === 'slow')).toHaveLength(0);
  });

  it('stopAllProcesses stops everything still running', async () => {
    const a = await startNode('-e', ['setInterval(() => {}, 1000)']);
    const b = await startNode('-e', ['setInterval(() => {}, 1000)']);
    await stopAllProcesses(2_000);
    expect(a.hasExited && b.hasExited).toBe(true);
    expect(isPidAlive(a.pid) || isPidAlive(b.pid)).toBe(false);
  });
});
