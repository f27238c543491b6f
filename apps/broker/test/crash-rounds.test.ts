// The crash suite at CI size: `pnpm soak --crash` (bench/src/soak.ts) for a few rounds per flush
// mode. A real name server and broker, producers (some delayed messages), consumers sending some
// messages back for retry, SIGKILL of the broker at a random moment each round and a restart on the
// same store; then everything is read back. No acknowledged message may be lost, none corrupt.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { isPidAlive, repoRoot } from '@rocketmq-ts/testing';

const SOAK = join(repoRoot(), 'bench', 'dist', 'soak.js');
const started: number[] = [];

afterAll(() => {
  for (const pid of started) if (isPidAlive(pid)) process.kill(pid, 'SIGTERM');
});

interface ModeResult {
  mode: string;
  rounds: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  corrupt: number;
  retriesAcknowledged: number;
  retriesLost: number;
  segments: number;
  recoveryMsMax: number;
}

function runSoak(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SOAK, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    if (child.pid !== undefined) started.push(child.pid);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // SIGTERM: the soak stops its broker and name server before it exits.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('crash rounds (pnpm soak --crash, CI size)', () => {
  it('6 SIGKILL rounds per flush mode: nothing acknowledged lost, nothing corrupt', async () => {
    if (!existsSync(SOAK)) throw new Error(`build first: ${SOAK} missing`);
    const { code, out } = await runSoak(
      ['--crash', '--rounds', '6', '--mode', 'both', '--seconds-per-round', '2', '--producers', '3', '--consumers', '2', '--max-minutes', '2'],
      140_000,
    );
    const line = out.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
    if (line === undefined) throw new Error(`no result from the soak (exit ${code}):\n${out.slice(-3000)}`);
    const results = JSON.parse(line.slice('SOAK_RESULT '.length)) as ModeResult[];
    expect(results.map((r) => r.mode)).toEqual(['ASYNC_FLUSH', 'SYNC_FLUSH']);
    for (const r of results) {
      expect(r.rounds).toBe(6);
      expect(r.acknowledged).toBeGreaterThan(100);
      expect({ mode: r.mode, lost: r.lost, corrupt: r.corrupt, retriesLost: r.retriesLost }).toEqual({ mode: r.mode, lost: 0, corrupt: 0, retriesLost: 0 });
      expect(r.segments).toBeGreaterThan(1); // the commit log rolled
    }
    expect(code).toBe(0);
  }, 150_000);
});
