#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { RequestCode, ResponseCode, type RemotingCommand } from '@rocketmq-ts/protocol';
import { RawClient, appMain, freePort, jsonFrame, makeTempDir, removeTempDirs, startNode, stopAllProcesses, writeConf } from '@rocketmq-ts/testing';

/**
 * `pnpm overload [--connections 10000] [--slow 200] [--seconds 20] [--idle 120]`: a broker in a temp
 * dir takes N idle connections (each makes one request first), M clients that announce a 1 MiB frame
 * and then send one byte a second, and one consumer that sends pulls and never reads the replies,
 * while a normal client sends and pulls. Prints the broker's RSS at each step, the normal client's
 * latencies, and how many of the idle/slow connections the broker has closed (after --idle seconds).
 */
const argv = process.argv.slice(2);
function arg(name: string, dflt: number): number {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} needs a number`);
  return v;
}
const CONNECTIONS = arg('--connections', 10_000);
const SLOW = arg('--slow', 200);
const SECONDS = arg('--seconds', 20);
const IDLE = arg('--idle', 120);

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
    s.once('error', reject);
  });
}

let opaque = 1;
async function call(raw: RawClient, code: number, ext: Record<string, string>, body?: Buffer): Promise<RemotingCommand> {
  const n = raw.frames.length;
  raw.write(jsonFrame({ code, language: 'JAVA', version: 479, opaque: opaque++, flag: 0, extFields: ext }, body));
  return (await raw.waitFrames(n + 1, 10_000))[n]!.cmd;
}

function sendExt(topic: string): Record<string, string> {
  return { a: 'PG_OV', b: topic, c: 'TBW102', d: '4', e: '0', f: '0', g: String(Date.now()), h: '0', i: 'WAIT\u0001true\u0002', j: '0', k: 'false' };
}

function pullExt(topic: string, offset: number): Record<string, string> {
  return {
    consumerGroup: 'CG_OV',
    topic,
    queueId: '0',
    queueOffset: String(offset),
    maxMsgNums: '32',
    sysFlag: '4',
    commitOffset: '0',
    suspendTimeoutMillis: '0',
    subscription: '*',
    subVersion: '0',
    expressionType: 'TAG',
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  const dir = makeTempDir('overload-broker');
  const port = await freePort();
  const conf = writeConf(dir, 'broker.conf', {
    brokerClusterName: 'OverloadCluster',
    brokerName: 'broker-overload',
    brokerIP1: '127.0.0.1',
    bindAddress: '127.0.0.1',
    listenPort: port,
    haListenPort: await freePort(),
    metricsPromExporterPort: await freePort(),
    storePathRootDir: join(dir, 'store'),
    storePathCommitLog: join(dir, 'store', 'commitlog'),
    mappedFileSizeCommitLog: 256 * 1024 * 1024,
    preallocateMode: 'truncate',
    serverChannelMaxIdleTimeSeconds: IDLE,
  });
  const broker = await startNode(appMain('broker'), ['-c', conf], { name: 'broker', readyPattern: /broker \S+ started at/, timeoutMs: 30_000 });
  const pid = broker.pid;
  const client = await RawClient.open(port);
  const topic = 'OV_T';
  const created = await call(client, RequestCode.UPDATE_AND_CREATE_TOPIC, {
    topic,
    defaultTopic: 'TBW102',
    readQueueNums: '1',
    writeQueueNums: '1',
    perm: '6',
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: '0',
    order: 'false',
  });
  if (created.code !== ResponseCode.SUCCESS) throw new Error(`topic: ${created.remark ?? created.code}`);
  const body = Buffer.alloc(16 * 1024, 1);
  for (let i = 0; i < 200; i++) await call(client, RequestCode.SEND_MESSAGE_V2, sendExt(topic), body);
  const rows: string[] = [];
  const note = (what: string): void => {
    const line = `${what.padEnd(64)} broker RSS ${rssMiB(pid).toFixed(0)} MiB`;
    rows.push(line);
    process.stdout.write(line + '\n');
  };
  note('started, 200 messages of 16 KiB stored');

  // N idle connections, each accepted and served once.
  const idle: Socket[] = [];
  let idleClosed = 0;
  const probe = jsonFrame({ code: RequestCode.GET_MAX_OFFSET, language: 'JAVA', version: 479, opaque: 1, flag: 0, extFields: { topic, queueId: '0' } });
  for (let i = 0; i < CONNECTIONS; i += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, CONNECTIONS - i) }, () => open(port)));
    await Promise.all(
      batch.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.once('data', () => resolve());
            s.on('close', () => idleClosed++);
            s.write(probe);
          }),
      ),
    );
    idle.push(...batch);
  }
  note(`${idle.length} idle connections open (each served one request)`);

  const slow: Socket[] = [];
  let slowClosed = 0;
  for (let i = 0; i < SLOW; i++) {
    const s = await open(port);
    s.on('close', () => slowClosed++);
    const len = Buffer.alloc(4);
    len.writeInt32BE(1024 * 1024, 0);
    s.write(len);
    slow.push(s);
  }
  const trickle = setInterval(() => {
    for (const s of slow) if (!s.destroyed) s.write(Buffer.from([0]));
  }, 1000);
  note(`${SLOW} slow clients (1 MiB frame announced, 1 byte/s)`);

  // One consumer that pulls and never reads.
  const stuck = await open(port);
  stuck.pause();
  let stuckSent = 0;
  const stuckTimer = setInterval(() => {
    if (stuck.destroyed || stuck.writableLength > 4 * 1024 * 1024) return;
    const frames: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      frames.push(jsonFrame({ code: RequestCode.PULL_MESSAGE, language: 'JAVA', version: 479, opaque: ++stuckSent, flag: 0, extFields: pullExt(topic, 0) }));
    }
    stuck.write(Buffer.concat(frames));
  }, 20);

  // The normal client keeps sending and pulling.
  const lat: number[] = [];
  let ok = 0;
  let failed = 0;
  let rssMax = 0;
  const until = Date.now() + SECONDS * 1000;
  let next = Date.now() + 5000;
  while (Date.now() < until) {
    const t0 = performance.now();
    const s = await call(client, RequestCode.SEND_MESSAGE_V2, sendExt(topic), Buffer.from('normal'));
    const p = await call(client, RequestCode.PULL_MESSAGE, pullExt(topic, Math.max(0, Number(s.ext('queueOffset') ?? 0))));
    lat.push(performance.now() - t0);
    if (s.code === ResponseCode.SUCCESS && p.code === ResponseCode.SUCCESS) ok++;
    else failed++;
    rssMax = Math.max(rssMax, rssMiB(pid));
    if (Date.now() >= next) {
      note(`  normal client: ${ok} send+pull round trips ok, ${failed} failed; unread pulls written ${stuckSent}`);
      next += 5000;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  clearInterval(stuckTimer);
  note(`after ${SECONDS} s under load (max seen ${rssMax.toFixed(0)} MiB)`);
  rows.push(
    `normal client: ${ok} send+pull round trips ok, ${failed} failed; latency p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${pct(lat, 100).toFixed(1)} ms`,
  );
  rows.push(
    `non-reading consumer: ${stuckSent} pulls written, ${(stuck.writableLength / 2 ** 20).toFixed(1)} MiB still queued on its side (the broker stopped reading it)`,
  );
  rows.push(`closed by the broker so far: ${idleClosed} of ${idle.length} idle, ${slowClosed} of ${SLOW} slow (serverChannelMaxIdleTimeSeconds=${IDLE})`);
  clearInterval(trickle);
  for (const s of [...idle, ...slow, stuck]) s.destroy();
  client.destroy();
  await new Promise((r) => setTimeout(r, 2000));
  note('all test connections closed (2 s later)');
  process.stdout.write('\n' + rows.join('\n') + '\n');
}

process.once('SIGINT', () => {
  void stopAllProcesses().finally(() => {
    removeTempDirs();
    process.exit(130);
  });
});

main().then(
  async () => {
    await stopAllProcesses();
    removeTempDirs();
  },
  async (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    await stopAllProcesses();
    removeTempDirs();
    process.exit(1);
  },
);
