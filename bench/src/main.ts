#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@rocketmq-ts/testing';
import { measureDiskFloor } from './disk-floor.js';
import { NatsPeer } from './peers/nats.js';
import { RedisPeer, type RedisDurability } from './peers/redis.js';
import { machineInfo, printReport, saveReport, type BenchReport, type Ratio, type Row } from './report.js';
import { printProfiles, profileDir } from './profile.js';
import { processCpuMicros, selfCpuMicros } from './stats.js';
import { PAYLOAD, SCENARIOS, measure, medianRow, plan, quick, rowFrom, scenarioFilter, wanted, withClientCpu } from './scenarios.js';
import { brokerTargetAvailable, runBrokerScenarios, runReplicatedScenarios } from './targets/broker.js';
import { runTimerScenario } from './targets/timer.js';
import { proxyTargetAvailable, runProxyScenarios } from './targets/proxy.js';
import { runSoak, soakOptions } from './soak-mixed.js';

/**
 * `pnpm bench [--quick] [--only <systems, comma-separated: disk|rocketmq-ts|proxy|redis|nats>] [--scenarios async,batch,latency,consume,sync,jsonSend,jsonPull] [--profile <dir>]`:
 * rocketmq-ts against Redis Streams and NATS JetStream, same payload and in-flight window, plus the raw
 * disk floor, all in one run. Partial or profiled runs are saved apart and leave BENCHMARKS.md alone.
 * `pnpm bench --soak [--minutes 30] [--quick] [--rate 200]`: the mixed soak of one broker instead (soak-mixed.ts).
 * `pnpm bench --scale [...]`: how cost grows with size, queues, groups and stored bytes (see scale.ts).
 */
const argv = process.argv.slice(2);

/**
 * The load generators (every system's clients run in this process) start with an old generation
 * of 64 MB. With V8's default the bench's ~15 MB heap has less room left than the young generation
 * holds, so V8 starts incremental marking after nearly every scavenge: in the consume row that was
 * a full collection every 40-60 ms, a quarter of the consumer's CPU, for Redis's client as for ours.
 * Started without the option (`node bench/dist/main.js`), the bench starts itself again with it.
 */
const CLIENT_HEAP_ARGS = ['--initial-old-space-size=64'];
if (!process.execArgv.some((a) => a.startsWith('--initial-old-space-size'))) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...CLIENT_HEAP_ARGS, process.argv[1]!, ...argv], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const onlyIdx = argv.indexOf('--only');
/** `--only a,b`: run only these systems (one or more of disk, rocketmq-ts, proxy, redis, nats). */
const only = onlyIdx >= 0 ? argv[onlyIdx + 1] : undefined;
const onlySet = only === undefined ? undefined : new Set(only.split(','));

async function redisRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const settings: [RedisDurability, string][] = [
    ['off', 'none (persistence off)'],
    ['everysec', 'async (appendfsync everysec)'],
    ['always', 'sync (appendfsync always)'],
  ];
  for (const [d, label] of settings) {
    // With --scenarios, a setting none of whose rows is wanted is not started at all.
    if (d === 'always' ? !wanted('sync') : d === 'off' ? !wanted('async') : !(['async', 'batch', 'latency', 'consume'] as const).some(wanted)) continue;
    const peer = new RedisPeer(d);
    try {
      await peer.start();
      const name = `redis-streams (${d})`;
      if (d === 'always') {
        rows.push(await measure(SCENARIOS.sync, name, label, peer.pid, () => peer.xadd(PAYLOAD)));
        continue;
      }
      if (wanted('async')) rows.push(await measure(SCENARIOS.async, name, label, peer.pid, () => peer.xadd(PAYLOAD)));
      if (d === 'everysec') {
        if (wanted('batch')) rows.push(await measure(SCENARIOS.batch, name, label, peer.pid, () => peer.xaddBatch(PAYLOAD, 64)));
        if (wanted('latency')) rows.push(await measure(SCENARIOS.latency, name, label, peer.pid, () => peer.xadd(PAYLOAD)));
        if (wanted('consume')) {
          // Run without the send rows (--scenarios consume), the stream is filled first.
          if (!wanted('async') && !wanted('batch')) for (let i = 0; i < plan.consumeMessages / 64; i++) await peer.xaddBatch(PAYLOAD, 64);
          rows.push(
            await medianRow(async () => {
              let got = 0;
              const cpu0 = processCpuMicros(peer.pid);
              const self0 = selfCpuMicros();
              const t0 = performance.now();
              await peer.readAll(32, (n) => {
                got += n;
              });
              const self1 = selfCpuMicros();
              return withClientCpu(
                rowFrom(
                  SCENARIOS.consume.scenario,
                  name,
                  label,
                  got,
                  performance.now() - t0,
                  undefined,
                  (processCpuMicros(peer.pid) - cpu0) / Math.max(1, got),
                  undefined,
                ),
                (self1 - self0) / Math.max(1, got),
              );
            }),
          );
        }
      }
    } catch (e) {
      rows.push({ scenario: '-', system: `redis-streams (${d})`, durability: label, msgsPerSec: NaN, mbPerSec: NaN, note: `failed: ${(e as Error).message}` });
    } finally {
      await peer.stop();
    }
  }
  if (wanted('syncMaster')) {
    // Replicated before the reply: a primary and its replica, WAIT 1 after each turn's pipeline.
    const peer = new RedisPeer('everysec');
    const name = 'redis-streams (primary + replica, WAIT 1)';
    const label = 'replicated (WAIT 1 per pipeline)';
    try {
      await peer.start();
      await peer.startReplica();
      rows.push(await measure(SCENARIOS.syncMaster, name, label, peer.pid, () => peer.xaddReplicated(PAYLOAD)));
    } catch (e) {
      rows.push({
        scenario: SCENARIOS.syncMaster.scenario,
        system: name,
        durability: label,
        msgsPerSec: NaN,
        mbPerSec: NaN,
        note: `failed: ${(e as Error).message}`,
      });
    } finally {
      await peer.stop();
    }
  }
  return rows;
}

async function natsRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const peer = new NatsPeer();
  const name = 'nats-jetstream (file)';
  const label = 'async (file store, OS flush)';
  try {
    await peer.start();
    const pid = peer.pid;
    rows.push(await measure(SCENARIOS.async, name, label, pid, () => peer.publish(PAYLOAD)));
    rows.push(await measure(SCENARIOS.batch, name, label, pid, () => peer.publishBatch(PAYLOAD, 64)));
    rows.push(await measure(SCENARIOS.latency, name, label, pid, () => peer.publish(PAYLOAD)));
    rows.push(
      await medianRow(async () => {
        let got = 0;
        const cpu0 = pid ? processCpuMicros(pid) : 0;
        const t0 = performance.now();
        await peer.readAll(32, plan.consumeMessages, (n) => {
          got += n;
        });
        return rowFrom(
          SCENARIOS.consume.scenario,
          name,
          label,
          got,
          performance.now() - t0,
          undefined,
          pid ? (processCpuMicros(pid) - cpu0) / Math.max(1, got) : undefined,
          undefined,
        );
      }),
    );
  } catch (e) {
    rows.push({ scenario: '-', system: name, durability: label, msgsPerSec: NaN, mbPerSec: NaN, note: `failed: ${(e as Error).message}` });
  } finally {
    await peer.stop();
  }
  return rows;
}

async function diskRows(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rmqts-bench-disk-'));
  const rows: Row[] = [];
  try {
    for (const kb of [4, 64, 256]) {
      const f = await measureDiskFloor(dir, kb * 1024, plan.floorMs, 1_000_000);
      rows.push({
        scenario: `disk floor: write + fdatasync of ${kb} KiB`,
        system: 'raw disk',
        durability: 'sync',
        msgsPerSec: f.msgsPerSec1k,
        mbPerSec: f.mbPerSec,
        note: `${f.syncsPerSec.toFixed(0)} syncs/s`,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

function ratios(rows: Row[]): Ratio[] {
  const out: Ratio[] = [];
  const find = (scenario: string, system: string) => rows.find((r) => r.scenario === scenario && r.system.startsWith(system) && Number.isFinite(r.msgsPerSec));
  for (const sc of Object.values(SCENARIOS)) {
    const ours = find(sc.scenario, 'rocketmq-ts');
    if (!ours) continue;
    for (const peer of rows.filter((r) => r.scenario === sc.scenario && !r.system.startsWith('rocketmq-ts') && Number.isFinite(r.msgsPerSec))) {
      out.push({ label: `${sc.scenario}: rocketmq-ts / ${peer.system}`, value: ours.msgsPerSec / peer.msgsPerSec });
    }
  }
  const asyncMaster = find(SCENARIOS.asyncMaster.scenario, 'rocketmq-ts');
  const lone = find(SCENARIOS.async.scenario, 'rocketmq-ts');
  if (asyncMaster && lone) out.push({ label: 'ASYNC_MASTER with a slave / a lone master (async send)', value: asyncMaster.msgsPerSec / lone.msgsPerSec });
  const popAck = find(SCENARIOS.popAck.scenario, 'rocketmq-ts');
  const pull = find(SCENARIOS.consume.scenario, 'rocketmq-ts');
  if (popAck && pull) out.push({ label: 'pop + ack each / pull consume', value: popAck.msgsPerSec / pull.msgsPerSec });
  const tx = find(SCENARIOS.transaction.scenario, 'rocketmq-ts');
  if (tx && lone) out.push({ label: 'transactional send (half + commit) / normal send (async)', value: tx.msgsPerSec / lone.msgsPerSec });
  const pxSend = find(SCENARIOS.proxySend.scenario, 'rocketmq-ts proxy');
  if (pxSend && lone) out.push({ label: 'send via the proxy (5.x client) / direct remoting send (async)', value: pxSend.msgsPerSec / lone.msgsPerSec });
  const pxRecv = find(SCENARIOS.proxyReceiveAck.scenario, 'rocketmq-ts proxy');
  if (pxRecv && popAck) out.push({ label: 'receive + ack via the proxy / pop + ack direct', value: pxRecv.msgsPerSec / popAck.msgsPerSec });
  const floor0 = rows.find((r) => r.scenario === SCENARIOS.grpcFloor.scenario && Number.isFinite(r.msgsPerSec));
  if (pxSend && floor0) out.push({ label: 'send via the proxy / bare grpc-js unary calls', value: pxSend.msgsPerSec / floor0.msgsPerSec });
  const jsonSend = find(SCENARIOS.jsonSend.scenario, 'rocketmq-ts');
  if (jsonSend && lone) out.push({ label: 'send: JSON headers (Java client framing) / binary headers', value: jsonSend.msgsPerSec / lone.msgsPerSec });
  const binaryJava = find(SCENARIOS.binaryJavaProps.scenario, 'rocketmq-ts');
  if (jsonSend && binaryJava) {
    out.push({ label: 'send: JSON headers / binary headers, same message properties', value: jsonSend.msgsPerSec / binaryJava.msgsPerSec });
  }
  const jsonPull = find(SCENARIOS.jsonPull.scenario, 'rocketmq-ts');
  if (jsonPull && pull) out.push({ label: 'pull consume: JSON headers (Java client framing) / binary headers', value: jsonPull.msgsPerSec / pull.msgsPerSec });
  const sync = find(SCENARIOS.sync.scenario, 'rocketmq-ts');
  const floor = rows.find((r) => r.system === 'raw disk' && r.scenario.includes('256 KiB'));
  if (sync && floor) out.push({ label: 'sync-flush send / disk floor (256 KiB batches)', value: sync.msgsPerSec / floor.msgsPerSec });
  return out;
}

async function main(): Promise<void> {
  if (argv.includes('--scale')) return (await import('./scale.js')).runScale(argv);
  const t0 = performance.now();
  const rows: Row[] = [];
  const step = async (name: string, f: () => Promise<Row[]>): Promise<void> => {
    if (onlySet !== undefined && !onlySet.has(name)) return;
    console.error(`[bench] ${name} ...`);
    const r = await f();
    rows.push(...r);
    console.error(`[bench] ${name} done (${r.length} rows)`);
  };
  await step('disk', diskRows);
  await step('rocketmq-ts', async () =>
    brokerTargetAvailable()
      ? (async () => [...(await runBrokerScenarios()), ...(await runReplicatedScenarios()), ...(wanted('timer') ? await runTimerScenario() : [])])()
      : [{ scenario: '-', system: 'rocketmq-ts', durability: '-', msgsPerSec: NaN, mbPerSec: NaN, note: 'broker not built yet (apps/broker)' }],
  );
  await step('proxy', async () =>
    proxyTargetAvailable()
      ? runProxyScenarios()
      : [{ scenario: '-', system: 'rocketmq-ts proxy', durability: '-', msgsPerSec: NaN, mbPerSec: NaN, note: 'proxy not built yet (apps/proxy)' }],
  );
  await step('redis', redisRows);
  await step('nats', natsRows);
  const partial = only ?? (profileDir !== undefined ? 'profiled' : scenarioFilter !== undefined ? 'scenarios' : undefined);
  const rep: BenchReport = {
    date: new Date().toISOString().slice(0, 10),
    quick,
    ...(partial !== undefined ? { only: partial } : {}),
    machine: machineInfo(),
    rows,
    ratios: ratios(rows),
    durationSec: (performance.now() - t0) / 1000,
  };
  console.log('');
  printReport(rep);
  const file = saveReport(rep, repoRoot());
  printProfiles();
  console.log(`\nresults: ${file}${rep.quick || rep.only !== undefined ? '' : ' and BENCHMARKS.md'}`);
}

if (argv.includes('--soak')) {
  runSoak(soakOptions(argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
} else {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
