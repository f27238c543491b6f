import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RemotingCommand, RequestCode, ResponseCode, encodeRegisterBrokerBody, topicConfig } from '@rocketmq-ts/protocol';
import { RemotingClient } from '@rocketmq-ts/remoting';
import {
  appMain,
  freePort,
  isPidAlive,
  makeTempDir,
  removeTempDirs,
  startNode,
  stopAllProcesses,
  writeConf,
  type NodeProcess,
  jsonFrame,
  rocketmqFrame,
  seededRandom,
} from '@rocketmq-ts/testing';

/**
 * Feeds ≥100 000 random and mutated frames to a running name server over many connections and
 * checks that it stays up, keeps answering valid requests, does not hang, and keeps its memory.
 * Reproducible: FUZZ_SEED selects the input stream.
 */

const SEED = Number(process.env['FUZZ_SEED'] ?? 4242);
const TOTAL_FRAMES = 100_000;
const WORKERS = 4;
const CHECK_EVERY_BATCHES = 25;
// A bound on the loop, not a speed target: beside the other suites on two cores it has needed over 60 s.
const TIME_LIMIT_MS = 150_000;

const rng = seededRandom;

/** Every name-server request code and the extFields its header names. */
const CODES: Array<[number, string[]]> = [
  [RequestCode.PUT_KV_CONFIG, ['namespace', 'key', 'value']],
  [RequestCode.GET_KV_CONFIG, ['namespace', 'key']],
  [RequestCode.DELETE_KV_CONFIG, ['namespace', 'key']],
  [RequestCode.GET_KVLIST_BY_NAMESPACE, ['namespace']],
  [
    RequestCode.REGISTER_BROKER,
    ['brokerName', 'brokerAddr', 'clusterName', 'haServerAddr', 'brokerId', 'heartbeatTimeoutMillis', 'enableActingMaster', 'compressed', 'bodyCrc32'],
  ],
  [RequestCode.UNREGISTER_BROKER, ['brokerName', 'brokerAddr', 'clusterName', 'brokerId']],
  [RequestCode.BROKER_HEARTBEAT, ['clusterName', 'brokerAddr', 'brokerName', 'brokerId', 'epoch', 'maxOffset']],
  [RequestCode.QUERY_DATA_VERSION, ['brokerName', 'brokerAddr', 'clusterName', 'brokerId']],
  [RequestCode.GET_ROUTEINFO_BY_TOPIC, ['topic', 'acceptStandardJsonOnly']],
  [RequestCode.GET_BROKER_CLUSTER_INFO, []],
  [RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, []],
  [RequestCode.GET_TOPICS_BY_CLUSTER, ['cluster']],
  [RequestCode.GET_SYSTEM_TOPIC_LIST_FROM_NS, []],
  [RequestCode.REGISTER_TOPIC_IN_NAMESRV, ['topic']],
  [RequestCode.DELETE_TOPIC_IN_NAMESRV, ['topic', 'clusterName']],
  [RequestCode.WIPE_WRITE_PERM_OF_BROKER, ['brokerName']],
  [RequestCode.ADD_WRITE_PERM_OF_BROKER, ['brokerName']],
  [RequestCode.GET_NAMESRV_CONFIG, []],
  [RequestCode.UPDATE_NAMESRV_CONFIG, []],
];

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  value(): string {
    switch (this.int(10)) {
      case 0:
        return '';
      case 1:
        return String(this.int(2) ? -this.int(1e12) : this.int(1e12));
      case 2:
        return this.pick(['true', 'false', 'TRUE', 'null', 'NaN', '1e309', '0x10', ' 7 ', '9007199254740993']);
      case 3:
        return 'x'.repeat(this.int(5000));
      case 4:
        return this.bytes(this.int(40)).toString('latin1');
      case 5:
        return '\u0000\ud800\uffff"\\{';
      case 6:
        return `127.0.0.1:${this.int(70000)}`;
      default:
        return `v${this.int(50)}`;
    }
  }
  body(code: number): Buffer | undefined {
    switch (this.int(10)) {
      case 0:
        return undefined;
      case 1:
        return this.bytes(this.int(300));
      case 2:
        return Buffer.from('['.repeat(20000));
      case 3:
        return Buffer.from(
          `{"topicConfigSerializeWrapper":{"topicConfigTable":{"T${this.int(9)}":{"readQueueNums":"${this.value()}","perm":${this.int(20)}}},"dataVersion":${this.pick(['null', '1', '{"counter":{"value":3}}', '[]'])}},"filterServerList":${this.pick(['[]', '{}', '"x"', 'null', '[1,2]'])}}`,
        );
      case 4:
      case 5: {
        const b = encodeRegisterBrokerBody(
          {
            topicConfigSerializeWrapper: {
              topicConfigTable: new Map([[`F${this.int(20)}`, topicConfig(`F${this.int(20)}`, { readQueueNums: this.int(20), writeQueueNums: this.int(20) })]]),
              dataVersion: { stateVersion: this.int(3), timestamp: this.int(1e6), counter: this.int(10) },
            },
            filterServerList: [],
          },
          this.int(2) === 0,
        );
        if (this.int(2) === 0) {
          for (let i = 0; i < 3; i++) {
            const at = this.int(b.length);
            b[at] = b[at]! ^ (1 << this.int(8));
          }
        }
        return b;
      }
      case 6:
        return Buffer.from(
          `{"queueDatas":[{"brokerName":"${this.value().slice(0, 20)}","perm":${this.int(10)}}],"brokerDatas":${this.pick(['[]', 'null', '{}'])}}`,
        );
      case 7:
        return Buffer.from(
          code === RequestCode.UPDATE_NAMESRV_CONFIG
            ? `${this.pick(['waitSecondsForService', 'unknownKey', 'kvConfigPath', 'scanNotActiveBrokerInterval'])}=${this.value()}\n`
            : this.value(),
        );
      case 8:
        return Buffer.from(`{"counter":${this.value()},"timestamp":${this.int(100)}}`);
      default:
        return Buffer.from(JSON.stringify({ table: { a: this.value() } }));
    }
  }
  /** A frame with valid framing and garbage inside. */
  frame(): Buffer {
    const [code, fields] = this.int(20) === 0 ? [this.int(70000) - 1000, ['x']] : this.pick(CODES);
    const ext: Record<string, string> = {};
    for (const f of fields) if (this.int(6) !== 0) ext[f] = this.value();
    if (this.int(4) === 0) ext[`junk${this.int(100)}`] = this.value();
    const opaque = this.int(0x7fffffff);
    const flag = this.pick([0, 0, 0, 2, 1, 3]);
    const version = this.pick([479, 401, 400, 37, 0, -5, 32767]);
    const body = code === RequestCode.UPDATE_NAMESRV_CONFIG && this.int(4) !== 0 ? undefined : this.body(code);
    if (this.int(2) === 0 && code >= -32768 && code <= 32767) return rocketmqFrame({ code, opaque, flag, version, ext, language: this.int(20) }, body);
    const header: Record<string, unknown> = { code, opaque, flag, version, language: this.pick(['JAVA', 'GO', 7, 'NOPE', null]) };
    if (this.int(8) !== 0) header['extFields'] = this.int(30) === 0 ? this.pick([[], 'str', 5, { nested: { deep: 1 } }]) : ext;
    return jsonFrame(header, body);
  }
  /** A frame broken at the framing level: the connection is expected to close after it. */
  broken(): Buffer {
    const f = this.frame();
    switch (this.int(6)) {
      case 0:
        for (let i = 0; i < 1 + this.int(8); i++) {
          const at = this.int(f.length);
          f[at] = f[at]! ^ (1 << this.int(8));
        }
        return f;
      case 1:
        return f.subarray(0, this.int(f.length));
      case 2:
        f.writeInt32BE(this.pick([-1, 0, 3, 0x7fffffff, 16 * 1024 * 1024 + 1, 64 * 1024 * 1024]), 0);
        return f;
      case 3:
        f.writeInt32BE((this.int(256) << 24) | this.int(0xffffff), 4);
        return f;
      case 4:
        return this.bytes(this.int(200));
      default: {
        // a plausible length with too few bytes behind it: the server must wait, not hang or grow
        const b = Buffer.alloc(8);
        b.writeInt32BE(1 + this.int(1024 * 1024), 0);
        b.writeInt32BE(this.int(100), 4);
        return b;
      }
    }
  }
}

/** Opens a connection, writes the frames in a few chunks, reads and discards replies, half-closes, waits for the close. */
function feed(port: number, chunks: Buffer[]): Promise<number> {
  return new Promise((resolve) => {
    let received = 0;
    const s = connect({ host: '127.0.0.1', port });
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(received);
    };
    const timer = setTimeout(done, 3000);
    s.on('data', (d: Buffer) => (received += d.length));
    s.on('error', () => undefined);
    s.on('close', done);
    s.once('connect', () => {
      for (const c of chunks) s.write(c);
      s.end();
    });
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

let ns: NodeProcess;
let port: number;
const client = new RemotingClient();

async function healthy(): Promise<void> {
  expect(isPidAlive(ns.pid)).toBe(true);
  const res = await client.invoke(`127.0.0.1:${port}`, RemotingCommand.request(RequestCode.GET_KV_CONFIG, { namespace: 'FUZZ_CHECK', key: 'alive' }), 3000);
  expect(res.code).toBe(ResponseCode.SUCCESS);
  expect(res.ext('value')).toBe('yes');
}

beforeAll(async () => {
  const dir = makeTempDir('namesrv-fuzz');
  port = await freePort();
  const conf = writeConf(dir, 'namesrv.conf', {
    listenPort: port,
    metricsPromExporterPort: await freePort(),
    bindAddress: '127.0.0.1',
    kvConfigPath: join(dir, 'kvConfig.json'),
    scanNotActiveBrokerInterval: 200,
  });
  ns = await startNode(appMain('nameserver'), ['-c', conf], {
    name: 'namesrv-fuzz',
    readyPort: port,
    timeoutMs: 20_000,
    env: { ROCKETMQ_LOG_LEVEL: 'error' },
  });
  const put = await client.invoke(
    `127.0.0.1:${port}`,
    RemotingCommand.request(RequestCode.PUT_KV_CONFIG, { namespace: 'FUZZ_CHECK', key: 'alive', value: 'yes' }),
    3000,
  );
  expect(put.code).toBe(ResponseCode.SUCCESS);
});

afterAll(async () => {
  client.close();
  await stopAllProcesses();
  removeTempDirs();
});

describe('name server under fuzzed traffic', () => {
  it(`survives ${TOTAL_FRAMES} random and mutated frames (seed ${SEED})`, async () => {
    const t0 = Date.now();
    const rss0 = rssMb(ns.pid);
    let sent = 0;
    let connections = 0;
    let checks = 0;

    const worker = async (w: number): Promise<void> => {
      const g = new Gen(rng(SEED * 31 + w));
      let batches = 0;
      while (sent < TOTAL_FRAMES) {
        if (Date.now() - t0 > TIME_LIMIT_MS) throw new Error(`fuzz did not finish within ${TIME_LIMIT_MS} ms (sent ${sent})`);
        const frames: Buffer[] = [];
        const n = 20 + g.int(120);
        for (let i = 0; i < n; i++) frames.push(g.frame());
        const tail = g.int(3);
        for (let i = 0; i < tail; i++) frames.push(g.broken());
        sent += frames.length;
        // merge, then split at random points, so frame boundaries and chunk boundaries differ
        const all = Buffer.concat(frames);
        const chunks: Buffer[] = [];
        let pos = 0;
        while (pos < all.length) {
          const len = 1 + g.int(Math.min(all.length - pos, g.int(3) === 0 ? 7 : 65536));
          chunks.push(all.subarray(pos, pos + len));
          pos += len;
        }
        await feed(port, chunks);
        connections++;
        if (++batches % CHECK_EVERY_BATCHES === 0) {
          await healthy();
          checks++;
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    await healthy();
    const elapsed = Date.now() - t0;
    const rss1 = rssMb(ns.pid);
    process.stdout.write(
      `fuzz: ${sent} frames over ${connections} connections in ${elapsed} ms, ${checks} health checks, rss ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} MB\n`,
    );
    expect(sent).toBeGreaterThanOrEqual(TOTAL_FRAMES);
    expect(elapsed).toBeLessThan(TIME_LIMIT_MS);
    expect(rss1).toBeLessThan(Math.max(400, rss0 * 4));
    expect(ns.hasExited).toBe(false);
  }, 200_000);
});
