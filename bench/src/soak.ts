#!/usr/bin/env node
/**
 * `pnpm soak --crash [--rounds 100] [--mode ASYNC_FLUSH|SYNC_FLUSH|both] [--seconds-per-round 3]
 * [--producers 3] [--consumers 2] [--seed n] [--max-minutes 180]`
 *
 * The crash suite at scale. Per flush mode: a name server and a broker process (small commit-log
 * segments, so they roll; delay levels of one second), producers sending messages with unique ids
 * (some delayed), consumers pulling and sending some back for retry. Each round the broker is killed
 * with SIGKILL at a random moment and restarted on the same store; the time from start to ready is
 * the recovery time. At the end every queue is read back: each acknowledged id must be there (copies
 * beyond the first are at-least-once duplicates, counted apart), every record must pass its
 * magic/size/CRC checks and carry the body its id implies. Exits 1 on any lost or corrupt message.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkMessageRecord, decodeMessageRecord, findProperty, RemotingCommand, RequestCode, ResponseCode, type ExtFields } from '@rocketmq-ts/protocol';
import { RemotingClient } from '@rocketmq-ts/remoting';
import {
  appMain,
  FAST_DELAY_LEVELS,
  freePort,
  makeTempDir,
  removeTempDir,
  removeTempDirs,
  seededRandom,
  startNode,
  stopAllProcesses,
  writeConf,
  type NodeProcess,
} from '@rocketmq-ts/testing';

type Mode = 'ASYNC_FLUSH' | 'SYNC_FLUSH';

interface Options {
  rounds: number;
  modes: Mode[];
  secondsPerRound: number;
  producers: number;
  consumers: number;
  seed: number;
  maxMinutes: number;
}

export interface ModeResult {
  mode: Mode;
  rounds: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  corrupt: number;
  delayedAcknowledged: number;
  retriesAcknowledged: number;
  retriesLost: number;
  /** Copies of ids whose send was retried after an error or timeout (the producer's at-least-once). */
  duplicatedAfterResend: number;
  /** Copies of delayed messages (the schedule service's progress is persisted periodically, so a crash can deliver again). */
  duplicatedDelayed: number;
  segments: number;
  /** Process start to ready (node start, Nest wiring, metadata, store recovery). */
  recoveryMsP50: number;
  recoveryMsMax: number;
  /** The store's own recovery (its report's durationMs), from the broker's log. */
  storeRecoveryMsP50: number;
  storeRecoveryMsMax: number;
  recordsCheckedMax: number;
  damagedRecordsSkipped: number;
  lostIds: string[];
}

export interface LaunchTimes {
  readyMs: number;
  storeMs: number;
  recordsChecked: number;
  skipped: number;
}

const TOPIC = 'SoakTopic';
const QUEUES = 4;
const GROUP = 'SOAK_G';
const RETRY_TOPIC = `%RETRY%${GROUP}`;
const SEGMENT = 1024 * 1024;
const CALL_TIMEOUT_MS = 3_000;

function parseArgs(argv: string[]): Options & { crash: boolean } {
  const val = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, d: number): number => {
    const v = val(name);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} needs a number, got ${v}`);
    return n;
  };
  const mode = val('--mode') ?? 'both';
  if (mode !== 'both' && mode !== 'ASYNC_FLUSH' && mode !== 'SYNC_FLUSH') throw new Error(`--mode ASYNC_FLUSH|SYNC_FLUSH|both, got ${mode}`);
  return {
    crash: argv.includes('--crash'),
    rounds: Math.max(1, Math.floor(num('--rounds', 100))),
    modes: mode === 'both' ? ['ASYNC_FLUSH', 'SYNC_FLUSH'] : [mode],
    secondsPerRound: Math.max(0.3, num('--seconds-per-round', 3)),
    producers: Math.max(1, Math.floor(num('--producers', 3))),
    consumers: Math.max(1, Math.floor(num('--consumers', 2))),
    seed: Math.floor(num('--seed', Date.now() % 1_000_000)),
    maxMinutes: num('--max-minutes', 180),
  };
}

/** The body of message `id`: its length and bytes follow from the id, so a read can check it. */
export function bodyOf(id: string): Buffer {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
  const len = 64 + ((h >>> 0) % 1900);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (h + i * 7) & 0xff;
  b.write(id, 0);
  return b;
}

function props(p: Record<string, string>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}\u0001${v}\u0002`)
    .join('');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

/** One broker (and its name server) under test, restartable on the same store and ports. */
class SoakBroker {
  proc: NodeProcess | undefined;
  namesrv: NodeProcess | undefined;
  addr = '';
  private conf = '';
  readonly dir: string;

  constructor(readonly mode: Mode) {
    this.dir = makeTempDir(`rmqts-soak-${mode}-`);
  }

  async start(): Promise<void> {
    const [nsPort, port] = [await freePort(), await freePort()];
    const nsConf = writeConf(this.dir, 'namesrv.conf', {
      listenPort: nsPort,
      bindAddress: '127.0.0.1',
      metricsPromExporterPort: 0,
      kvConfigPath: join(this.dir, 'namesrv', 'kvConfig.json'),
    });
    this.namesrv = await startNode(appMain('nameserver'), ['-c', nsConf], { name: 'soak-namesrv', readyPattern: /name server started/, timeoutMs: 30_000 });
    this.conf = writeConf(this.dir, 'broker.conf', {
      brokerClusterName: 'SoakCluster',
      brokerName: 'soak-broker',
      brokerIP1: '127.0.0.1',
      bindAddress: '127.0.0.1',
      listenPort: port,
      haListenPort: await freePort(),
      metricsPromExporterPort: 0,
      namesrvAddr: `127.0.0.1:${nsPort}`,
      storePathRootDir: join(this.dir, 'store'),
      flushDiskType: this.mode,
      mappedFileSizeCommitLog: SEGMENT,
      mappedFileSizeConsumeQueue: 20 * 2000,
      preallocateMode: 'truncate',
      autoCreateTopicEnable: true,
      defaultTopicQueueNums: QUEUES,
      messageDelayLevel: FAST_DELAY_LEVELS,
      flushConsumerOffsetInterval: 500,
      flushDelayOffsetInterval: 200,
    });
    this.addr = `127.0.0.1:${port}`;
    await this.launch();
  }

  /** Starts the broker process; returns ms from spawn to ready. */
  async launch(): Promise<LaunchTimes> {
    const t0 = performance.now();
    this.proc = await startNode(appMain('broker'), ['-c', this.conf], {
      name: `soak-broker-${this.mode}`,
      readyPattern: /broker \S+ started at/,
      timeoutMs: 60_000,
    });
    const readyMs = performance.now() - t0;
    // The store's own figures, from the broker's log line.
    const line = /store recovered \((?:normal|abnormal)\): (\d+) records checked[^\n]*?, (\d+) ms(?:[^\n]*?, (\d+) damaged records skipped)?/.exec(
      this.proc.output(),
    );
    return { readyMs, storeMs: Number(line?.[2] ?? NaN), recordsChecked: Number(line?.[1] ?? 0), skipped: Number(line?.[3] ?? 0) };
  }

  async kill9(): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await Promise.race([p.exited, sleep(10_000)]);
  }

  segments(): number {
    try {
      return readdirSync(join(this.dir, 'store', 'commitlog')).filter((n) => /^\d{20}$/.test(n)).length;
    } catch {
      return 0;
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', 10_000);
    await this.namesrv?.stop('SIGTERM', 5_000);
    removeTempDir(this.dir);
  }
}

/** The shared state of one mode's run. */
class Ledger {
  /** Acknowledged ids (SUCCESS reply to a send), the delayed ones among them. */
  readonly acked = new Set<string>();
  readonly delayed = new Set<string>();
  /** Ids whose CONSUMER_SEND_MSG_BACK was acknowledged. */
  readonly retried = new Set<string>();
  /** Ids sent more than once (the first send failed or timed out). */
  readonly resent = new Set<string>();
  sent = 0;
  failedCalls = 0;
}

function call(client: RemotingClient, addr: string, code: number, ext: ExtFields | null, body: Buffer | null = null): Promise<RemotingCommand> {
  const cmd = RemotingCommand.request(code, ext, body);
  cmd.language = 'JAVA';
  cmd.version = 479;
  return client.invoke(addr, cmd, CALL_TIMEOUT_MS);
}

/** A producer: sends unique ids until stopped; an id whose send failed is sent again later (same id). */
async function producerLoop(p: number, broker: SoakBroker, ledger: Ledger, random: () => number, stop: { now: boolean }): Promise<void> {
  const client = new RemotingClient({ name: `soak-producer-${p}` });
  const retry: Array<{ id: string; delay: number }> = [];
  let seq = 0;
  try {
    while (!stop.now) {
      const next = retry.shift() ?? { id: `p${p}-${seq++}`, delay: random() < 0.1 ? 1 + Math.floor(random() * 3) : 0 };
      const ps: Record<string, string> = { KEYS: next.id, UNIQ_KEY: next.id, TAGS: `t${seq % 3}`, WAIT: 'true' };
      if (next.delay > 0) ps['DELAY'] = String(next.delay);
      const ext: ExtFields = {
        a: 'SOAK_PG',
        b: TOPIC,
        c: 'TBW102',
        d: String(QUEUES),
        e: String(Math.floor(random() * QUEUES)),
        f: '0',
        g: String(Date.now()),
        h: '0',
        i: props(ps),
        j: '0',
        k: 'false',
        m: 'false',
      };
      ledger.sent++;
      let ok = false;
      try {
        const r = await call(client, broker.addr, RequestCode.SEND_MESSAGE_V2, ext, bodyOf(next.id));
        ok = r.code === ResponseCode.SUCCESS;
      } catch {
        ok = false;
      }
      if (ok) {
        ledger.acked.add(next.id);
        if (next.delay > 0) ledger.delayed.add(next.id);
      } else {
        ledger.failedCalls++;
        ledger.resent.add(next.id);
        retry.push(next);
        await sleep(30);
      }
    }
  } finally {
    client.close();
  }
}

/** A consumer: pulls its share of the queues; one message in twenty is sent back for retry (once). */
async function consumerLoop(c: number, consumers: number, broker: SoakBroker, ledger: Ledger, stop: { now: boolean }): Promise<void> {
  const client = new RemotingClient({ name: `soak-consumer-${c}` });
  const offsets = new Map<number, number>();
  const sendBackTodo: Array<{ id: string; phy: number }> = [];
  const queues = Array.from({ length: QUEUES }, (_, q) => q).filter((q) => q % consumers === c);
  try {
    while (!stop.now) {
      let got = 0;
      for (const q of queues) {
        const offset = offsets.get(q) ?? 0;
        try {
          const r = await call(client, broker.addr, RequestCode.PULL_MESSAGE, {
            consumerGroup: GROUP,
            topic: TOPIC,
            queueId: String(q),
            queueOffset: String(offset),
            maxMsgNums: '32',
            sysFlag: String(0x1 | 0x4),
            commitOffset: String(offset),
            suspendTimeoutMillis: '0',
            subscription: '*',
            subVersion: '0',
            expressionType: 'TAG',
          });
          const next = Number(r.extFields?.['nextBeginOffset'] ?? offset);
          if (r.code === ResponseCode.SUCCESS && r.body !== null) {
            for (const m of iterateRecords(r.body)) {
              got++;
              if (m.id !== undefined && m.reconsumeTimes === 0 && hashOf(m.id) % 20 === 0) sendBackTodo.push({ id: m.id, phy: m.phy });
            }
          }
          if (Number.isFinite(next)) offsets.set(q, next);
        } catch {
          await sleep(30);
        }
      }
      while (sendBackTodo.length > 0 && !stop.now) {
        const t = sendBackTodo[0] as { id: string; phy: number };
        try {
          const r = await call(client, broker.addr, RequestCode.CONSUMER_SEND_MSG_BACK, {
            offset: String(t.phy),
            group: GROUP,
            delayLevel: '0',
            originMsgId: t.id,
            originTopic: TOPIC,
            unitMode: 'false',
            maxReconsumeTimes: '16',
          });
          if (r.code !== ResponseCode.SUCCESS) break;
          ledger.retried.add(t.id);
          sendBackTodo.shift();
        } catch {
          break;
        }
      }
      if (got === 0) await sleep(20);
    }
  } finally {
    client.close();
  }
}

function hashOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
  return h >>> 0;
}

interface Seen {
  id: string | undefined;
  phy: number;
  reconsumeTimes: number;
  intact: boolean;
}

/** The records of a pull body, each checked (magic, size, body CRC, body derived from its id). */
function* iterateRecords(body: Buffer): Generator<Seen> {
  let pos = 0;
  while (pos + 8 <= body.length) {
    const size = body.readInt32BE(pos);
    const r = checkMessageRecord(body, pos, body.length, { checkCRC: true });
    if (r.kind !== 'record') {
      yield { id: undefined, phy: -1, reconsumeTimes: 0, intact: false };
      if (size <= 0 || pos + size > body.length) return;
      pos += size;
      continue;
    }
    const id = findProperty(r.info.propertiesString, 'KEYS');
    let intact = id !== undefined;
    let reconsumeTimes = 0;
    try {
      const m = decodeMessageRecord(body.subarray(pos, pos + size));
      reconsumeTimes = m.reconsumeTimes;
      if (id !== undefined && !m.body.equals(bodyOf(id))) intact = false;
    } catch {
      intact = false;
    }
    yield { id, phy: r.info.physicalOffset, reconsumeTimes, intact };
    pos += size;
  }
}

/** Reads every queue of `topic` from its first offset; returns copies per id and damaged records. */
async function readAll(
  client: RemotingClient,
  addr: string,
  topic: string,
  queues: number,
  deadline: number,
): Promise<{ count: Map<string, number>; corrupt: number }> {
  const count = new Map<string, number>();
  let corrupt = 0;
  for (let q = 0; q < queues; q++) {
    let offset = 0;
    for (let guard = 0; guard < 1_000_000 && Date.now() < deadline; guard++) {
      const r = await call(client, addr, RequestCode.PULL_MESSAGE, {
        consumerGroup: 'SOAK_VERIFY',
        topic,
        queueId: String(q),
        queueOffset: String(offset),
        maxMsgNums: '32',
        sysFlag: String(0x4),
        commitOffset: '0',
        suspendTimeoutMillis: '0',
        subscription: '*',
        subVersion: '0',
        expressionType: 'TAG',
      });
      const next = Number(r.extFields?.['nextBeginOffset'] ?? offset);
      if (r.code === ResponseCode.SUCCESS && r.body !== null) {
        for (const m of iterateRecords(r.body)) {
          if (!m.intact || m.id === undefined) corrupt++;
          else count.set(m.id, (count.get(m.id) ?? 0) + 1);
        }
      } else if (r.code !== ResponseCode.PULL_RETRY_IMMEDIATELY && r.code !== ResponseCode.PULL_OFFSET_MOVED) {
        break; // PULL_NOT_FOUND: the end of the queue
      }
      if (!(next > offset)) break;
      offset = next;
    }
  }
  return { count, corrupt };
}

async function runMode(mode: Mode, o: Options, deadline: number): Promise<ModeResult> {
  const random = seededRandom(o.seed + (mode === 'SYNC_FLUSH' ? 1 : 0));
  const broker = new SoakBroker(mode);
  const ledger = new Ledger();
  const recoveries: LaunchTimes[] = [];
  let rounds = 0;
  try {
    await broker.start();
    const admin = new RemotingClient({ name: 'soak-admin' });
    const created = await call(admin, broker.addr, RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic: TOPIC,
      defaultTopic: 'TBW102',
      readQueueNums: String(QUEUES),
      writeQueueNums: String(QUEUES),
      perm: '6',
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: '0',
      order: 'false',
    });
    if (created.code !== ResponseCode.SUCCESS) throw new Error(`cannot create ${TOPIC}: ${created.code} ${created.remark ?? ''}`);
    const stop = { now: false };
    const loops = [
      ...Array.from({ length: o.producers }, (_, p) => producerLoop(p, broker, ledger, seededRandom(o.seed * 100 + p), stop)),
      ...Array.from({ length: o.consumers }, (_, c) => consumerLoop(c, o.consumers, broker, ledger, stop)),
    ];
    for (let round = 1; round <= o.rounds && Date.now() < deadline; round++) {
      const ackedBefore = ledger.acked.size;
      const runMs = Math.floor((0.2 + random() * (o.secondsPerRound - 0.2)) * 1000);
      await sleep(runMs);
      await broker.kill9();
      const t = await broker.launch();
      recoveries.push(t);
      rounds = round;
      process.stdout.write(
        `${mode} round ${round}/${o.rounds}: killed after ${(runMs / 1000).toFixed(2)} s, ` +
          `+${ledger.acked.size - ackedBefore} acked (${ledger.acked.size} total, ${ledger.retried.size} sent back), ` +
          `ready after ${Math.round(t.readyMs)} ms (store recovery ${t.storeMs} ms, ${t.recordsChecked} records checked), ${broker.segments()} segments\n`,
      );
    }
    stop.now = true;
    await Promise.race([Promise.all(loops), sleep(30_000)]);

    // Delayed and retried messages arrive a second or so after the restart: wait for them, bounded.
    const settleUntil = Math.min(deadline, Date.now() + 60_000);
    let main = await readAll(admin, broker.addr, TOPIC, QUEUES, deadline + 600_000);
    let retry = await readAll(admin, broker.addr, RETRY_TOPIC, 1, deadline + 600_000);
    const missing = (): number =>
      [...ledger.acked].filter((id) => !main.count.has(id)).length + [...ledger.retried].filter((id) => !retry.count.has(id)).length;
    while (missing() > 0 && Date.now() < settleUntil) {
      await sleep(2_000);
      main = await readAll(admin, broker.addr, TOPIC, QUEUES, deadline + 600_000);
      retry = await readAll(admin, broker.addr, RETRY_TOPIC, 1, deadline + 600_000);
    }
    admin.close();
    const lostIds = [...ledger.acked].filter((id) => !main.count.has(id));
    let duplicated = 0;
    let duplicatedAfterResend = 0;
    let duplicatedDelayed = 0;
    for (const [id, n] of main.count) {
      if (n <= 1) continue;
      duplicated += n - 1;
      if (ledger.resent.has(id)) duplicatedAfterResend += n - 1;
      else if (ledger.delayed.has(id)) duplicatedDelayed += n - 1;
    }
    const ready = recoveries.map((r) => r.readyMs);
    const store = recoveries.map((r) => r.storeMs).filter((x) => Number.isFinite(x));
    const retriesLost = [...ledger.retried].filter((id) => !retry.count.has(id)).length;
    return {
      mode,
      rounds,
      acknowledged: ledger.acked.size,
      lost: lostIds.length,
      duplicated,
      duplicatedAfterResend,
      duplicatedDelayed,
      corrupt: main.corrupt + retry.corrupt,
      delayedAcknowledged: ledger.delayed.size,
      retriesAcknowledged: ledger.retried.size,
      retriesLost,
      segments: broker.segments(),
      recoveryMsP50: Math.round(percentile(ready, 50)),
      recoveryMsMax: Math.round(Math.max(0, ...ready)),
      storeRecoveryMsP50: Math.round(percentile(store, 50)),
      storeRecoveryMsMax: Math.round(Math.max(0, ...store)),
      recordsCheckedMax: Math.max(0, ...recoveries.map((r) => r.recordsChecked)),
      damagedRecordsSkipped: recoveries.reduce((a, r) => a + r.skipped, 0),
      lostIds: lostIds.slice(0, 20),
    };
  } finally {
    await broker.stop();
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!o.crash) {
    process.stderr.write(
      'usage: pnpm soak --crash [--rounds 100] [--mode ASYNC_FLUSH|SYNC_FLUSH|both] [--seconds-per-round 3] [--producers 3] [--consumers 2] [--seed n] [--max-minutes 180]\n',
    );
    process.exit(2);
  }
  const deadline = Date.now() + o.maxMinutes * 60_000;
  process.stdout.write(
    `soak --crash: ${o.rounds} rounds per mode (${o.modes.join(', ')}), ${o.secondsPerRound} s per round at most, ${o.producers} producers, ${o.consumers} consumers, seed ${o.seed}\n`,
  );
  const results: ModeResult[] = [];
  for (const mode of o.modes) results.push(await runMode(mode, o, deadline));
  for (const r of results) {
    process.stdout.write(
      `${r.mode}: ${r.rounds} rounds, acknowledged ${r.acknowledged} (${r.delayedAcknowledged} delayed, ${r.retriesAcknowledged} sent back), ` +
        `lost ${r.lost}, duplicated ${r.duplicated} (${r.duplicatedAfterResend} after a resend, ${r.duplicatedDelayed} of delayed messages), corrupt ${r.corrupt}, retries lost ${r.retriesLost}, ` +
        `ready after restart p50 ${r.recoveryMsP50} ms max ${r.recoveryMsMax} ms, store recovery p50 ${r.storeRecoveryMsP50} ms max ${r.storeRecoveryMsMax} ms ` +
        `(up to ${r.recordsCheckedMax} records checked), ${r.damagedRecordsSkipped} damaged records skipped, ${r.segments} segments\n`,
    );
    if (r.lost > 0) process.stdout.write(`${r.mode}: lost ids (first 20): ${r.lostIds.join(' ')}\n`);
  }
  process.stdout.write(`SOAK_RESULT ${JSON.stringify(results)}\n`);
  const bad = results.some((r) => r.lost > 0 || r.corrupt > 0 || r.retriesLost > 0);
  process.exit(bad ? 1 : 0);
}

// Stopped from outside (a test's timeout, Ctrl-C): take the broker and name server down too.
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    void stopAllProcesses(2_000).finally(() => {
      removeTempDirs();
      process.exit(130);
    });
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`soak failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
