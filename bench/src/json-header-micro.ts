// `node bench/dist/json-header-micro.js [rounds=9] [ops per round=100000]`: the broker's JSON header work per message, old way against
// new way, in one process with the two alternated round by round (so a busy machine slows both
// alike): decoding a Java client's SEND_MESSAGE_V2 / PULL_MESSAGE header (JSON.parse and a walk,
// against parseJsonHeader) and writing the send / pull reply header (the text built then copied,
// against written in place). CPU time per operation, median of the rounds.
import { RemotingCommand, decodeJsonHeader, encodeCommandPrefixInto, jsonHeaderText, parseJsonHeader } from '@rocketmq-ts/protocol';
import { JAVA_CLIENT_VERSION, javaJsonHeader, javaPropertiesString, javaPullExt, javaSendV2Ext } from './java-frames.js';

// 64 headers of each kind, as a run of requests differs: the send's born timestamp every 8 messages
// and its UNIQ_KEY every message, the pull's queue offset every request.
const born = Date.now();
/** The extFields of the k-th Java send. */
const sendExt = (k: number): Record<string, string> =>
  javaSendV2Ext({
    producerGroup: 'bench-producer',
    topic: 'BenchTopic',
    defaultTopicQueueNums: 4,
    queueId: k % 4,
    bornTimestamp: born + (k >> 3),
    properties: javaPropertiesString([
      ['TAGS', 'bench'],
      ['WAIT', 'true'],
      ['UNIQ_KEY', '7F0000010000B3D1000000000000' + (0x1000 + k).toString(16).toUpperCase()],
    ]),
    brokerName: 'bench-broker',
  });
const sends = Array.from({ length: 64 }, (_, k) =>
  Buffer.from(
    javaJsonHeader({
      code: 310,
      opaque: 1234567 + k,
      flag: 0,
      version: JAVA_CLIENT_VERSION,
      extFields: sendExt(k),
    }),
  ),
);
const pulls = Array.from({ length: 64 }, (_, k) =>
  Buffer.from(
    javaJsonHeader({
      code: 11,
      opaque: 7654321 + k,
      flag: 0,
      version: JAVA_CLIENT_VERSION,
      extFields: javaPullExt({
        group: 'bench-consumer',
        topic: 'BenchTopic',
        queueId: k % 4,
        queueOffset: 123456 + 32 * k,
        maxMsgNums: 32,
        brokerName: 'bench-broker',
      }),
    }),
  ),
);
let si = 0;
let pi = 0;
const nextSend = (): Buffer => sends[si++ & 63]!;
const nextPull = (): Buffer => pulls[pi++ & 63]!;
const req = new RemotingCommand(310, 1234567);
const sendReply = RemotingCommand.responseTo(req, 0, null, {
  MSG_REGION: 'DefaultRegion',
  TRACE_ON: 'true',
  msgId: '7F00000100002A9F0000000012345678',
  queueId: '2',
  queueOffset: '123456',
});
const pullReply = RemotingCommand.responseTo(req, 0, 'FOUND', { suggestWhichBrokerId: '0', nextBeginOffset: '123488', minOffset: '0', maxOffset: '250000' });
const out = Buffer.allocUnsafe(1 << 20);
// A Java client's send request (what a JSON-mode client writes per message): UNIQ_KEY differs each time.
const sendRequests = Array.from({ length: 64 }, (_, k) => {
  const cmd = RemotingCommand.request(310, sendExt(k));
  cmd.language = 'JAVA';
  cmd.version = JAVA_CLIENT_VERSION;
  return cmd;
});
let ri = 0;
const nextSendRequest = (): RemotingCommand => sendRequests[ri++ & 63]!;

function textWay(cmd: RemotingCommand): number {
  const text = jsonHeaderText(cmd);
  out.writeInt32BE(4 + text.length, 0);
  out.writeInt32BE(text.length, 4);
  return out.write(text, 8, text.length, 'latin1');
}

const cases: [string, () => unknown, () => unknown][] = [
  [
    'decode SEND_MESSAGE_V2 header',
    () => {
      const h = nextSend();
      return decodeJsonHeader(h.subarray(0, h.length));
    },
    () => {
      const h = nextSend();
      return parseJsonHeader(h, 0, h.length);
    },
  ],
  [
    'decode PULL_MESSAGE header',
    () => {
      const h = nextPull();
      return decodeJsonHeader(h.subarray(0, h.length));
    },
    () => {
      const h = nextPull();
      return parseJsonHeader(h, 0, h.length);
    },
  ],
  ['encode send request header', () => textWay(nextSendRequest()), () => encodeCommandPrefixInto(nextSendRequest(), 1024, out, 0)],
  ['encode send reply header', () => textWay(sendReply), () => encodeCommandPrefixInto(sendReply, 0, out, 0)],
  ['encode pull reply header', () => textWay(pullReply), () => encodeCommandPrefixInto(pullReply, 1024, out, 0)],
];

function cpuNsPerOp(f: () => unknown, n: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const u = process.cpuUsage(t0);
  return ((u.user + u.system) * 1000) / n;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const rounds = Number(process.argv[2] ?? 9);
const n = Number(process.argv[3] ?? 100_000);
for (const [name, oldWay, newWay] of cases) {
  cpuNsPerOp(oldWay, n);
  cpuNsPerOp(newWay, n);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(cpuNsPerOp(oldWay, n));
    b.push(cpuNsPerOp(newWay, n));
  }
  const ma = median(a);
  const mb = median(b);
  console.log(`${name.padEnd(32)} old ${(ma / 1000).toFixed(2)} µs  new ${(mb / 1000).toFixed(2)} µs  (${((100 * (mb - ma)) / ma).toFixed(0)} %)`);
}
