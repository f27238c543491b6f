// ≥ 100 000 fuzzed frames against a running broker (random bytes, random codes, structured mutations
// of every request code's header fields and bodies, JSON and ROCKETMQ headers): the broker never
// crashes or hangs, answers with RocketMQ's codes, throws from no handler, and stores nothing from a
// rejected request. Reproducible: FUZZ_SEED selects the input stream; FUZZ_FRAMES the count.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import { BrokerFuzzer, isPidAlive, removeTempDirs, stopAllProcesses } from '@rocketmq-ts/testing';
import { JavaClient, startBroker, type BrokerHandle } from './harness.js';
import { rssOf } from './harness.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261203);
const FRAMES = Number(process.env['FUZZ_FRAMES'] ?? 100_000);
const TIME_LIMIT_MS = Number(process.env['FUZZ_TIME_LIMIT_MS'] ?? 55_000);

let b: BrokerHandle;
let c: JavaClient;

beforeAll(async () => {
  b = await startBroker({ autoCreateTopicEnable: false, maxMessageSize: 1024 * 1024 });
  c = new JavaClient(b.addr);
  expect((await c.createTopic('FZ_W', 4)).code).toBe(ResponseCode.SUCCESS);
  expect((await c.createTopic('FZ_RO', 4, { perm: '4' })).code).toBe(ResponseCode.SUCCESS);
});

afterAll(async () => {
  c?.close();
  await stopAllProcesses();
  removeTempDirs();
});

async function queueEntries(topic: string): Promise<number> {
  let n = 0;
  for (let q = 0; q < 4; q++) {
    const r = await c.call(RequestCode.GET_MAX_OFFSET, { topic, queueId: String(q) });
    expect(r.code).toBe(ResponseCode.SUCCESS);
    n += Number(r.ext('offset'));
  }
  return n;
}

describe('broker fuzzing', () => {
  it(`survives ${FRAMES} fuzzed frames (seed ${SEED})`, async () => {
    const rss0 = rssOf(b.proc.pid);
    const fz = new BrokerFuzzer({ port: b.port, frames: FRAMES, seed: SEED, writableTopic: 'FZ_W', guardedTopics: ['FZ_RO'], timeLimitMs: TIME_LIMIT_MS });
    const r = await fz.run();
    const rss1 = rssOf(b.proc.pid);
    process.stderr.write(
      `[fuzz] ${r.framesSent} frames (${r.killerFrames} killers) in ${(r.elapsedMs / 1000).toFixed(1)} s = ${r.framesPerSec}/s; ` +
        `${r.replies} replies ${JSON.stringify(r.repliesByCode)}; health max ${r.healthMaxMs.toFixed(0)} ms over ${r.healthChecks}; ` +
        `RSS ${(rss0 / 2 ** 20).toFixed(0)} → ${(rss1 / 2 ** 20).toFixed(0)} MiB; stored on FZ_W ${r.storedOnWritable}\n`,
    );
    const errs = Object.entries(r.systemErrors).sort((x, y) => y[1] - x[1]);
    process.stderr.write(`[fuzz] SYSTEM_ERROR remarks:\n${errs.map(([k, n]) => `  ${n} × ${k}`).join('\n')}\n`);
    expect(isPidAlive(b.proc.pid)).toBe(true);
    expect(b.proc.hasExited).toBe(false);
    expect(r.framesSent).toBeGreaterThanOrEqual(Math.min(FRAMES, 50_000));
    expect(r.healthFailures).toEqual([]);
    expect(r.unknownCodes).toEqual([]);
    expect(r.unanswered).toEqual({});
    // No handler threw on bad input (the connection logs those as "request code N ... failed").
    expect(b.proc.output().match(/request code -?\d+ from \S+ failed: .*/g) ?? []).toEqual([]);
    expect(b.proc.output()).not.toMatch(/internal error|closing connection from \S+ after an unexpected error/);
    // Nothing stored from a rejected request: the read-only topic is empty, the writable one holds
    // exactly what was acknowledged.
    expect(r.successOnGuarded).toBe(0);
    expect(await queueEntries('FZ_RO')).toBe(0);
    expect(await queueEntries('FZ_W')).toBe(r.storedOnWritable);
    // Made-up request codes share one metric series (they once grew the registry without bound).
    expect(((await b.metrics()).match(/^rocketmq_rpc_latency_count\{/gm) ?? []).length).toBeLessThan(1000);
    // Still serving.
    expect((await c.send('FZ_W', 'after', { queueId: 0 })).code).toBe(ResponseCode.SUCCESS);
  });
});
