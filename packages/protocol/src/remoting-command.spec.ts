import { describe, expect, it } from '@jest/globals';
import {
  RemotingCommand,
  SerializeType,
  decodeCommand,
  encodeCommand,
  encodeCommandPrefix,
  encodeCommandPrefixInto,
  decodeJsonHeader,
  jsonHeaderText,
  parseJsonHeader,
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
      // ASCII with escapes (quote, backslash, control characters, DEL left alone): written in place too
      out.push(
        RemotingCommand.responseTo(req, 0, 'say "hi" \\ \n', {
          'q"k\\': 'line\nbreak\t\b\f\r\u0000\u001f\u007f',
          i: 'UNIQ_KEY\u00017F0000010000B3D10000000000000001\u0002WAIT\u0001true\u0002',
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

  it('escapes random JSON strings as JSON.stringify does, short and long, flat and built by concatenation', () => {
    // Characters that need escapes (quote, backslash, every control character), DEL, letters, and now
    // and then one beyond ASCII (the in-place writer gives up; the text path writes the string).
    const alphabet = ['"', '\\', '\u007f', 'a', 'Z', '0', ' ', ...Array.from({ length: 32 }, (_, c) => String.fromCharCode(c))];
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const randomString = (len: number): string => {
      let s = '';
      for (let i = 0; i < len; i++) s += rnd(50) === 0 ? 'é' : alphabet[rnd(3) === 0 ? rnd(alphabet.length) : 3 + rnd(4)]!;
      return s;
    };
    for (let round = 0; round < 400; round++) {
      const len = rnd(90);
      const a = randomString(len);
      // The same text as a rope: pieces joined at run time.
      const cut = rnd(len + 1);
      const rope = a.slice(0, cut) + randomString(0) + a.slice(cut);
      for (const v of [a, rope]) {
        const cmd = RemotingCommand.responseTo(RemotingCommand.request(310, {}), 0, rnd(2) === 0 ? v : null, { k: v, ['key' + v.slice(0, 30)]: 'x' });
        cmd.serializeType = SerializeType.JSON;
        const want = encodeCommandPrefix(cmd, 0);
        expect(want.subarray(8).toString('utf8')).toBe(jsonHeaderText(cmd));
        const buf = Buffer.alloc(want.length + 40, 0xee);
        const end = encodeCommandPrefixInto(cmd, 0, buf, 5);
        expect(buf.subarray(5, end)).toEqual(want);
        expect(buf[end]).toBe(0xee);
        // Not enough room: refused, whatever the escapes would have needed.
        expect(encodeCommandPrefixInto(cmd, 0, Buffer.alloc(want.length + 4), 5)).toBe(-1);
      }
    }
    // And the header text is what JSON.parse reads back.
    const v = 'TAGS\u0001bench\u0002UNIQ_KEY\u0001' + 'AB'.repeat(16) + '\u0002"q"\\';
    const cmd = RemotingCommand.responseTo(RemotingCommand.request(310, {}), 0, null, { i: v });
    cmd.serializeType = SerializeType.JSON;
    const buf = Buffer.alloc(1024);
    const end = encodeCommandPrefixInto(cmd, 0, buf, 0);
    expect((JSON.parse(buf.subarray(8, end).toString('utf8')) as { extFields: Record<string, string> }).extFields['i']).toBe(v);
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

describe('JSON header fast path (parseJsonHeader)', () => {
  /** What the general decoder makes of a header, or the error it throws. */
  function reference(text: string | Buffer): unknown {
    try {
      return fields(decodeJsonHeader(Buffer.isBuffer(text) ? text : Buffer.from(text)));
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  function fields(c: RemotingCommand): unknown {
    return {
      code: c.code,
      opaque: c.opaque,
      flag: c.flag,
      version: c.version,
      language: c.language,
      remark: c.remark,
      ext: c.extFields === null ? null : Object.entries(c.extFields),
    };
  }
  /** Through decodeCommand (fast path, then the fallback): same result as the general decoder. */
  function viaFrame(text: string | Buffer): unknown {
    const h = Buffer.isBuffer(text) ? text : Buffer.from(text);
    try {
      return fields(decodeCommand(handFrame(0, h).subarray(4)));
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  function fast(text: string | Buffer): RemotingCommand | null {
    const h = Buffer.isBuffer(text) ? text : Buffer.from(text);
    // Somewhere inside a larger buffer, as in a frame.
    const buf = Buffer.concat([Buffer.from('xx'), h, Buffer.from('yy')]);
    return parseJsonHeader(buf, 2, 2 + h.length);
  }

  it('unescapes header strings in place as JSON.parse does, and leaves the odd ones to it', () => {
    const values = [
      String.raw`UNIQ_KEY\u00017F00000100\u0002WAIT\u0001true\u0002`,
      String.raw`a\u001Fb\u007f\u007Fc`,
      String.raw`q\"uote \\ back \/ slash \b\f\n\r\t end`,
      String.raw`\u0041\u0061\u0030`,
      String.raw`é\u0001ü\u0002日本`,
      String.raw`\u00e9 beyond ASCII`,
      String.raw`\u20AC euro`,
      String.raw`\ud83d\ude00 pair`,
      String.raw`\ud800 lone`,
      '\\',
      String.raw`ends with \u00`,
      String.raw`bad \x escape`,
      String.raw`bad \u00G1 hex`,
      'x'.repeat(5000) + String.raw`\u0001long`,
      'raw\u0001control',
    ];
    for (const v of values) {
      const text = `{"code":10,"extFields":{"k":"${v}","n":"1"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}`;
      expect([v, viaFrame(text)]).toEqual([v, reference(text)]);
      const cmd = fast(text);
      if (cmd !== null) expect([v, cmd.extFields!['k']]).toEqual([v, (JSON.parse(text) as { extFields: { k: string } }).extFields.k]);
    }
    // The separators of a Java send's properties take the in-place path (no fallback).
    expect(fast(`{"code":10,"extFields":{"i":"TAGS\\u0001a\\u0002"},"opaque":1}`)?.extFields?.['i']).toBe('TAGS\u0001a\u0002');
  });

  const java =
    '{"code":310,"extFields":{"a":"bench-producer","b":"BenchTopic","c":"TBW102","d":"4","e":"2","f":"0","g":"1764750000123","h":"0",' +
    '"i":"UNIQ_KEY\\u00017F0000010000B3D10000000000000001\\u0002WAIT\\u0001true\\u0002TAGS\\u0001bench\\u0002","j":"0","k":"false","m":"false","n":"bench-broker"},' +
    '"flag":0,"language":"JAVA","opaque":1234567,"serializeTypeCurrentRPC":"JSON","version":479}';

  it('reads a Java client send (fastjson layout, \\u escapes in the properties) without falling back', () => {
    const cmd = fast(java);
    expect(cmd).not.toBeNull();
    expect(cmd!.code).toBe(310);
    expect(cmd!.opaque).toBe(1234567);
    expect(cmd!.language).toBe('JAVA');
    expect(cmd!.version).toBe(479);
    expect(cmd!.remark).toBeNull();
    expect(cmd!.extFields!['i']).toBe('UNIQ_KEY\u00017F0000010000B3D10000000000000001\u0002WAIT\u0001true\u0002TAGS\u0001bench\u0002');
    expect(cmd!.extFields!['g']).toBe('1764750000123');
    expect(fields(cmd!)).toEqual(reference(java));
  });

  // Headers the fast path takes itself: every one must decode exactly as the general decoder does.
  const handled = [
    java,
    '{"code":0,"extFields":{"MSG_REGION":"DefaultRegion","TRACE_ON":"true","msgId":"7F00000100002A9F0000000000000000","queueId":"1","queueOffset":"12345"},"flag":1,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}',
    '{"code":17,"flag":1,"language":"JAVA","opaque":7,"remark":"No topic route info: X","serializeTypeCurrentRPC":"JSON","version":479}',
    ' { "code" : 11 ,\n\t"extFields" : { "a" : "1" , "b":"2" } , "opaque":-5 }\r\n',
    '{"code":11}',
    '{"code":11,"extFields":{},"remark":null}',
    '{"code":11,"extFields":null}',
    '{"code":2147483648,"opaque":4294967297,"flag":-2147483649,"version":-0}',
    '{"code":11,"extFields":{"k":true,"l":false,"gone":null,"kept":"x"}}',
    '{"code":11,"extFields":{"a":"1","a":"2"},"code":12}',
    '{"code":11,"extFields":{"q\\"k":"line\\nbreak \\\\ \\/ \\b\\f\\r\\t","u":"\\u00e9\\u00E9 \\ud83d\\ude00 \\ud800 lone"}}',
    '{"code":11,"extFields":{"raw":"é中文😀","kéy":"v","long":"' + 'x'.repeat(80) + 'é"},"remark":"ünïcode ✓"}',
    '{"code":11,"extFields":{"1":"first by index","b":"x","0":"zero"}}',
    '{"code":11,"language":"GO","unknownString":"ignored","serializeTypeCurrentRPC":"ROCKETMQ"}',
    '{"code":11,"remark":"","extFields":{"":""}}',
    '{"code":11,"extFields":{"del":"\u007f"}}',
  ];
  it.each(handled)('takes %s itself, with the general result', (text) => {
    const cmd = fast(text);
    expect(cmd).not.toBeNull();
    expect(fields(cmd!)).toEqual(reference(text));
  });

  // Headers left to the general decoder: decodeCommand must still give its result (or its error).
  const fallback = [
    '{"code":11,"extFields":{"queueId":3,"consumerGroup":"G"}}', // numbers in extFields
    '{"code":11,"extFields":{"nested":{"x":[1,2]},"arr":[1]}}',
    '{"code":"11","opaque":"5"}', // numbers as strings at the top
    '{"code":11,"opaque":null,"language":7}',
    '{"code":11,"remark":5}',
    '{"code":11,"unknown":{"deep":true},"other":[1]}',
    '{"code":11,"n":1.5,"m":1e3}',
    '{"code":1.0}',
    '{"code":11.5}',
    '{"code":1e1}',
    '{"code":1234567890123456789}',
    '{"code":11,"extFields":{"__proto__":"x"}}',
    '{"co\\u0064e":11}',
    '{"code":011}',
    '{"code":11,"extFields":{"a":"\\x"}}',
    '{"code":11,"extFields":{"a":"\\u12"}}',
    '{"code":11,"extFields":{"a":"raw\u0001control"}}',
    '{"code":11,"extFields":{"a":"unterminated}}',
    '{"code":11,"extFields":{"a":"b"}',
    '{"code":11} trailing',
    '{"code":11,}',
    '{}',
    '[]',
    'null',
    '',
    '\ufeff{"code":11}',
    '{"opaque":1}',
    '{"code":-}',
    '{"code":11,"extFields":"text"}',
    '{"code":11,"extFields":{"a":tru}}',
    '{"code":11,"extFields":{"a":nul}}',
  ];
  it.each(fallback)('leaves %s to the general decoder', (text) => {
    expect(fast(text)).toBeNull();
    expect(viaFrame(text)).toEqual(reference(text));
  });

  it('decodes invalid UTF-8 inside strings as the general decoder does (replacement characters)', () => {
    const h = Buffer.concat([
      Buffer.from('{"code":11,"extFields":{"a":"x'),
      Buffer.from([0xc3]),
      Buffer.from('","b":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('\\n"}}'),
    ]);
    expect(fast(h)).not.toBeNull();
    expect(fields(fast(h)!)).toEqual(reference(h));
  });

  it('agrees with the general decoder on generated headers (keys and values of every kind)', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\u0001', '\u0002', '\u001f', '\u007f', 'é', '中', '😀', '\ud800'];
    const str = (): string => Array.from({ length: rnd(12) }, () => alphabet[rnd(alphabet.length)]!).join('');
    const value = (): unknown => [str, str, str, () => rnd(2) === 0, () => null, () => rnd(100000) - 50000, () => ({ x: str() })][rnd(7)]!();
    let fastTaken = 0;
    for (let i = 0; i < 2000; i++) {
      const ext: Record<string, unknown> = {};
      for (let k = rnd(6); k > 0; k--) ext[str()] = value();
      const o: Record<string, unknown> = { code: rnd(400) - 5, opaque: rnd(1 << 30) };
      if (rnd(4) > 0) o['extFields'] = rnd(8) === 0 ? null : ext;
      if (rnd(2) === 0) o['flag'] = rnd(4);
      if (rnd(2) === 0) o['remark'] = rnd(3) === 0 ? null : str();
      if (rnd(2) === 0) o['language'] = 'JAVA';
      o['version'] = 479;
      const text = JSON.stringify(o, null, rnd(5) === 0 ? 1 : undefined);
      if (fast(text) !== null) fastTaken++;
      expect(viaFrame(text)).toEqual(reference(text));
    }
    expect(fastTaken).toBeGreaterThan(500);
  });
});
