import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { HeaderError, MQError, RemotingCommand, RequestCode, ResponseCode, SerializeType, defineHeader } from '@rocketmq-ts/protocol';
import { RemotingClient, type RemotingConnection } from '../src/index.js';
import { RemotingServer } from '../src/nest/index.js';
import { RawClient, jsonFrame, rocketmqFrame, sleep } from '@rocketmq-ts/testing';

const ECHO = 1000;
const SLOW = 1001;
const NEVER = 1002;
const THROWS_HEADER = 1003;
const THROWS_MQ = 1004;
const THROWS_PLAIN = 1005;
const ASYNC_REJECT = 1006;
const ONEWAY_SINK = 1007;
const CALL_BACK = 1008;
const CLOSE_ME = 1009;
const BIG = 1010;
const LENT = 1011;

const TopicHeader = defineHeader('TestTopicHeader', { topic: { t: 'string', req: true } });

let server: RemotingServer;
let port: number;
const onewaySeen: RemotingCommand[] = [];
const closes: Array<{ conn: RemotingConnection; reason: string }> = [];
const clients: RemotingClient[] = [];
const raws: RawClient[] = [];
/** LENT replies: when each reply's onWritten came (by opaque), and whether it came inside send. */
const lentWritten = new Map<number, { inSend: boolean }>();

function newClient(opts: ConstructorParameters<typeof RemotingClient>[0] = {}): RemotingClient {
  const c = new RemotingClient(opts);
  clients.push(c);
  return c;
}
async function newRaw(p = port): Promise<RawClient> {
  const r = await RawClient.open(p);
  raws.push(r);
  return r;
}
const addr = (): string => `127.0.0.1:${port}`;

beforeAll(async () => {
  // keep the expected warnings of this suite out of the test output
  jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  server = new RemotingServer({ port: 0, host: '127.0.0.1', maxFrameLength: 1024 * 1024 * 8 });
  server
    .registerHandler(ECHO, (cmd) => RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, cmd.ext('say') ?? null, { echoed: cmd.ext('say') ?? '' }, cmd.body))
    .registerHandler(SLOW, async (cmd) => {
      await sleep(Number(cmd.ext('ms') ?? 10));
      return RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, 'slow');
    })
    .registerHandler(NEVER, () => null)
    .registerHandler(THROWS_HEADER, (cmd) => {
      TopicHeader.decode(cmd.extFields);
      return RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS);
    })
    .registerHandler(THROWS_MQ, () => {
      throw new MQError(ResponseCode.TOPIC_NOT_EXIST, 'no such topic');
    })
    .registerHandler(THROWS_PLAIN, () => {
      throw new Error('boom');
    })
    .registerHandler(ASYNC_REJECT, async () => {
      throw new HeaderError('queueId', 'the custom field queueId is null');
    })
    .registerHandler(ONEWAY_SINK, (cmd) => {
      onewaySeen.push(cmd);
      return RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, 'must not be sent');
    })
    .registerHandler(CALL_BACK, async (cmd, conn) => {
      const res = await conn.invoke(RemotingCommand.request(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: 'G' }), 2000);
      return RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, `client said ${res.remark ?? ''}`);
    })
    .registerHandler(CLOSE_ME, (_cmd, conn) => {
      setTimeout(() => conn.close('asked to'), 20);
      return null;
    })
    .registerHandler(LENT, (cmd, conn) => {
      // Replies with `parts` body parts of `size` bytes (byte i of part k = (k + i) & 0xff), lent:
      // once the connection gives them back they are overwritten, as a pool reusing them would.
      const parts = Array.from({ length: Number(cmd.ext('parts')) }, (_, k) => {
        const b = Buffer.allocUnsafe(Number(cmd.ext('size')));
        for (let i = 0; i < b.length; i++) b[i] = (k + i) & 0xff;
        return b;
      });
      let inSend = true;
      conn.send(RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS), parts, () => {
        for (const b of parts) b.fill(0xee);
        lentWritten.set(cmd.opaque, { inSend });
      });
      inSend = false;
      return null;
    })
    .registerHandler(BIG, (cmd) => RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, null, null, Buffer.alloc(Number(cmd.ext('n')), 7)));
  server.on('close', (conn, reason) => closes.push({ conn, reason }));
  await server.start();
  port = server.port;
});

afterEach(() => {
  for (const r of raws.splice(0)) r.destroy();
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  await server.close();
  jest.restoreAllMocks();
});

describe('request / response', () => {
  it.each([
    ['JSON', SerializeType.JSON],
    ['ROCKETMQ', SerializeType.ROCKETMQ],
  ])('round-trips in %s and replies in the same serialisation', async (_name, type) => {
    const c = newClient({ serializeType: type });
    const res = await c.invoke(addr(), RemotingCommand.request(ECHO, { say: 'hi' }, Buffer.from('body')), 2000);
    expect(res.code).toBe(ResponseCode.SUCCESS);
    expect(res.remark).toBe('hi');
    expect(res.ext('echoed')).toBe('hi');
    expect(res.body?.toString()).toBe('body');
    expect(res.serializeType).toBe(type);
    expect(res.version).toBe(479);
    expect(res.isResponse).toBe(true);
  });

  it('answers hand-built frames of both serialisations with the request opaque and RESPONSE flag', async () => {
    const raw = await newRaw();
    raw.write(jsonFrame({ code: ECHO, language: 'JAVA', version: 401, opaque: 77, flag: 0, extFields: { say: 'json' }, serializeTypeCurrentRPC: 'JSON' }));
    raw.write(rocketmqFrame({ code: ECHO, opaque: 78, ext: { say: 'bin' } }, Buffer.from('xyz')));
    const frames = await raw.waitFrames(2);
    const byOpaque = new Map(frames.map((f) => [f.cmd.opaque, f]));
    const j = byOpaque.get(77)!;
    expect(j.serializeType).toBe(0);
    expect(j.cmd.flag & 1).toBe(1);
    expect(j.cmd.remark).toBe('json');
    expect(j.cmd.version).toBe(479);
    const b = byOpaque.get(78)!;
    expect(b.serializeType).toBe(1);
    expect(b.cmd.remark).toBe('bin');
    expect(b.cmd.body?.toString()).toBe('xyz');
  });

  it('handles frames split byte by byte and several frames merged in one write', async () => {
    const raw = await newRaw();
    const f1 = jsonFrame({ code: ECHO, opaque: 1, flag: 0, extFields: { say: 'a' } });
    for (const byte of f1) {
      raw.write(Buffer.from([byte]));
    }
    const merged = Buffer.concat([2, 3, 4, 5].map((o) => rocketmqFrame({ code: ECHO, opaque: o, ext: { say: String(o) } })));
    // merged, then cut at odd places
    raw.write(merged.subarray(0, 7));
    raw.write(merged.subarray(7, 50));
    raw.write(merged.subarray(50));
    const frames = await raw.waitFrames(5);
    expect(frames.map((f) => f.cmd.opaque).sort()).toEqual([1, 2, 3, 4, 5]);
    for (const f of frames) expect(f.cmd.remark).toBe(f.cmd.opaque === 1 ? 'a' : String(f.cmd.opaque));
  });

  it('sends a large body intact', async () => {
    const c = newClient();
    const res = await c.invoke(addr(), RemotingCommand.request(BIG, { n: 3 * 1024 * 1024 }), 5000);
    expect(res.body?.length).toBe(3 * 1024 * 1024);
    expect(res.body?.every((x) => x === 7)).toBe(true);
  });

  it('many concurrent calls on one connection are matched by opaque', async () => {
    const c = newClient();
    const calls = Array.from({ length: 500 }, (_, i) => c.invoke(addr(), RemotingCommand.request(ECHO, { say: String(i) }), 5000));
    const res = await Promise.all(calls);
    res.forEach((r, i) => expect(r.remark).toBe(String(i)));
  });
});

describe('lent body parts (send with onWritten)', () => {
  const expectParts = (body: Buffer | null, parts: number, size: number): void => {
    expect(body?.length).toBe(parts * size);
    for (let k = 0; k < parts; k++) {
      for (let i = 0; i < size; i++) {
        if (body![k * size + i] !== ((k + i) & 0xff)) {
          throw new Error(`byte ${i} of part ${k} is ${body![k * size + i]}: the part was reused before it was written`);
        }
      }
    }
  };

  it('small parts are copied: given back inside send, and the reply is intact', async () => {
    const raw = await newRaw();
    raw.write(rocketmqFrame({ code: LENT, opaque: 501, ext: { parts: '8', size: '1000' } }));
    const [f] = await raw.waitFrames(1);
    expect(lentWritten.get(501)).toEqual({ inSend: true });
    expectParts(f!.cmd.body, 8, 1000);
  });

  it('large parts are given back only once the socket has written them (a peer that does not read holds them)', async () => {
    const raw = await newRaw();
    raw.socket.pause();
    // 12 MiB: more than the kernel's socket buffers take while the peer reads nothing.
    raw.write(rocketmqFrame({ code: LENT, opaque: 502, ext: { parts: '12', size: String(1024 * 1024) } }));
    await sleep(400);
    expect(lentWritten.has(502)).toBe(false);
    raw.socket.resume();
    const [f] = await raw.waitFrames(1, 10_000);
    expectParts(f!.cmd.body, 12, 1024 * 1024);
    for (let i = 0; i < 100 && !lentWritten.has(502); i++) await sleep(10);
    expect(lentWritten.get(502)).toEqual({ inSend: false });
  });
});

describe('dispatch behaviour', () => {
  it('unknown code → REQUEST_CODE_NOT_SUPPORTED with the RocketMQ remark', async () => {
    const res = await newClient().invoke(addr(), RemotingCommand.request(4242), 2000);
    expect(res.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    expect(res.remark).toBe(' request type 4242 not supported');
  });

  it('oneway requests are handled but never answered', async () => {
    const raw = await newRaw();
    onewaySeen.length = 0;
    raw.write(jsonFrame({ code: ONEWAY_SINK, opaque: 10, flag: 2 }));
    raw.write(jsonFrame({ code: 4243, opaque: 11, flag: 2 })); // unknown and oneway: silence too
    raw.write(jsonFrame({ code: THROWS_PLAIN, opaque: 12, flag: 2 }));
    raw.write(jsonFrame({ code: ECHO, opaque: 13, flag: 0, extFields: { say: 'after' } }));
    const frames = await raw.waitFrames(1);
    await sleep(50);
    expect(frames.map((f) => f.cmd.opaque)).toEqual([13]);
    expect(onewaySeen).toHaveLength(1);
  });

  it('HeaderError → SYSTEM_ERROR naming the field', async () => {
    const res = await newClient().invoke(addr(), RemotingCommand.request(THROWS_HEADER, {}), 2000);
    expect(res.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(res.remark).toContain('topic');
    const res2 = await newClient().invoke(addr(), RemotingCommand.request(ASYNC_REJECT), 2000);
    expect(res2.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(res2.remark).toContain('queueId');
  });

  it('MQError → its own code and remark; other errors → SYSTEM_ERROR with the text', async () => {
    const c = newClient();
    const a = await c.invoke(addr(), RemotingCommand.request(THROWS_MQ), 2000);
    expect(a.code).toBe(ResponseCode.TOPIC_NOT_EXIST);
    expect(a.remark).toBe('no such topic');
    const b = await c.invoke(addr(), RemotingCommand.request(THROWS_PLAIN), 2000);
    expect(b.code).toBe(ResponseCode.SYSTEM_ERROR);
    expect(b.remark).toContain('boom');
  });

  it('a malformed frame closes only that connection', async () => {
    const good = newClient();
    expect((await good.invoke(addr(), RemotingCommand.request(ECHO, { say: '1' }), 2000)).remark).toBe('1');
    const bad = [
      Buffer.from([0xff, 0xff, 0xff, 0xff]), // negative length
      Buffer.from([0x7f, 0, 0, 0, 0, 0, 0, 0]), // oversized
      jsonFrame({ code: ECHO }).fill(0x41, 8), // header is not JSON
      (() => {
        const f = jsonFrame({ code: ECHO, opaque: 1 });
        f.writeUInt8(9, 4); // unknown serialize type
        return f;
      })(),
    ];
    for (const b of bad) {
      const raw = await newRaw();
      raw.write(b);
      await raw.waitClosed();
      expect((await good.invoke(addr(), RemotingCommand.request(ECHO, { say: '2' }), 2000)).remark).toBe('2');
    }
    expect(closes.filter((c) => c.reason.startsWith('protocol error')).length).toBeGreaterThanOrEqual(bad.length);
  });

  it('Nest-style fallback: an Observable result is accepted', async () => {
    const s = new RemotingServer({ port: 0, host: '127.0.0.1' });
    s.registerHandler(1, (cmd) => ({
      subscribe(o: { next?: (v: unknown) => void; complete?: () => void }) {
        o.next?.(RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, 'from observable'));
        o.complete?.();
      },
    }));
    await s.start();
    try {
      const res = await newClient().invoke(`127.0.0.1:${s.port}`, RemotingCommand.request(1), 2000);
      expect(res.remark).toBe('from observable');
    } finally {
      await s.close();
    }
  });
});

describe('client', () => {
  it('times out with RPC_TIME_OUT when no reply comes', async () => {
    const c = newClient();
    const t0 = Date.now();
    await expect(c.invoke(addr(), RemotingCommand.request(NEVER), 200)).rejects.toMatchObject({ code: ResponseCode.RPC_TIME_OUT });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    // the connection is still good
    expect((await c.invoke(addr(), RemotingCommand.request(ECHO, { say: 'ok' }), 2000)).remark).toBe('ok');
  });

  it('concurrent first calls share one connection', async () => {
    let opened = 0;
    server.on('connect', () => opened++);
    const c = newClient();
    await Promise.all([1, 2, 3, 4, 5].map((i) => c.invoke(addr(), RemotingCommand.request(ECHO, { say: String(i) }), 2000)));
    expect(opened).toBe(1);
  });

  it('fails pending calls with RPC_SEND_TO_CHANNEL_FAILED on connection loss, reconnects on the next call', async () => {
    const c = newClient();
    const pending = c.invoke(addr(), RemotingCommand.request(NEVER), 5000);
    await sleep(20);
    await c.invoke(addr(), RemotingCommand.request(CLOSE_ME), 2000).catch(() => undefined);
    await expect(pending).rejects.toMatchObject({ code: ResponseCode.RPC_SEND_TO_CHANNEL_FAILED });
    const res = await c.invoke(addr(), RemotingCommand.request(ECHO, { say: 'again' }), 2000);
    expect(res.remark).toBe('again');
  });

  it('connect failure → RPC_SEND_TO_CHANNEL_FAILED', async () => {
    const s = new RemotingServer({ port: 0, host: '127.0.0.1' });
    await s.start();
    const deadPort = s.port;
    await s.close();
    await expect(newClient().invoke(`127.0.0.1:${deadPort}`, RemotingCommand.request(ECHO), 1000)).rejects.toMatchObject({
      code: ResponseCode.RPC_SEND_TO_CHANNEL_FAILED,
    });
  });

  it('oneway from the client reaches the handler', async () => {
    onewaySeen.length = 0;
    const c = newClient({ serializeType: SerializeType.ROCKETMQ });
    await c.invokeOneway(addr(), RemotingCommand.request(ONEWAY_SINK, { n: '1' }));
    await c.invoke(addr(), RemotingCommand.request(ECHO), 2000);
    expect(onewaySeen).toHaveLength(1);
    expect(onewaySeen[0]!.isOneway).toBe(true);
  });

  it('server → client invoke on the same connection, answered by a client handler', async () => {
    const c = newClient();
    c.registerHandler(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (cmd) =>
      RemotingCommand.responseTo(cmd, ResponseCode.SUCCESS, `ack ${cmd.ext('consumerGroup')}`),
    );
    const res = await c.invoke(addr(), RemotingCommand.request(CALL_BACK), 3000);
    expect(res.remark).toBe('client said ack G');
  });
});

describe('connection lifecycle', () => {
  it('closes idle connections and reports the close', async () => {
    const s = new RemotingServer({ port: 0, host: '127.0.0.1', serverChannelMaxIdleTimeSeconds: 0.3 });
    const seen: string[] = [];
    s.on('close', (_c, reason) => seen.push(reason));
    const opened: RemotingConnection[] = [];
    s.on('connect', (c) => opened.push(c));
    await s.start();
    try {
      const raw = await newRaw(s.port);
      const t0 = Date.now();
      await raw.waitClosed(3000);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      expect(opened).toHaveLength(1);
      for (let i = 0; i < 50 && seen.length === 0; i++) await sleep(10);
      expect(seen[0]).toMatch(/idle/);
    } finally {
      await s.close();
    }
  });

  it('close() ends the server and its connections', async () => {
    const s = new RemotingServer({ port: 0, host: '127.0.0.1' });
    await s.start();
    const raw = await newRaw(s.port);
    await sleep(20);
    expect(s.connectionCount).toBe(1);
    await s.close();
    await raw.waitClosed();
  });
});
