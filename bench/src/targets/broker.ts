import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { APP_NODE_ARGS } from '@rocketmq-ts/launcher';
import { RemotingClient } from '@rocketmq-ts/remoting';
import {
  RemotingCommand,
  RequestCode,
  ResponseCode,
  SerializeType,
  decodeMessageRecord,
  decodeOffsetMsgId,
  encodeBatchBody,
  encodeCommand,
  findProperty,
  nextOpaque,
} from '@rocketmq-ts/protocol';
import { appMain, freePort, makeTempDir, removeTempDir, startNode, writeConf, type NodeProcess } from '@rocketmq-ts/testing';
import type { Row } from '../report.js';
import { PAYLOAD, SCENARIOS, measure, measureAlternated, medianRow, plan, rowFrom, wanted, withClientCpu } from '../scenarios.js';
import { processCpuMicros, RssSampler, selfCpuMicros } from '../stats.js';
import { profileNodeArgs } from '../profile.js';
import { JAVA_CLIENT_VERSION, javaFrame, javaPropertiesString, javaPullExt, javaSendV2Ext, uniqIdMaker } from '../java-frames.js';

const TOPIC = 'BenchTopic';
const QUEUES = 4;

/**
 * The broker to measure: this checkout's, or with `BENCH_BROKER_ROOT=<checkout>` another built
 * checkout's (a before/after comparison driven by the same load generator).
 */
function brokerMain(): string {
  const root = process.env['BENCH_BROKER_ROOT'];
  return root !== undefined && root !== '' ? join(root, 'apps', 'broker', 'dist', 'main.js') : appMain('broker');
}

export function brokerTargetAvailable(): boolean {
  return existsSync(brokerMain());
}

export interface Broker {
  proc: NodeProcess;
  addr: string;
  dir: string;
  /** `http://127.0.0.1:<port>/metrics` when BENCH_BROKER_MEM=1 (the exporter is off otherwise). */
  metricsUrl?: string;
  memProbe?: MemProbe;
}

/** Memory gauges of prom-client's default metrics, in bytes. */
export interface MemSample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** Parses the process memory gauges from a Prometheus text page. */
export function parseMemMetrics(text: string): MemSample {
  const get = (name: string): number => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return {
    rss: get('process_resident_memory_bytes'),
    heapUsed: get('nodejs_heap_size_used_bytes'),
    heapTotal: get('nodejs_heap_size_total_bytes'),
    external: get('nodejs_external_memory_bytes'),
  };
}

/**
 * BENCH_BROKER_MEM=1: scrapes the broker's /metrics every 250 ms and prints, per phase, the largest
 * RSS and the heap/external figures at that moment (stderr), to see where a phase's RSS goes.
 */
export class MemProbe {
  private timer: NodeJS.Timeout | null = null;
  private phase = 'start';
  private peak: MemSample | null = null;
  constructor(private readonly url: string) {
    this.timer = setInterval(() => void this.sample(), 250);
  }
  private async sample(): Promise<void> {
    try {
      const s = parseMemMetrics(await (await fetch(this.url)).text());
      if (this.peak === null || s.rss > this.peak.rss) this.peak = s;
    } catch {
      // not up yet or gone
    }
  }
  /** Ends the current phase (printing its peak) and starts `next`. */
  mark(next: string): void {
    const p = this.peak;
    const mb = (v: number): string => `${Math.round(v / 1e6)} MB`;
    if (p) process.stderr.write(`[mem] ${this.phase}: peak rss ${mb(p.rss)} (heap used ${mb(p.heapUsed)} of ${mb(p.heapTotal)}, external ${mb(p.external)})\n`);
    this.phase = next;
    this.peak = null;
  }
  stop(): void {
    this.mark('end');
    if (this.timer) clearInterval(this.timer);
  }
}

/** A broker of its own (no name server needed: the bench talks to it directly). */
export async function startBroker(
  flushDiskType: 'ASYNC_FLUSH' | 'SYNC_FLUSH',
  ha: Record<string, string | number> = {},
  label: string = flushDiskType,
): Promise<Broker> {
  const dir = makeTempDir('rmqts-bench-broker-');
  const port = await freePort();
  const memPort = process.env['BENCH_BROKER_MEM'] === '1' ? await freePort() : 0;
  const conf = writeConf(dir, 'broker.conf', {
    haListenPort: await freePort(),
    ...ha,
    brokerName: 'bench-broker',
    brokerIP1: '127.0.0.1',
    listenPort: port,
    metricsPromExporterPort: memPort,
    storePathRootDir: `${dir}/store`,
    flushDiskType,
    autoCreateTopicEnable: true,
    defaultTopicQueueNums: QUEUES,
    mappedFileSizeCommitLog: 1024 * 1024 * 1024,
    preallocateMode: 'truncate',
  });
  const proc = await startNode(brokerMain(), ['-c', conf], {
    name: `broker-${label}`,
    readyPort: port,
    timeoutMs: 30_000,
    // The broker's own start options (as the launcher and the container use), then any of the run's.
    nodeArgs: [...APP_NODE_ARGS['broker']!, ...(process.env['BENCH_BROKER_NODE_ARGS'] ?? '').split(' ').filter(Boolean), ...profileNodeArgs(`broker-${label}`)],
  });
  if (memPort === 0) return { proc, addr: `127.0.0.1:${port}`, dir };
  const metricsUrl = `http://127.0.0.1:${memPort}/metrics`;
  return { proc, addr: `127.0.0.1:${port}`, dir, metricsUrl, memProbe: new MemProbe(metricsUrl) };
}

export async function stopBroker(b: Broker): Promise<void> {
  b.memProbe?.stop();
  await b.proc.stop('SIGTERM', 10_000);
  removeTempDir(b.dir);
}

/**
 * SEND_MESSAGE_V2 with the binary (ROCKETMQ) header: what our own client can ask for to skip JSON.
 * The producer shares the machine's cores with the broker, so it is kept lean: one command and
 * one extFields object, re-stamped per call (the connection encodes a command synchronously inside
 * invoke and keeps only its opaque afterwards).
 */
function sender(client: RemotingClient, addr: string, batch: number, properties?: () => string): (i: number) => Promise<unknown> {
  const batchBody =
    batch > 1 ? encodeBatchBody(Array.from({ length: batch }, () => ({ flag: 0, body: PAYLOAD, properties: new Map([['TAGS', 'bench']]) }))) : null;
  const queueIds = Array.from({ length: QUEUES }, (_, q) => String(q));
  const ext = {
    a: 'bench-producer',
    b: TOPIC,
    c: 'TBW102',
    d: String(QUEUES),
    e: '0',
    f: '0',
    g: String(Date.now()),
    h: '0',
    i: 'TAGS\u0001bench\u0002',
    j: '0',
    k: 'false',
    m: batch > 1 ? 'true' : 'false',
  };
  const cmd = RemotingCommand.request(batch > 1 ? RequestCode.SEND_BATCH_MESSAGE : RequestCode.SEND_MESSAGE_V2, ext, batchBody ?? PAYLOAD);
  cmd.serializeType = SerializeType.ROCKETMQ;
  let stampedAt = 0;
  const check = (r: RemotingCommand): void => {
    if (r.code !== ResponseCode.SUCCESS) throw new Error(`send failed: ${r.code} ${r.remark ?? ''}`);
  };
  return (i: number) => {
    const now = Date.now();
    if (now !== stampedAt) {
      stampedAt = now;
      ext.g = String(now);
    }
    ext.e = queueIds[i % QUEUES]!;
    if (properties !== undefined) ext.i = properties();
    cmd.opaque = nextOpaque();
    cmd.flag = 0;
    return client.invoke(addr, cmd, 10_000).then(check);
  };
}

/**
 * The properties a Java DefaultMQProducer (5.3.x) sets on a tagged message, UNIQ_KEY new per call
 * (TAGS, WAIT, UNIQ_KEY joined in Java HashMap order): the JSON send row sends these, and its
 * binary partner row sends the same so the two differ only in the header's serialisation.
 */
function javaSendProperties(): () => string {
  const uniq = uniqIdMaker();
  const sample = javaPropertiesString([
    ['TAGS', 'bench'],
    ['WAIT', 'true'],
    ['UNIQ_KEY', uniq()],
  ]);
  // The property order for these three names, worked out once; per message only UNIQ_KEY changes.
  const at = sample.indexOf('UNIQ_KEY\u0001');
  const before = sample.slice(0, at);
  const after = sample.slice(sample.indexOf('\u0002', at) + 1);
  return () => before + 'UNIQ_KEY\u0001' + uniq() + '\u0002' + after;
}

/** The broker name of startBroker's brokers (what a Java client puts in `n` / `bname`). */
const BROKER_NAME = 'bench-broker';

/**
 * Throws unless our SDK writes `cmd` byte for byte as a Java client (fastjson) writes the same
 * command: the JSON rows must measure the frames real Java clients send.
 */
function assertJavaFraming(cmd: RemotingCommand): void {
  const ours = encodeCommand(cmd);
  const java = javaFrame(
    { code: cmd.code, opaque: cmd.opaque, flag: cmd.flag, version: cmd.version, extFields: cmd.extFields as Record<string, string> },
    cmd.body,
  );
  if (!ours.equals(java)) {
    throw new Error(
      `SDK JSON framing differs from the Java client's:\n ours ${ours.subarray(8, 400).toString('latin1')}\n java ${java.subarray(8, 400).toString('latin1')}`,
    );
  }
}

/**
 * SEND_MESSAGE_V2 framed as RocketMQ's Java DefaultMQProducer (5.3.x) frames it by default: JSON
 * header, language JAVA, version 479, the a..n extFields it sets (all strings, in Java HashMap
 * order) and the properties it sets on a tagged message (UNIQ_KEY per message, WAIT, TAGS). One
 * command and one extFields object are re-stamped per call, as in `sender` (the key order stays).
 */
function javaJsonSender(client: RemotingClient, addr: string): (i: number) => Promise<unknown> {
  const props = javaSendProperties();
  const ext = javaSendV2Ext({
    producerGroup: 'bench-producer',
    topic: TOPIC,
    defaultTopicQueueNums: QUEUES,
    queueId: 0,
    bornTimestamp: Date.now(),
    properties: props(),
    brokerName: BROKER_NAME,
  });
  const cmd = RemotingCommand.request(RequestCode.SEND_MESSAGE_V2, ext, PAYLOAD);
  cmd.serializeType = SerializeType.JSON;
  cmd.language = 'JAVA';
  cmd.version = JAVA_CLIENT_VERSION;
  assertJavaFraming(cmd);
  const queueIds = Array.from({ length: QUEUES }, (_, q) => String(q));
  let stampedAt = 0;
  const check = (r: RemotingCommand): void => {
    if (r.code !== ResponseCode.SUCCESS) throw new Error(`send failed: ${r.code} ${r.remark ?? ''}`);
  };
  return (i: number) => {
    const now = Date.now();
    if (now !== stampedAt) {
      stampedAt = now;
      ext.g = String(now);
    }
    ext.e = queueIds[i % QUEUES]!;
    ext.i = props();
    cmd.opaque = nextOpaque();
    cmd.flag = 0;
    return client.invoke(addr, cmd, 10_000).then(check);
  };
}

/**
 * A transaction as TransactionMQProducer runs one with an instant local transaction: the half message
 * (TRAN_MSG, PGROUP, sysFlag PREPARED), then END_TRANSACTION COMMIT. The Java client sends the verdict
 * oneway; here it waits for the answer so that a finished request is a committed message.
 */
function transactionSender(client: RemotingClient, addr: string): (i: number) => Promise<unknown> {
  const group = 'bench-tx-producer';
  return async (i: number) => {
    const half = RemotingCommand.request(
      RequestCode.SEND_MESSAGE_V2,
      {
        a: group,
        b: TOPIC,
        c: 'TBW102',
        d: String(QUEUES),
        e: String(i % QUEUES),
        f: '4',
        g: String(Date.now()),
        h: '0',
        i: `TAGS\u0001bench\u0002TRAN_MSG\u0001true\u0002PGROUP\u0001${group}\u0002`,
        j: '0',
        k: 'false',
        m: 'false',
      },
      PAYLOAD,
    );
    half.serializeType = SerializeType.ROCKETMQ;
    const r = await client.invoke(addr, half, 10_000);
    if (r.code !== ResponseCode.SUCCESS) throw new Error(`half send failed: ${r.code} ${r.remark ?? ''}`);
    const msgId = r.ext('msgId') ?? '';
    const txId = r.ext('transactionId') ?? '';
    const end = RemotingCommand.request(RequestCode.END_TRANSACTION, {
      topic: TOPIC,
      producerGroup: group,
      tranStateTableOffset: r.ext('queueOffset') ?? '0',
      commitLogOffset: String(decodeOffsetMsgId(msgId)?.commitLogOffset ?? -1),
      commitOrRollback: '8',
      fromTransactionCheck: 'false',
      msgId: txId,
      transactionId: txId,
    });
    end.serializeType = SerializeType.ROCKETMQ;
    const e = await client.invoke(addr, end, 10_000);
    if (e.code !== ResponseCode.SUCCESS) throw new Error(`commit failed: ${e.code} ${e.remark ?? ''}`);
  };
}

/**
 * `BENCH_CONSUME_DECODE=none` skips the consumer's record decode (to measure what the decode costs);
 * runs meant for comparison keep it on.
 */
const decodePulled = process.env['BENCH_CONSUME_DECODE'] !== 'none';

/**
 * What a RocketMQ consumer takes from a pull body: every record decoded with the project's own
 * decoder (body as a view, queue offset, commit-log offset, offset msgId, topic, hosts, times and
 * the properties string), and the message's msgId as clients report it (UNIQ_KEY when the producer
 * set one). The properties map is left to be built on demand. Returns the records seen.
 */
function consumePulled(body: Buffer | null): number {
  if (body === null) return 0;
  let n = 0;
  for (let pos = 0; pos + 8 <= body.length; n++) {
    const m = decodeMessageRecord(body, pos, { decodeProperties: false });
    const msgId = findProperty(m.propertiesString, 'UNIQ_KEY') ?? m.msgId;
    if (m.body.length !== PAYLOAD.length || msgId.length === 0 || m.queueOffset < 0) throw new Error(`pulled record at ${pos} is not a bench message`);
    pos += m.storeSize;
  }
  return n;
}

/**
 * Pulls every queue from offset 0 to its end, one pull in flight per queue, 32 messages a pull;
 * with `java`, each PULL_MESSAGE is framed as DefaultMQPullConsumer (5.3.x) frames it (JSON header).
 */
async function consumeAll(client: RemotingClient, addr: string, java = false): Promise<number> {
  let total = 0;
  let checked = false;
  await Promise.all(
    Array.from({ length: QUEUES }, async (_, q) => {
      let offset = 0;
      for (;;) {
        if (java) {
          const ext = javaPullExt({ group: 'bench-consumer-java', topic: TOPIC, queueId: q, queueOffset: offset, maxMsgNums: 32, brokerName: BROKER_NAME });
          const cmd = RemotingCommand.request(RequestCode.PULL_MESSAGE, ext);
          cmd.language = 'JAVA';
          cmd.version = JAVA_CLIENT_VERSION;
          if (!checked) {
            assertJavaFraming(cmd);
            checked = true;
          }
          const r = await client.invoke(addr, cmd, 10_000);
          if (r.code !== ResponseCode.SUCCESS) return;
          const next = Number(r.ext('nextBeginOffset'));
          if (decodePulled && consumePulled(r.body) !== next - offset) throw new Error(`pull at ${offset}: body does not hold ${next - offset} records`);
          total += next - offset;
          offset = next;
          continue;
        }
        const cmd = RemotingCommand.request(RequestCode.PULL_MESSAGE, {
          consumerGroup: 'bench-consumer',
          topic: TOPIC,
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
        cmd.serializeType = SerializeType.ROCKETMQ;
        const r = await client.invoke(addr, cmd, 10_000);
        if (r.code !== ResponseCode.SUCCESS) return;
        const next = Number(r.ext('nextBeginOffset'));
        if (decodePulled && consumePulled(r.body) !== next - offset) throw new Error(`pull at ${offset}: body does not hold ${next - offset} records`);
        total += next - offset;
        offset = next;
      }
    }),
  );
  return total;
}

/**
 * RocketMQ 5 consumption: every queue popped (32 at a time, one pop in flight per queue) by a new
 * group, and each message acked on its own (ACK_MESSAGE, the acks of one pop in flight together),
 * until the topic is drained or `limit` messages were consumed.
 */
async function popAckAll(client: RemotingClient, addr: string, brokerName: string, limit: number): Promise<number> {
  let total = 0;
  const group = `bench-pop-${Date.now()}`;
  await Promise.all(
    Array.from({ length: QUEUES }, async (_, q) => {
      while (total < limit) {
        const cmd = RemotingCommand.request(RequestCode.POP_MESSAGE, {
          consumerGroup: group,
          topic: TOPIC,
          queueId: String(q),
          maxMsgNums: '32',
          invisibleTime: '60000',
          pollTime: '0',
          bornTime: String(Date.now()),
          initMode: '0',
          expType: 'TAG',
          exp: '*',
        });
        cmd.serializeType = SerializeType.ROCKETMQ;
        const r = await client.invoke(addr, cmd, 10_000);
        if (r.code !== ResponseCode.SUCCESS || !r.body) return;
        const start = (r.ext('startOffsetInfo') ?? '').split(' ')[2] ?? '0';
        const handle = `${start} ${r.ext('popTime')} ${r.ext('invisibleTime')} ${r.ext('reviveQid')} 0 ${brokerName} ${q}`;
        // Record boundaries from TOTALSIZE, queue offsets from the QUEUEOFFSET field.
        const acks: Promise<RemotingCommand>[] = [];
        for (let pos = 0; pos + 28 <= r.body.length; pos += r.body.readInt32BE(pos)) {
          const offset = String(Number(r.body.readBigInt64BE(pos + 20)));
          const ack = RemotingCommand.request(RequestCode.ACK_MESSAGE, {
            consumerGroup: group,
            topic: TOPIC,
            queueId: String(q),
            extraInfo: `${handle} ${offset}`,
            offset,
          });
          ack.serializeType = SerializeType.ROCKETMQ;
          acks.push(client.invoke(addr, ack, 10_000));
        }
        for (const a of await Promise.all(acks)) if (a.code !== ResponseCode.SUCCESS) throw new Error(`ack failed: ${a.code} ${a.remark ?? ''}`);
        total += acks.length;
      }
    }),
  );
  return total;
}

export async function runBrokerScenarios(): Promise<Row[]> {
  const rows: Row[] = [];
  const name = 'rocketmq-ts';
  // Three brokers in turn: the ASYNC_FLUSH rows, the JSON send pair on a broker of its own, SYNC_FLUSH.
  // On this VM each window slows the ones after it on the same broker (the page cache it grows, see
  // BENCHMARKS.md, Round 7), so the pair that compares header formats starts from a fresh store as the
  // async row does, rather than carrying the ~4 GiB the rows before it wrote.
  for (const pass of ['ASYNC_FLUSH', 'JSON', 'SYNC_FLUSH'] as const) {
    const flush = pass === 'SYNC_FLUSH' ? 'SYNC_FLUSH' : 'ASYNC_FLUSH';
    if (
      pass === 'SYNC_FLUSH'
        ? !wanted('sync')
        : pass === 'JSON'
          ? !wanted('jsonSend')
          : !(['async', 'batch', 'latency', 'consume', 'transaction', 'popAck', 'jsonPull'] as const).some(wanted)
    ) {
      continue;
    }
    const b = await startBroker(flush, {}, pass === 'JSON' ? 'ASYNC_FLUSH-json' : flush);
    const client = new RemotingClient();
    try {
      const pid = b.proc.pid;
      // warm-up: create the topic and JIT the paths
      const warm = sender(client, b.addr, 1);
      for (let i = 0; i < 2000; i++) await warm(i);
      if (flush === 'SYNC_FLUSH') {
        b.memProbe?.mark('sync');
        if (wanted('sync')) rows.push(await measure(SCENARIOS.sync, name, 'sync (SYNC_FLUSH group commit)', pid, sender(client, b.addr, 1)));
        continue;
      }
      const label = 'async (ASYNC_FLUSH)';
      if (pass === 'JSON') {
        b.memProbe?.mark('jsonSend');
        // The header comparison proper: a binary-header row with the JSON row's message properties
        // (UNIQ_KEY per message), so the two differ only in the header's serialisation, their
        // windows alternated so that neither runs on a fuller store than the other. Run without the
        // async row (--scenarios jsonSend), the lean binary row of the first ratio joins the turns.
        const warmJson = javaJsonSender(client, b.addr);
        for (let i = 0; i < 2000; i++) await warmJson(i);
        const lean = wanted('async') ? [] : [{ spec: SCENARIOS.async, send: () => sender(client, b.addr, 1) }];
        const pair = await measureAlternated(
          [
            ...lean,
            { spec: SCENARIOS.binaryJavaProps, send: () => sender(client, b.addr, 1, javaSendProperties()) },
            { spec: SCENARIOS.jsonSend, send: () => javaJsonSender(client, b.addr) },
          ],
          name,
          label,
          pid,
        );
        rows.push(...pair);
        continue;
      }
      b.memProbe?.mark('async');
      if (wanted('async')) rows.push(await measure(SCENARIOS.async, name, label, pid, sender(client, b.addr, 1)));
      b.memProbe?.mark('batch');
      if (wanted('batch')) rows.push(await measure(SCENARIOS.batch, name, label, pid, sender(client, b.addr, 64)));
      b.memProbe?.mark('latency');
      if (wanted('latency')) rows.push(await measure(SCENARIOS.latency, name, label, pid, sender(client, b.addr, 1)));
      b.memProbe?.mark('transaction');
      if (wanted('transaction')) rows.push(await measure(SCENARIOS.transaction, name, label, pid, transactionSender(client, b.addr)));
      b.memProbe?.mark('popAck');
      if (wanted('popAck')) {
        // Run alone (--scenarios popAck), the topic is filled first.
        if (!wanted('async')) {
          const fill = sender(client, b.addr, 64);
          for (let i = 0; i < plan.consumeMessages / 64; i++) await fill(i);
        }
        rows.push(
          await medianRow(async () => {
            const rss = new RssSampler(pid);
            rss.start();
            const cpu0 = processCpuMicros(pid);
            const t0 = performance.now();
            const n = await popAckAll(client, b.addr, 'bench-broker', plan.consumeMessages);
            return rowFrom(
              SCENARIOS.popAck.scenario,
              name,
              label,
              n,
              performance.now() - t0,
              undefined,
              (processCpuMicros(pid) - cpu0) / Math.max(1, n),
              rss.stop(),
              `${QUEUES} queues, 1 pop in flight each, 32 acks in flight after it`,
            );
          }),
        );
      }
      b.memProbe?.mark('consume');
      if (!wanted('consume') && !wanted('jsonPull')) continue;
      if (!(['async', 'jsonSend', 'batch'] as const).some(wanted)) {
        // Run without the send rows (--scenarios consume / jsonPull), the topic is filled first.
        const fill = sender(client, b.addr, 64);
        for (let i = 0; i < plan.consumeMessages / 64; i++) await fill(i);
      }
      const pullRow = (java: boolean): Promise<Row> =>
        medianRow(async () => {
          const rss = new RssSampler(pid);
          rss.start();
          const cpu0 = processCpuMicros(pid);
          const self0 = selfCpuMicros();
          const t0 = performance.now();
          const n = await consumeAll(client, b.addr, java);
          const el = performance.now() - t0;
          const self1 = selfCpuMicros();
          return withClientCpu(
            rowFrom(
              (java ? SCENARIOS.jsonPull : SCENARIOS.consume).scenario,
              name,
              label,
              n,
              el,
              undefined,
              (processCpuMicros(pid) - cpu0) / Math.max(1, n),
              rss.stop(),
              `${QUEUES} queues, 1 pull in flight each`,
            ),
            (self1 - self0) / Math.max(1, n),
          );
        });
      // The JSON pull row needs the binary one beside it (same data, same run).
      rows.push(await pullRow(false));
      if (wanted('jsonPull')) rows.push(await pullRow(true));
    } catch (e) {
      rows.push({ scenario: '-', system: name, durability: flush, msgsPerSec: NaN, mbPerSec: NaN, note: `failed: ${(e as Error).message}` });
    } finally {
      client.close();
      await stopBroker(b);
    }
  }
  return rows;
}

/** Runtime info (a KV table) of a broker. */
export async function runtimeInfo(client: RemotingClient, addr: string): Promise<Record<string, string>> {
  const r = await client.invoke(addr, RemotingCommand.request(RequestCode.GET_BROKER_RUNTIME_INFO, null, null), 5_000);
  return (JSON.parse(r.body!.toString('utf8')) as { table: Record<string, string> }).table;
}

/**
 * A master and its slave (ASYNC_FLUSH both; the slave replicates over HA): sends to the master under
 * SYNC_MASTER (acknowledged once the slave has the bytes) and ASYNC_MASTER (acknowledged at once,
 * the slave follows), with the slave's lag sampled during the ASYNC_MASTER window.
 */
export async function runReplicatedScenarios(): Promise<Row[]> {
  const rows: Row[] = [];
  const name = 'rocketmq-ts';
  for (const role of ['SYNC_MASTER', 'ASYNC_MASTER'] as const) {
    const spec = role === 'SYNC_MASTER' ? SCENARIOS.syncMaster : SCENARIOS.asyncMaster;
    if (!wanted(role === 'SYNC_MASTER' ? 'syncMaster' : 'asyncMaster')) continue;
    const haPort = await freePort();
    let master: Broker | undefined;
    let slave: Broker | undefined;
    let sampler: NodeJS.Timeout | undefined;
    const client = new RemotingClient();
    try {
      master = await startBroker('ASYNC_FLUSH', { brokerRole: role, haListenPort: haPort }, role);
      slave = await startBroker('ASYNC_FLUSH', { brokerRole: 'SLAVE', brokerId: 1, haMasterAddress: `127.0.0.1:${haPort}` }, 'SLAVE');
      const m = master;
      for (let i = 0; i < 100 && (await runtimeInfo(client, m.addr))['haSlaveCount'] !== '1'; i++) await new Promise((r) => setTimeout(r, 100));
      const warm = sender(client, m.addr, 1);
      for (let i = 0; i < 2000; i++) await warm(i);
      const label = role === 'SYNC_MASTER' ? 'replicated (SYNC_MASTER, ASYNC_FLUSH)' : 'async replication (ASYNC_MASTER, ASYNC_FLUSH)';
      // The slave's lag as the master sees it, sampled every 100 ms during the window.
      const lags: number[] = [];
      sampler = setInterval(() => {
        runtimeInfo(client, m.addr).then(
          (t) => lags.push(Number((t['haSlaves'] ?? '').split(':').pop() ?? 0)),
          () => undefined,
        );
      }, 100);
      const row = await measure(spec, name, label, m.proc.pid, sender(client, m.addr, 1), { slave: slave.proc.pid });
      clearInterval(sampler);
      if (lags.length > 0) {
        lags.sort((a, b) => a - b);
        const kib = (v: number): string => `${Math.round(v / 1024)} KiB`;
        const lag = `slave lag p50 ${kib(lags[Math.floor(lags.length / 2)]!)}, max ${kib(lags[lags.length - 1]!)}`;
        row.note = row.note ? `${row.note}; ${lag}` : lag;
      }
      rows.push(row);
    } catch (e) {
      rows.push({ scenario: spec.scenario, system: name, durability: role, msgsPerSec: NaN, mbPerSec: NaN, note: `failed: ${(e as Error).message}` });
    } finally {
      // A failed window must not leave the sampler keeping the bench alive (and the bench lock held).
      clearInterval(sampler);
      client.close();
      if (slave) await stopBroker(slave);
      if (master) await stopBroker(master);
    }
  }
  return rows;
}
