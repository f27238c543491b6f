import { describe, expect, it } from '@jest/globals';
import {
  FrameDecoder,
  GetRouteInfoRequestHeader,
  HeaderError,
  ProtocolError,
  RegisterBrokerRequestHeader,
  decodeClusterInfo,
  decodeCommand,
  decodeKVTable,
  decodeRegisterBrokerBody,
  decodeTopicRouteData,
  encodeRegisterBrokerBody,
  topicConfig,
} from '@rocketmq-ts/protocol';
import { jsonFrame, rocketmqFrame, seededRandom } from '@rocketmq-ts/testing';

const rng = seededRandom;

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261126);
const INPUTS = 100_000;

function seeds(r: () => number): Buffer[] {
  const regBody = encodeRegisterBrokerBody(
    {
      topicConfigSerializeWrapper: {
        topicConfigTable: new Map([['T', topicConfig('T', { readQueueNums: 4, writeQueueNums: 4 })]]),
        dataVersion: { stateVersion: 0, timestamp: 1700000000000, counter: 3 },
      },
      filterServerList: [],
    },
    r() < 0.5,
  );
  return [
    jsonFrame({ code: 105, language: 'JAVA', version: 479, opaque: 1, flag: 0, extFields: { topic: 'T' }, serializeTypeCurrentRPC: 'JSON' }),
    jsonFrame(
      { code: 103, opaque: 2, flag: 0, extFields: { brokerName: 'b', brokerAddr: '1.2.3.4:10911', clusterName: 'c', haServerAddr: 'x', brokerId: '0' } },
      regBody,
    ),
    rocketmqFrame({ code: 101, opaque: 3, remark: 'r', ext: { namespace: 'ns', key: 'k' } }),
    rocketmqFrame(
      { code: 103, opaque: 4, ext: { brokerName: 'b', brokerAddr: 'a', clusterName: 'c', haServerAddr: 'h', brokerId: '1', compressed: 'true' } },
      regBody,
    ),
  ];
}

function mutate(r: () => number, base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (Math.floor(r() * 6)) {
    case 0: {
      const flips = 1 + Math.floor(r() * 8);
      for (let i = 0; i < flips; i++) {
        const at = Math.floor(r() * b.length);
        b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
      }
      return b;
    }
    case 1:
      return b.subarray(0, Math.floor(r() * b.length));
    case 2:
      b.writeInt32BE(Math.floor(r() * 0x100000000) | 0, 0);
      return b;
    case 3:
      b.writeInt32BE(Math.floor(r() * 0x100000000) | 0, 4);
      return b;
    case 4: {
      const at = 8 + Math.floor(r() * Math.max(1, b.length - 8));
      for (let i = at; i < Math.min(b.length, at + 16); i++) b[i] = Math.floor(r() * 256);
      return b;
    }
    default: {
      const junk = Buffer.alloc(Math.floor(r() * 64));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(r() * 256);
      return Buffer.concat([b, junk]);
    }
  }
}

function randomBytes(r: () => number): Buffer {
  const b = Buffer.alloc(Math.floor(r() * 96));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  if (b.length >= 8 && r() < 0.5) {
    b.writeInt32BE(b.length - 4, 0);
    b.writeInt32BE(((r() < 0.5 ? 0 : 1) << 24) | Math.floor(r() * (b.length - 8)), 4);
  }
  return b;
}

describe('FrameDecoder + decodeCommand fuzz', () => {
  it(`${INPUTS} random and mutated inputs throw only ProtocolError / HeaderError (seed ${SEED})`, () => {
    const r = rng(SEED);
    const base = seeds(r);
    let frames = 0;
    let protocolErrors = 0;
    let headerErrors = 0;
    for (let n = 0; n < INPUTS; n++) {
      const input = r() < 0.25 ? randomBytes(r) : mutate(r, base[Math.floor(r() * base.length)]!);
      const decoder = new FrameDecoder(1024 * 1024);
      try {
        // push in 1–3 pieces to exercise split frames
        const cut = Math.floor(r() * (input.length + 1));
        const handle = (f: Buffer): void => {
          frames++;
          const cmd = decodeCommand(f);
          if (cmd.code === 105) GetRouteInfoRequestHeader.decode(cmd.extFields);
          if (cmd.code === 103) {
            const h = RegisterBrokerRequestHeader.decode(cmd.extFields);
            decodeRegisterBrokerBody(cmd.body, h.compressed === true);
          }
          if (cmd.body !== null && (n & 7) === 0) {
            const which = n % 3;
            if (which === 0) decodeTopicRouteData(cmd.body);
            else if (which === 1) decodeClusterInfo(cmd.body);
            else decodeKVTable(cmd.body);
          }
        };
        decoder.push(input.subarray(0, cut), handle);
        decoder.push(input.subarray(cut), handle);
      } catch (e) {
        if (e instanceof ProtocolError) protocolErrors++;
        else if (e instanceof HeaderError) headerErrors++;
        else throw new Error(`input #${n} (seed ${SEED}) threw ${(e as Error)?.name}: ${(e as Error)?.message}\n${input.toString('hex')}`, { cause: e });
      }
    }
    expect(frames).toBeGreaterThan(INPUTS / 4);
    expect(protocolErrors).toBeGreaterThan(0);
    expect(headerErrors + protocolErrors).toBeLessThan(INPUTS);
  });
});
