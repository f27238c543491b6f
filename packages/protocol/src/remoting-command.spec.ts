import { describe, expect, it } from '@jest/globals';
import {
  RemotingCommand,
  SerializeType,
  decodeCommand,
  encodeCommand,
  encodeCommandPrefix,
  encodeCommandPrefixInto,
  jsonHeaderText,
} from './remoting-command.js';
import { ProtocolError } from './errors.js';

/** Builds a frame by hand from the documented layout (remoting.md §1.1). */
function handFrame(type: number, header: Buffer, body: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(8 + header.length + body.length);
  b.writeInt32BE(4 + header.length + body.length, 0);
  b.writeInt32BE((type << 24) | header.length, 4);
  header.copy(b, 8);
  body.copy(b, 8 + header.length);
  return b;
}

describe('JSON header', () => {
  it('encodes byte-exactly in fastjson field order', () => {
    const cmd = new RemotingCommand(310, 42, { a: 'PG', b: 'T', e: '0' }, Buffer.from('hello'));
    cmd.language = 'JAVA';
    cmd.version = 479;
    const header = '{"code":310,"extFields":{"a":"PG","b":"T","e":"0"},"flag":0,"language":"JAVA","opaque":42,"serializeTypeCurrentRPC":"JSON","version":479}';
    expect(encodeCommand(cmd)).toEqual(handFrame(0, Buffer.from(header), Buffer.from('hello')));
  });

  it('writes remark and response flag, omits null extFields', () => {
    const req = new RemotingCommand(105, 7);
    const res = RemotingCommand.responseTo(req, 17, 'No topic route info in name server for the topic: X');
    res.language = 'JAVA';
    expect(jsonHeaderText(res)).toBe(
      '{"code":17,"flag":1,"language":"JAVA","opaque":7,"remark":"No topic route info in name server for the topic: X","serializeTypeCurrentRPC":"JSON","version":479}',
    );
  });

  it('decodes a Java request, with numbers and booleans in extFields too', () => {
    const h = Buffer.from(
      '{"code":11,"extFields":{"queueId":3,"consumerGroup":"G","k":false},"flag":2,"language":"JAVA","opaque":-5,"serializeTypeCurrentRPC":"JSON","version":401}',
    );
    const cmd = decodeCommand(handFrame(0, h, Buffer.from([1, 2])).subarray(4));
    expect(cmd.code).toBe(11);
    expect(cmd.opaque).toBe(-5);
    expect(cmd.isOneway).toBe(true);
    expect(cmd.isResponse).toBe(false);
    expect(cmd.version).toBe(401);
    expect(cmd.extFields).toEqual({ queueId: 3, consumerGroup: 'G', k: false });
    expect(cmd.ext('queueId')).toBe('3');
    expect(cmd.body).toEqual(Buffer.from([1, 2]));
    expect(cmd.serializeType).toBe(SerializeType.JSON);
  });

  it('escapes keys and values that need it', () => {
    const cmd = new RemotingCommand(100, 1, { 'q"k': 'line\nbreak', u: 'é\u0001' });
    const back = decodeCommand(encodeCommand(cmd).subarray(4));
    expect(back.extFields).toEqual({ 'q"k': 'line\nbreak', u: 'é\u0001' });
  });
});

describe('ROCKETMQ header', () => {
  function handHeader(): Buffer {
    const remark = Buffer.from('ok');
    const parts: Buffer[] = [];
    const head = Buffer.alloc(17);
    head.writeInt16BE(310, 0);
    head.writeUInt8(0, 2); // JAVA
    head.writeInt16BE(479, 3);
    head.writeInt32BE(9, 5);
    head.writeInt32BE(1, 9);
    head.writeInt32BE(remark.length, 13);
    parts.push(head, remark);
    const ext: Buffer[] = [];
    for (const [k, v] of [
      ['a', 'PG'],
      ['e', '12'],
    ] as const) {
      const kl = Buffer.alloc(2);
      kl.writeInt16BE(k.length);
      const vl = Buffer.alloc(4);
      vl.writeInt32BE(v.length);
      ext.push(kl, Buffer.from(k), vl, Buffer.from(v));
    }
    const extBuf = Buffer.concat(ext);
    const el = Buffer.alloc(4);
    el.writeInt32BE(extBuf.length);
    parts.push(el, extBuf);
    return Buffer.concat(parts);
  }

  it('encodes byte-exactly', () => {
    const cmd = new RemotingCommand(310, 9, { a: 'PG', e: '12' }, Buffer.from('B'));
    cmd.flag = 1;
    cmd.remark = 'ok';
    cmd.language = 'JAVA';
    cmd.serializeType = SerializeType.ROCKETMQ;
    expect(encodeCommand(cmd)).toEqual(handFrame(1, handHeader(), Buffer.from('B')));
  });

  it('decodes hand-built bytes', () => {
    const cmd = decodeCommand(handFrame(1, handHeader(), Buffer.from('B')).subarray(4));
    expect(cmd).toMatchObject({ code: 310, language: 'JAVA', version: 479, opaque: 9, flag: 1, remark: 'ok', serializeType: 1 });
    expect(cmd.extFields).toEqual({ a: 'PG', e: '12' });
    expect(cmd.body).toEqual(Buffer.from('B'));
  });

  it('truncates codes above 32767 as Java does', () => {
    const cmd = new RemotingCommand(200050, 1);
    cmd.serializeType = SerializeType.ROCKETMQ;
    expect(decodeCommand(encodeCommand(cmd).subarray(4)).code).toBe(200050 & 0xffff);
  });

  it('rejects lengths that run past the header', () => {
    const h = handHeader();
    h.writeInt32BE(1000, 13); // remark length
    expect(() => decodeCommand(handFrame(1, h).subarray(4))).toThrow(ProtocolError);
    expect(() => decodeCommand(handFrame(1, Buffer.alloc(10)).subarray(4))).toThrow(/shorter than 21/);
  });
});

describe('framing errors', () => {
  it('rejects a header length beyond the frame, unknown types and bad JSON', () => {
    const f = handFrame(0, Buffer.from('{}')).subarray(4);
    f.writeInt32BE(100, 0);
    expect(() => decodeCommand(f)).toThrow(/exceeds the frame/);
    expect(() => decodeCommand(handFrame(2, Buffer.from('{}')).subarray(4))).toThrow(/unknown serialize type 2/);
    expect(() => decodeCommand(handFrame(0, Buffer.from('{"code":')).subarray(4))).toThrow(/does not parse/);
    expect(() => decodeCommand(handFrame(0, Buffer.from('[1]')).subarray(4))).toThrow(/not an object/);
    expect(() => decodeCommand(handFrame(0, Buffer.from('{"opaque":1}')).subarray(4))).toThrow(/no "code"/);
  });

  it('prefix + body equals the whole frame', () => {
    const cmd = new RemotingCommand(11, 3, { x: '1' });
    const body = Buffer.alloc(100, 9);
    cmd.body = body;
    expect(Buffer.concat([encodeCommandPrefix(cmd, body.length), body])).toEqual(encodeCommand(cmd));
  });
});

describe('encodeCommandPrefixInto (connection output slabs)', () => {
  const cases = (): RemotingCommand[] => {
    const out: RemotingCommand[] = [];
    const req = new RemotingCommand(310, 99, { a: 'PG', b: 'Topic' }, Buffer.from('x'));
    for (const st of [SerializeType.ROCKETMQ, SerializeType.JSON]) {
      req.serializeType = st;
      out.push(
        RemotingCommand.responseTo(req, 0, null, {
          MSG_REGION: 'DefaultRegion',
          TRACE_ON: 'true',
          msgId: '7F00000100002A9F0000000000000000',
          queueId: '1',
          queueOffset: '12345',
        }),
      );
      out.push(RemotingCommand.responseTo(req, 17, 'remark with ünïcode ✓', { k: 'v' }));
      out.push(RemotingCommand.responseTo(req, 1, 'plain remark'));
      out.push(
        RemotingCommand.responseTo(req, 0, null, {
          num: 5 as unknown as string,
          bool: true as unknown as string,
          empty: '',
          kéy: 'välue',
          ctl: 'a\u0001b\u0002',
        }),
      );
      // long strings take the native write: non-ASCII at the end, in the middle, as a surrogate pair;
      // digit-first values skip interning and must still decode UTF-8
      out.push(
        RemotingCommand.responseTo(req, 0, 'a remark that is longer than 24 chars é', {
          longEnd: 'x'.repeat(30) + 'é',
          longMid: 'y'.repeat(20) + 'ü' + 'z'.repeat(20),
          emoji: 'k'.repeat(26) + '😀',
          digits: '12345é',
          plain: 'TAGS\u0001bench\u0002UNIQ_KEY\u00017F0000010000'.repeat(2),
        }),
      );
      const big = RemotingCommand.request(40000, { x: 'y' });
      big.serializeType = st;
      big.language = 'JAVA';
      big.version = 70000;
      out.push(big);
      const neg = new RemotingCommand(-5, -7, null);
      neg.serializeType = st;
      neg.flag = -1;
      out.push(neg);
    }
    return out;
  };

  it('writes the same bytes as encodeCommandPrefix, at any position', () => {
    for (const cmd of cases()) {
      for (const bodyLen of [0, 1024]) {
        const want = encodeCommandPrefix(cmd, bodyLen);
        const buf = Buffer.alloc(want.length + 20, 0xee);
        const end = encodeCommandPrefixInto(cmd, bodyLen, buf, 7);
        expect(end).toBe(7 + want.length);
        expect(buf.subarray(7, end)).toEqual(want);
        expect(buf[6]).toBe(0xee);
        expect(buf[end]).toBe(0xee);
      }
    }
  });

  it('returns -1 when the prefix does not fit, for every shortfall', () => {
    for (const cmd of cases()) {
      const want = encodeCommandPrefix(cmd, 0);
      for (let room = 0; room < want.length; room++) expect(encodeCommandPrefixInto(cmd, 0, Buffer.alloc(room + 3), 3)).toBe(-1);
    }
  });

  it('decodes what it wrote (binary header strings are interned, non-ASCII decoded natively)', () => {
    for (let round = 0; round < 3; round++) {
      for (const cmd of cases()) {
        const buf = Buffer.alloc(4096);
        const end = encodeCommandPrefixInto(cmd, 0, buf, 0);
        const back = decodeCommand(buf.subarray(4, end));
        expect(back.code).toBe((cmd.code << 16) >> 16 === cmd.code || cmd.serializeType === SerializeType.JSON ? cmd.code : (cmd.code << 16) >> 16);
        expect(back.opaque).toBe(cmd.opaque);
        expect(back.remark).toBe(cmd.remark);
        const ext = cmd.extFields === null ? null : Object.fromEntries(Object.entries(cmd.extFields).map(([k, v]) => [k, String(v)]));
        expect(back.extFields).toEqual(ext);
      }
    }
  });
});
