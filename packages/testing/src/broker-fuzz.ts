// A frame fuzzer for a running broker: random bytes, frames with random codes, and structured
// mutations of every request code's header fields (missing, wrong type, huge, negative, NaN, very
// long, invalid topic names) and bodies, in JSON and ROCKETMQ header serialisation. It checks that
// the broker answers with RocketMQ's codes and keeps answering a health probe on its own connection;
// the caller checks the process and the store. Used by the broker's fuzz test and `pnpm fuzz`.
import { connect, type Socket } from 'node:net';
import * as protocol from '@rocketmq-ts/protocol';
import { FrameDecoder, RequestCode, ResponseCode, decodeCommand, type HeaderSpec } from '@rocketmq-ts/protocol';
import { seededRandom } from './wait.js';
import { jsonFrame, rocketmqFrame } from './wire.js';

export interface BrokerFuzzOptions {
  host?: string;
  port: number;
  /** Frames to send in all (killer frames on throwaway connections included). */
  frames: number;
  seed: number;
  /** Connections sending decodable frames in parallel (default 4). */
  workers?: number;
  /** Replies awaited per worker before it sends more (default 256). */
  window?: number;
  /** A topic sends may succeed on: successes are counted per reply (it must exist, writable). */
  writableTopic: string;
  /** Topics no request may write to (e.g. read-only); the caller checks their offsets afterwards. */
  guardedTopics: readonly string[];
  /** Stop early after this long (ms). */
  timeLimitMs?: number;
  /** A health probe on its own connection must answer within this (ms, default 5000). */
  healthBoundMs?: number;
  /** Called about once a second. */
  progress?: (p: BrokerFuzzProgress) => void;
}

export interface BrokerFuzzProgress {
  framesSent: number;
  elapsedMs: number;
  healthMaxMs: number;
}

export interface BrokerFuzzReport {
  framesSent: number;
  /** Frames that must close their connection (garbage, bad lengths, undecodable headers). */
  killerFrames: number;
  decodableFrames: number;
  replies: number;
  /** Reply count by response code name. */
  repliesByCode: Record<string, number>;
  /** SYSTEM_ERROR replies by request code and remark (numbers masked, cut at 100 chars). */
  systemErrors: Record<string, number>;
  /** Reply codes that are not RocketMQ response codes. */
  unknownCodes: number[];
  /** Requests expected to be answered that were not, by request code (suspended pulls excluded). */
  unanswered: Record<string, number>;
  /** Messages the broker acknowledged on writableTopic (send/batch replies with SUCCESS and a queue offset). */
  storedOnWritable: number;
  /** SUCCESS send replies that name a guarded topic (must be 0). */
  successOnGuarded: number;
  healthChecks: number;
  healthMaxMs: number;
  /** Health probes that failed or exceeded the bound. */
  healthFailures: string[];
  elapsedMs: number;
  framesPerSec: number;
}

type Rng = () => number;

/** Every request code the protocol names, by name. */
const CODES: ReadonlyArray<[string, number]> = Object.entries(RequestCode as Record<string, number>);
const SEND_CODES = new Set<number>([RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE]);
/**
 * Codes whose request may be held by the broker (long polling) or, as in RocketMQ, not answered
 * at all (END_TRANSACTION): no reply is required in the run.
 */
const MAY_HOLD = new Set<number>([
  RequestCode.END_TRANSACTION,
  RequestCode.PULL_MESSAGE,
  RequestCode.LITE_PULL_MESSAGE,
  RequestCode.POP_MESSAGE,
  RequestCode.PEEK_MESSAGE,
  RequestCode.NOTIFICATION,
  RequestCode.POLLING_INFO,
]);
/** Codes that may name the checked topics: sends (checked) and reads. */
const TOPIC_SAFE = new Set<number>([
  RequestCode.SEND_MESSAGE,
  RequestCode.SEND_MESSAGE_V2,
  RequestCode.SEND_BATCH_MESSAGE,
  RequestCode.PULL_MESSAGE,
  RequestCode.LITE_PULL_MESSAGE,
  RequestCode.QUERY_MESSAGE,
  RequestCode.QUERY_CONSUMER_OFFSET,
  RequestCode.UPDATE_CONSUMER_OFFSET,
  RequestCode.SEARCH_OFFSET_BY_TIMESTAMP,
  RequestCode.GET_MAX_OFFSET,
  RequestCode.GET_MIN_OFFSET,
  RequestCode.GET_EARLIEST_MSG_STORETIME,
  RequestCode.POP_MESSAGE,
  RequestCode.ACK_MESSAGE,
  RequestCode.PEEK_MESSAGE,
  RequestCode.CHANGE_MESSAGE_INVISIBLETIME,
  RequestCode.NOTIFICATION,
  RequestCode.POLLING_INFO,
]);
/** Admin codes that change the broker's own settings: only ever sent with garbage bodies. */
const BODY_GARBAGE_ONLY = new Set<number>([RequestCode.UPDATE_BROKER_CONFIG]);

const SEND_V2_SPEC: HeaderSpec = {
  a: { t: 'string', req: true },
  b: { t: 'string', req: true },
  c: { t: 'string', req: true },
  d: { t: 'int', req: true },
  e: { t: 'int', req: true },
  f: { t: 'int', req: true },
  g: { t: 'long', req: true },
  h: { t: 'int', req: true },
  i: { t: 'string' },
  j: { t: 'int' },
  k: { t: 'bool' },
  l: { t: 'int' },
  m: { t: 'bool' },
  n: { t: 'string' },
};

function norm(s: string): string {
  return s.replace(/_/g, '').toLowerCase();
}

/** Header specs of the protocol package, matched to request codes by name (SendMessageRequestHeader ↔ SEND_MESSAGE). */
function headerSpecs(): Map<number, HeaderSpec> {
  const byName = new Map<string, HeaderSpec>();
  for (const v of Object.values(protocol as Record<string, unknown>)) {
    if (v === null || typeof v !== 'object') continue;
    const h = v as { name?: unknown; spec?: unknown; decode?: unknown };
    if (typeof h.name === 'string' && typeof h.decode === 'function' && h.spec !== null && typeof h.spec === 'object') {
      byName.set(norm(h.name.replace(/RequestHeader$|Header$/, '')), h.spec as HeaderSpec);
    }
  }
  const out = new Map<number, HeaderSpec>();
  for (const [name, code] of CODES) {
    const spec = byName.get(norm(name)) ?? byName.get(norm(name.replace(/_V2$/, '')));
    if (spec) out.set(code, spec);
  }
  out.set(RequestCode.SEND_MESSAGE_V2, SEND_V2_SPEC);
  out.set(RequestCode.SEND_BATCH_MESSAGE, SEND_V2_SPEC);
  return out;
}

/** Field names seen anywhere, for codes without a known header. */
const COMMON_FIELDS: HeaderSpec = {
  topic: { t: 'string' },
  consumerGroup: { t: 'string' },
  group: { t: 'string' },
  queueId: { t: 'int' },
  offset: { t: 'long' },
  queueOffset: { t: 'long' },
  commitOffset: { t: 'long' },
  maxMsgNums: { t: 'int' },
  sysFlag: { t: 'int' },
  timestamp: { t: 'long' },
  key: { t: 'string' },
  beginTimestamp: { t: 'long' },
  endTimestamp: { t: 'long' },
  clientId: { t: 'string' },
  brokerName: { t: 'string' },
  msgId: { t: 'string' },
  invisibleTime: { t: 'long' },
  extraInfo: { t: 'string' },
  pollTime: { t: 'long' },
  bornTime: { t: 'long' },
  initMode: { t: 'int' },
  expType: { t: 'string' },
  exp: { t: 'string' },
};

const TOPICS_BAD = [
  '',
  ' ',
  'a b',
  'bad/topic',
  '../../etc',
  '%RETRY%FZ_NOPE',
  '%DLQ%FZ_NOPE',
  'TBW102',
  'SCHEDULE_TOPIC_XXXX',
  'RMQ_SYS_TRANS_HALF_TOPIC',
  'rmq_sys_wheel_timer',
  'x'.repeat(128),
  'x'.repeat(300),
  'ü-topic',
  '\u0001\u0002',
  'null',
];
const INTS_BAD = ['', 'abc', '1.5', '0x10', '1e3', ' 1', '1 ', 'NaN', 'Infinity', '-Infinity', 'true', '--1', '+1'];
const INTS_EDGE = ['-1', '0', '2147483647', '2147483648', '-2147483648', '-2147483649', '9007199254740993', '99999999999999999999', '-9223372036854775808'];

export class BrokerFuzzer {
  private readonly rng: Rng;
  private readonly specs = headerSpecs();
  private readonly host: string;
  private opaque = 1;
  /** Request code of the frame being built. */
  private current = 0;
  /** Codes the broker does not handle (learned from its replies). */
  private readonly unsupported = new Set<number>();
  readonly report: BrokerFuzzReport;
  private stopped = false;

  constructor(private readonly o: BrokerFuzzOptions) {
    this.rng = seededRandom(o.seed);
    this.host = o.host ?? '127.0.0.1';
    this.report = {
      framesSent: 0,
      killerFrames: 0,
      decodableFrames: 0,
      replies: 0,
      repliesByCode: {},
      systemErrors: {},
      unknownCodes: [],
      unanswered: {},
      storedOnWritable: 0,
      successOnGuarded: 0,
      healthChecks: 0,
      healthMaxMs: 0,
      healthFailures: [],
      elapsedMs: 0,
      framesPerSec: 0,
    };
  }

  /** Request codes fuzzed with a header spec of their own (the rest get common field names). */
  get structuredCodes(): number {
    return this.specs.size;
  }

  private int(n: number): number {
    return Math.floor(this.rng() * n);
  }

  private pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T;
  }

  /**
   * A topic for the frame being built. Only sends and reads name the checked topics: an admin
   * request may legitimately create, change or delete the topic it names, which is not a rejected
   * request storing something.
   */
  private topic(): string {
    const r = this.rng();
    if (!TOPIC_SAFE.has(this.current)) return r < 0.8 ? 'FZX_' + this.int(50).toString(36) : this.pick(TOPICS_BAD);
    if (r < 0.45) return this.o.writableTopic;
    if (r < 0.6 && this.o.guardedTopics.length > 0) return this.pick(this.o.guardedTopics);
    if (r < 0.8) return this.pick(TOPICS_BAD);
    return 'FZ_' + this.int(1000).toString(36);
  }

  private properties(): string {
    const r = this.rng();
    const uniq = 'UNIQ_KEY\u0001' + (0x1000000000 + this.int(1e9)).toString(16).toUpperCase().padStart(32, '0') + '\u0002';
    if (r < 0.5) return uniq + 'WAIT\u0001true\u0002TAGS\u0001' + this.pick(['a', 'b', '', 'x'.repeat(50)]) + '\u0002';
    if (r < 0.65) return '\u0001\u0002\u0001';
    if (r < 0.75) return 'x'.repeat(this.int(40_000));
    if (r < 0.85) return uniq + 'KEYS\u0001' + 'k '.repeat(this.int(200)) + '\u0002';
    return '';
  }

  /** A value for a field of type `t` (or a mutation of it); undefined = leave the field out. */
  private value(name: string, t: string, jsonTypes: boolean, mutate: boolean): unknown {
    const r = mutate ? this.rng() : 0.5;
    if (r < 0.08) return undefined;
    if (r < 0.6) {
      // Plausible.
      if (name === 'topic' || name === 'b') return this.topic();
      if (name === 'properties' || name === 'i') return this.properties();
      if (name === 'queueId' || name === 'e') return String(this.int(4) - (this.rng() < 0.05 ? 5 : 0));
      if (name === 'sysFlag' || name === 'f') return String(this.pick([0, 0, 0, 1, 2, 4, 8, 12, 0x40, 255]));
      if (t === 'int' || t === 'long') return String(this.int(64));
      if (t === 'bool') return this.pick(['true', 'false', 'TRUE', 'yes']);
      if (t === 'double') return String(this.rng());
      if (name.toLowerCase().includes('group') || name === 'a') return this.pick(['FZ_G', 'CG_FZ', 'PG_FZ', '', '%RETRY%x']);
      return this.pick(['FZ', 'x', '', '*', 'TAG || b', 'a'.repeat(20)]);
    }
    if (r < 0.7) return this.pick(INTS_EDGE);
    if (r < 0.8) return this.pick(INTS_BAD);
    if (r < 0.85) return this.pick(TOPICS_BAD);
    if (r < 0.88) return 'y'.repeat(this.rng() < 0.97 ? 1_000 + this.int(4_000) : 50_000 + this.int(100_000));
    if (jsonTypes) {
      // JSON headers may carry non-string values.
      return this.pick<unknown>([null, -1, 1.5, Number.MAX_SAFE_INTEGER, true, false, [], {}, { a: 1 }, [1, 2], 1e300, -0]);
    }
    return String.fromCharCode(...Array.from({ length: 1 + this.int(20) }, () => this.int(0x10000)));
  }

  private body(code: number): Buffer | undefined {
    const r = this.rng();
    if (BODY_GARBAGE_ONLY.has(code)) return r < 0.5 ? undefined : Buffer.from(Array.from({ length: this.int(256) }, () => this.int(256)));
    if (r < 0.35) return undefined;
    if (r < 0.6) return Buffer.from(Array.from({ length: this.int(512) }, () => this.int(256)));
    if (r < 0.75) {
      const json = JSON.stringify({
        clientID: 'fz',
        consumerDataSet: [{ groupName: 'FZ_G', subscriptionDataSet: [{ topic: this.topic(), subString: '*' }] }],
        producerDataSet: [],
        topic: this.topic(),
        offsetTable: { a: 1 },
        groupName: this.pick(['FZ_G', '', 'x'.repeat(300)]),
        mqSet: [{ topic: this.topic(), brokerName: 'b', queueId: -1 }],
      });
      return Buffer.from(json.slice(0, this.rng() < 0.5 ? json.length : this.int(json.length)));
    }
    if (r < 0.9) return Buffer.alloc(this.int(4096), this.int(256));
    if (r < 0.998) {
      // A batch body: records of total size / magic / crc / flag / body / props, possibly truncated.
      const parts: Buffer[] = [];
      for (let i = 0, n = 1 + this.int(4); i < n; i++) {
        const body = Buffer.alloc(this.int(64), 1);
        const props = Buffer.from(this.properties());
        const rec = Buffer.alloc(20 + body.length + 2 + props.length);
        rec.writeInt32BE(this.rng() < 0.8 ? rec.length : this.int(1 << 30) - (1 << 29), 0);
        rec.writeInt32BE(0, 4);
        rec.writeInt32BE(0, 8);
        rec.writeInt32BE(0, 12);
        rec.writeInt32BE(body.length, 16);
        body.copy(rec, 20);
        rec.writeInt16BE(props.length & 0x7fff, 20 + body.length);
        props.copy(rec, 22 + body.length);
        parts.push(rec);
      }
      const b = Buffer.concat(parts);
      return this.rng() < 0.7 ? b : b.subarray(0, this.int(b.length));
    }
    return Buffer.alloc(512 * 1024 + this.int(2 * 1024 * 1024), 2);
  }

  private code(): number {
    const r = this.rng();
    if (r < 0.25) return this.pick([RequestCode.SEND_MESSAGE, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE]);
    if (r < 0.9) {
      // Codes the broker answered REQUEST_CODE_NOT_SUPPORTED are tried less (its handler table is where the depth is).
      let c = this.pick(CODES)[1];
      for (let i = 0; i < 3 && this.unsupported.has(c); i++) c = this.pick(CODES)[1];
      return c;
    }
    return this.pick([-1, 0, 9999, 32767, 65535, 2 ** 31 - 1, -(2 ** 31), this.int(400_000)]);
  }

  /** A frame the broker can decode, and whether (and how) it must be answered. */
  private decodableFrame(): { frame: Buffer; code: number; opaque: number; expectReply: boolean; topic: string | undefined; txType: number } {
    const code = this.code();
    this.current = code;
    const spec = this.specs.get(code) ?? COMMON_FIELDS;
    const binary = this.rng() < 0.3;
    const ext: Record<string, unknown> = {};
    const extStrings: Record<string, string> = {};
    const fields = Object.entries(spec);
    // A plausible header with one or two fields mutated (reaches the handlers' own checks), or every field fuzzed.
    const mode = this.rng();
    const mutated = new Set<string>();
    if (mode < 0.75) for (let i = 0, n = mode < 0.2 ? 0 : 1 + this.int(2); i < n && fields.length > 0; i++) mutated.add(this.pick(fields)[0]);
    for (const [name, f] of fields) {
      const v = this.value(name, f.t, !binary, mode >= 0.75 || mutated.has(name));
      if (v === undefined) continue;
      ext[name] = v;
      extStrings[name] = typeof v === 'string' ? v : JSON.stringify(v);
    }
    if (this.rng() < 0.05) ext['unknownField' + this.int(10)] = 'z';
    const opaque = this.opaque++ & 0x7fffffff;
    const fr = this.rng();
    let flag = fr < 0.9 ? 0 : fr < 0.97 ? 2 : this.pick([1, 3, 0xff, -1]);
    // A oneway send is stored without a reply: only to topics the check does not count.
    const named = String(ext['b'] ?? ext['topic'] ?? '');
    if (flag !== 0 && SEND_CODES.has(code) && (named === this.o.writableTopic || this.o.guardedTopics.includes(named))) flag = 0;
    const body = this.body(code);
    const noExt = this.rng() < 0.03;
    // ROCKETMQ headers carry codes in 16 bits.
    const frame = binary
      ? rocketmqFrame(
          { code: ((code << 16) >> 16) | 0, language: this.int(14), version: this.int(500), opaque, flag, ...(noExt ? {} : { ext: extStrings }) },
          body,
        )
      : jsonFrame(
          {
            code,
            language: this.pick(['JAVA', 'GO', 'CPP', 'NODE_JS', 'WHATEVER', 7]),
            version: this.pick([479, 401, 0, -1, 99999]),
            opaque,
            flag,
            ...(noExt ? {} : { extFields: ext }),
            ...(this.rng() < 0.1 ? { remark: 'r'.repeat(this.int(100)) } : {}),
          },
          body,
        );
    const wireCode = binary ? ((code << 16) >> 16) | 0 : code;
    const topicField = wireCode === RequestCode.SEND_MESSAGE ? extStrings['topic'] : extStrings['b'];
    const sys = Number(wireCode === RequestCode.SEND_MESSAGE ? extStrings['sysFlag'] : extStrings['f']);
    return {
      frame,
      code: wireCode,
      opaque,
      expectReply: (flag & 3) === 0,
      topic: SEND_CODES.has(wireCode) ? topicField : undefined,
      txType: Number.isInteger(sys) ? sys & 12 : 0,
    };
  }

  /** Bytes that must make the broker close the connection (or that it may answer before closing). */
  private killerFrame(): Buffer {
    const r = this.rng();
    if (r < 0.3) return Buffer.from(Array.from({ length: 1 + this.int(200) }, () => this.int(256)));
    if (r < 0.45) {
      const b = Buffer.alloc(8);
      b.writeInt32BE(this.pick([-1, 0, 3, 2 ** 31 - 1, 16 * 1024 * 1024 + 1, 100 * 1024 * 1024]), 0);
      b.writeInt32BE(this.int(2 ** 31), 4);
      return b;
    }
    if (r < 0.65) {
      // Header length beyond the frame, or an unknown serialize type.
      const b = Buffer.alloc(8 + 16);
      b.writeInt32BE(4 + 16, 0);
      b.writeUInt32BE(this.rng() < 0.5 ? (this.int(254) + 2) * 2 ** 24 + 16 : 1000, 4);
      return b;
    }
    if (r < 0.85) {
      // Not JSON, or JSON that is not a command.
      const h = Buffer.from(this.pick(['{', 'null', '[]', '{"code":"x"}', '{"code":1e999}', '"str"', '{"opaque":{}}', '\u0000\u0001']));
      const b = Buffer.alloc(8 + h.length);
      b.writeInt32BE(4 + h.length, 0);
      b.writeInt32BE(h.length, 4);
      h.copy(b, 8);
      return b;
    }
    // A binary header whose remark/ext lengths run past it.
    const b = Buffer.alloc(8 + 21);
    b.writeInt32BE(4 + 21, 0);
    b.writeInt32BE((1 << 24) | 21, 4);
    b.writeInt16BE(RequestCode.SEND_MESSAGE_V2, 8);
    b.writeInt32BE(this.pick([-5, 1000, 2 ** 31 - 1]), 8 + 13);
    return b;
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.o.port });
      s.setNoDelay(true);
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', () => undefined);
        resolve(s);
      });
      s.once('error', reject);
    });
  }

  private countReply(code: number): void {
    const name = protocol.responseCodeInfo(code).name;
    const known = Object.values(ResponseCode as Record<string, number>).includes(code);
    if (!known && !this.report.unknownCodes.includes(code)) this.report.unknownCodes.push(code);
    this.report.repliesByCode[name] = (this.report.repliesByCode[name] ?? 0) + 1;
    this.report.replies++;
  }

  /** One worker: decodable frames on one connection, pipelined, replies matched by opaque. */
  private async worker(quota: () => boolean): Promise<void> {
    const window = this.o.window ?? 256;
    const outstanding = new Map<number, { code: number; topic: string | undefined; txType: number; mayHold: boolean }>();
    let socket: Socket | null = null;
    let wake: (() => void) | null = null;
    const connectWorker = async (): Promise<Socket> => {
      const s = await this.open();
      // Replies may be larger than any request (all topics or groups the fuzzing created).
      const decoder = new FrameDecoder(1024 * 1024 * 1024);
      s.on('data', (chunk: Buffer) => {
        try {
          decoder.push(chunk, (f) => {
            const cmd = decodeCommand(f);
            // The broker's own requests to this "client" (NOTIFY_CONSUMER_IDS_CHANGED after a heartbeat) are not replies.
            if ((cmd.flag & 1) === 0) return;
            const req = outstanding.get(cmd.opaque);
            if (req === undefined) return;
            outstanding.delete(cmd.opaque);
            this.countReply(cmd.code);
            if (cmd.code === ResponseCode.REQUEST_CODE_NOT_SUPPORTED) this.unsupported.add(req.code);
            if (cmd.code === ResponseCode.SYSTEM_ERROR) {
              const key = `${req.code}: ${(cmd.remark ?? '').replace(/\d+/g, '#').slice(0, 100)}`;
              this.report.systemErrors[key] = (this.report.systemErrors[key] ?? 0) + 1;
            }
            if (req.topic !== undefined && cmd.code === ResponseCode.SUCCESS) {
              const ids = cmd.ext('msgId');
              const n = ids === undefined ? 0 : ids.split(',').length;
              if (req.topic === this.o.writableTopic && (req.txType === 0 || req.txType === 8)) this.report.storedOnWritable += n;
              if (this.o.guardedTopics.includes(req.topic)) this.report.successOnGuarded++;
            }
          });
        } catch {
          s.destroy();
        }
        wake?.();
      });
      s.on('close', () => {
        // Whatever was pending on a closed connection can no longer be answered.
        for (const [, r] of outstanding) if (!r.mayHold) this.report.unanswered[`closed:${r.code}`] = (this.report.unanswered[`closed:${r.code}`] ?? 0) + 1;
        outstanding.clear();
        if (socket === s) socket = null;
        wake?.();
      });
      return s;
    };
    const waitEvent = (ms: number): Promise<void> =>
      new Promise((r) => {
        const t = setTimeout(() => {
          wake = null;
          r();
        }, ms);
        wake = () => {
          clearTimeout(t);
          wake = null;
          r();
        };
      });
    while (!this.stopped && quota()) {
      socket ??= await connectWorker();
      let blocking = 0;
      for (const r of outstanding.values()) if (!r.mayHold) blocking++;
      if (blocking >= window || socket.writableLength > 4 * 1024 * 1024) {
        await waitEvent(200);
        continue;
      }
      const batch: Buffer[] = [];
      for (let i = 0; i < 32 && quota(); i++) {
        const f = this.decodableFrame();
        this.report.framesSent++;
        this.report.decodableFrames++;
        if (f.expectReply) outstanding.set(f.opaque, { code: f.code, topic: f.topic, txType: f.txType, mayHold: MAY_HOLD.has(f.code) });
        batch.push(f.frame);
      }
      socket.write(Buffer.concat(batch));
      await new Promise<void>((r) => setImmediate(r));
    }
    // Stragglers: everything that must be answered, within 15 s.
    const deadline = Date.now() + 15_000;
    for (;;) {
      let blocking = 0;
      for (const r of outstanding.values()) if (!r.mayHold) blocking++;
      if (blocking === 0 || Date.now() > deadline || socket === null) break;
      await waitEvent(200);
    }
    for (const [, r] of outstanding) if (!r.mayHold) this.report.unanswered[String(r.code)] = (this.report.unanswered[String(r.code)] ?? 0) + 1;
    outstanding.clear();
    (socket as Socket | null)?.destroy();
  }

  /** Killer frames, each on a throwaway connection, a few in parallel. */
  private async killers(quota: () => boolean): Promise<void> {
    while (!this.stopped && quota()) {
      const sockets = await Promise.all(Array.from({ length: 8 }, () => this.open().catch(() => null)));
      for (const s of sockets) {
        if (s === null || !quota()) {
          s?.destroy();
          continue;
        }
        this.report.framesSent++;
        this.report.killerFrames++;
        s.on('data', () => undefined);
        s.end(this.killerFrame());
        setTimeout(() => s.destroy(), 2000).unref();
      }
      await new Promise<void>((r) => setTimeout(r, 5));
    }
  }

  /** GET_MAX_OFFSET of the writable topic on its own connection, every 250 ms; each must answer within the bound. */
  private async health(done: () => boolean): Promise<void> {
    const bound = this.o.healthBoundMs ?? 5000;
    let s: Socket | null = null;
    const decoder = new FrameDecoder();
    let answered: ((code: number) => void) | null = null;
    while (!done()) {
      try {
        if (s === null || s.destroyed) {
          s = await this.open();
          s.on('data', (chunk: Buffer) => decoder.push(chunk, (f) => answered?.(decodeCommand(f).code)));
        }
        const opaque = this.opaque++ & 0x7fffffff;
        const t0 = performance.now();
        const code = await new Promise<number>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no answer within ${bound} ms`)), bound);
          answered = (c) => {
            clearTimeout(t);
            resolve(c);
          };
          s!.write(
            jsonFrame({
              code: RequestCode.GET_MAX_OFFSET,
              language: 'JAVA',
              version: 479,
              opaque,
              flag: 0,
              extFields: { topic: this.o.writableTopic, queueId: '0' },
            }),
          );
        });
        const ms = performance.now() - t0;
        this.report.healthChecks++;
        this.report.healthMaxMs = Math.max(this.report.healthMaxMs, ms);
        if (code !== ResponseCode.SUCCESS) this.report.healthFailures.push(`health probe answered code ${code}`);
      } catch (e) {
        this.report.healthFailures.push(`health probe: ${(e as Error).message}`);
        s?.destroy();
        s = null;
      }
      await new Promise<void>((r) => setTimeout(r, 250));
    }
    (s as Socket | null)?.destroy();
  }

  async run(): Promise<BrokerFuzzReport> {
    const t0 = performance.now();
    const limit = this.o.timeLimitMs ?? Number.POSITIVE_INFINITY;
    const total = this.o.frames;
    // 3 % of the frames are killers (each costs a connection).
    const killerQuota = Math.floor(total * 0.03);
    const quotaAll = (): boolean => this.report.framesSent < total && performance.now() - t0 < limit;
    const killerOk = (): boolean => quotaAll() && this.report.killerFrames < killerQuota;
    const decodableOk = (): boolean => quotaAll() && this.report.decodableFrames < total - killerQuota;
    let finished = false;
    const progressTimer = setInterval(() => {
      this.o.progress?.({ framesSent: this.report.framesSent, elapsedMs: performance.now() - t0, healthMaxMs: this.report.healthMaxMs });
    }, 1000);
    const health = this.health(() => finished);
    try {
      await Promise.all([...Array.from({ length: this.o.workers ?? 4 }, () => this.worker(decodableOk)), this.killers(killerOk)]);
    } finally {
      finished = true;
      clearInterval(progressTimer);
      await health;
    }
    this.report.elapsedMs = performance.now() - t0;
    this.report.framesPerSec = Math.round(this.report.framesSent / (this.report.elapsedMs / 1000));
    return this.report;
  }

  stop(): void {
    this.stopped = true;
  }
}
