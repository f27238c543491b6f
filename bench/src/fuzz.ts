#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RequestCode, ResponseCode, type RemotingCommand } from '@rocketmq-ts/protocol';
import {
  BrokerFuzzer,
  RawClient,
  appMain,
  freePort,
  isPidAlive,
  jsonFrame,
  makeTempDir,
  removeTempDirs,
  startNode,
  stopAllProcesses,
  writeConf,
  type BrokerFuzzReport,
} from '@rocketmq-ts/testing';

/**
 * `pnpm fuzz [--frames N] [--seed S] [--workers W]`: starts a broker in a temp dir and sends it N
 * fuzzed frames (default 1 000 000): random bytes, frames with random codes, structured mutations
 * of every request code's header fields and bodies in JSON and ROCKETMQ headers. Checks: the
 * process never dies, a health probe on its own connection always answers within 5 s, every reply
 * carries a RocketMQ code, no handler throws, and nothing is stored from a rejected request (a
 * read-only topic stays empty; the writable one holds exactly what was acknowledged). Prints
 * frames/s, replies by code and the broker's RSS; exits 1 when a check fails.
 */
const argv = process.argv.slice(2);
function arg(name: string, dflt: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}
const FRAMES = arg('--frames', 1_000_000);
const SEED = arg('--seed', Date.now() % 1_000_000_007);
const WORKERS = arg('--workers', 4);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function call(raw: RawClient, code: number, ext: Record<string, string>, opaque: number): Promise<RemotingCommand> {
  const n = raw.frames.length;
  raw.write(jsonFrame({ code, language: 'JAVA', version: 479, opaque, flag: 0, extFields: ext }));
  const frames = await raw.waitFrames(n + 1, 10_000);
  return frames[n]!.cmd;
}

async function main(): Promise<number> {
  const dir = makeTempDir('fuzz-broker');
  const port = await freePort();
  const httpPort = await freePort();
  const conf = writeConf(dir, 'broker.conf', {
    brokerClusterName: 'FuzzCluster',
    brokerName: 'broker-fuzz',
    brokerIP1: '127.0.0.1',
    bindAddress: '127.0.0.1',
    listenPort: port,
    haListenPort: await freePort(),
    metricsPromExporterPort: httpPort,
    storePathRootDir: join(dir, 'store'),
    storePathCommitLog: join(dir, 'store', 'commitlog'),
    mappedFileSizeCommitLog: 64 * 1024 * 1024,
    preallocateMode: 'truncate',
    autoCreateTopicEnable: false,
    maxMessageSize: 1024 * 1024,
  });
  // FUZZ_BROKER_NODE_OPTIONS, e.g. "--max-old-space-size=384": a leak then ends the broker instead of growing it.
  const nodeOptions = process.env['FUZZ_BROKER_NODE_OPTIONS'];
  const broker = await startNode(appMain('broker'), ['-c', conf], {
    name: 'broker',
    readyPattern: /broker \S+ started at/,
    timeoutMs: 30_000,
    ...(nodeOptions ? { env: { NODE_OPTIONS: nodeOptions } } : {}),
  });
  const raw = await RawClient.open(port);
  let opaque = 1_000_000_000;
  const topic = async (name: string, perm: string): Promise<void> => {
    const r = await call(
      raw,
      RequestCode.UPDATE_AND_CREATE_TOPIC,
      { topic: name, defaultTopic: 'TBW102', readQueueNums: '4', writeQueueNums: '4', perm, topicFilterType: 'SINGLE_TAG', topicSysFlag: '0', order: 'false' },
      opaque++,
    );
    if (r.code !== ResponseCode.SUCCESS) throw new Error(`creating ${name}: ${r.code} ${r.remark ?? ''}`);
  };
  await topic('FZ_W', '6');
  await topic('FZ_RO', '4');
  const entries = async (name: string): Promise<number> => {
    // A connection of its own: the set-up one was idle through the run and the broker closed it.
    const c = await RawClient.open(port);
    let n = 0;
    for (let q = 0; q < 4; q++) n += Number((await call(c, RequestCode.GET_MAX_OFFSET, { topic: name, queueId: String(q) }, opaque++)).ext('offset'));
    c.destroy();
    return n;
  };

  const rss0 = rssMiB(broker.pid);
  let rssMax = rss0;
  process.stdout.write(
    `fuzzing the broker (pid ${broker.pid}, port ${port}) with ${FRAMES} frames, seed ${SEED}, ${WORKERS} workers; RSS ${rss0.toFixed(0)} MiB\n`,
  );
  const fz = new BrokerFuzzer({
    port,
    frames: FRAMES,
    seed: SEED,
    workers: WORKERS,
    writableTopic: 'FZ_W',
    guardedTopics: ['FZ_RO'],
    progress: (p) => {
      const rss = isPidAlive(broker.pid) ? rssMiB(broker.pid) : NaN;
      rssMax = Math.max(rssMax, rss);
      if (Math.round(p.elapsedMs / 1000) % 10 === 0) {
        process.stdout.write(
          `  ${p.framesSent} frames, ${Math.round(p.framesSent / (p.elapsedMs / 1000))}/s, health max ${p.healthMaxMs.toFixed(0)} ms, broker RSS ${rss.toFixed(0)} MiB\n`,
        );
      }
    },
  });
  let r: BrokerFuzzReport;
  try {
    r = await fz.run();
  } catch (e) {
    process.stdout.write(`fuzzer failed: ${(e as Error).stack ?? String(e)}\n`);
    process.stdout.write(`broker ${broker.hasExited ? 'exited' : 'running'}; its last output:\n${broker.output().split('\n').slice(-30).join('\n')}\n`);
    return 1;
  }
  const alive = isPidAlive(broker.pid) && !broker.hasExited;
  const problems: string[] = [];
  if (!alive) problems.push('the broker process died');
  const threw = broker.output().match(/request code -?\d+ from \S+ failed: .*/g) ?? [];
  if (threw.length > 0) problems.push(`${threw.length} handler exceptions, e.g. ${threw.slice(0, 5).join(' | ')}`);
  if (r.healthFailures.length > 0) problems.push(`health: ${r.healthFailures.slice(0, 5).join('; ')}`);
  if (r.unknownCodes.length > 0) problems.push(`reply codes that are not RocketMQ's: ${r.unknownCodes.join(', ')}`);
  if (Object.keys(r.unanswered).length > 0) problems.push(`unanswered: ${JSON.stringify(r.unanswered)}`);
  let ro = -1;
  let w = -1;
  if (alive) {
    ro = await entries('FZ_RO');
    w = await entries('FZ_W');
    if (ro !== 0 || r.successOnGuarded !== 0) problems.push(`read-only topic FZ_RO holds ${ro} messages (${r.successOnGuarded} acknowledged)`);
    if (w !== r.storedOnWritable) problems.push(`FZ_W holds ${w} messages but ${r.storedOnWritable} were acknowledged`);
  }
  // Why the broker closed connections (the killer frames' reasons are expected; anything else is news).
  const reasons = new Map<string, number>();
  for (const m of broker.output().matchAll(/closing connection from \S+ ?(.*)/g)) {
    const k = (m[1] ?? '').replace(/\d+/g, '#').slice(0, 160);
    reasons.set(k, (reasons.get(k) ?? 0) + 1);
  }
  if (broker.output().includes('after an unexpected error')) problems.push('a connection was closed after an unexpected error (see the reasons)');
  const rss1 = alive ? rssMiB(broker.pid) : NaN;
  // Where the memory is (the broker's own gauges) and how many metric series the run left.
  let memory = '';
  if (alive) {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const gauge = (name: string): string => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text);
      return m ? `${(Number(m[1]) / 2 ** 20).toFixed(0)} MiB` : '?';
    };
    const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    memory = `heap used ${gauge('nodejs_heap_size_used_bytes')}, external ${gauge('nodejs_external_memory_bytes')}, ${series} metric samples`;
  }
  const codes = Object.entries(r.repliesByCode).sort((a, b) => b[1] - a[1]);
  process.stdout.write(
    [
      '',
      `frames sent        ${r.framesSent} (${r.decodableFrames} decodable, ${r.killerFrames} that close their connection)`,
      `elapsed            ${(r.elapsedMs / 1000).toFixed(1)} s = ${r.framesPerSec} frames/s`,
      `replies            ${r.replies}`,
      ...codes.map(([k, n]) => `  ${k.padEnd(32)} ${n}`),
      `health probes      ${r.healthChecks}, slowest ${r.healthMaxMs.toFixed(0)} ms`,
      `broker RSS         ${rss0.toFixed(0)} MiB before, ${rssMax.toFixed(0)} MiB max, ${rss1.toFixed(0)} MiB after; ${memory}`,
      `store              FZ_W ${w} messages = ${r.storedOnWritable} acknowledged; FZ_RO ${ro}`,
      'connections closed by the broker, by reason:',
      ...[...reasons].sort((x, y) => y[1] - x[1]).map(([k, n]) => `  ${String(n).padStart(7)} × ${k}`),
      problems.length === 0 ? 'OK: no crash, no hang, RocketMQ codes only, no handler exception, nothing stored from a rejected request' : 'FAILED:',
      ...problems.map((p) => `  - ${p}`),
      '',
    ].join('\n'),
  );
  raw.destroy();
  return problems.length === 0 ? 0 : 1;
}

// Ctrl-C: stop the broker this script started, then leave.
process.once('SIGINT', () => {
  void stopAllProcesses().finally(() => {
    removeTempDirs();
    process.exit(130);
  });
});

main()
  .then(
    async (code) => {
      await stopAllProcesses();
      removeTempDirs();
      process.exit(code);
    },
    async (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      await stopAllProcesses();
      removeTempDirs();
      process.exit(1);
    },
  )
  .catch(() => process.exit(1));
