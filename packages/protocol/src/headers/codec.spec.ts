import { describe, expect, it } from '@jest/globals';
import { SendMessageRequestHeaderV2, decodeSendHeaderV2, sendHeaderFromV2, sendHeaderToV2 } from './producer.js';
import { PullMessageRequestHeader } from './consumer.js';
import { HeaderError } from '../errors.js';
import { defineHeader } from './codec.js';

describe('typed headers', () => {
  const javaV2 = {
    a: 'PG',
    b: 'T',
    c: 'TBW102',
    d: '4',
    e: '1',
    f: '0',
    g: '1700000000000',
    h: '0',
    i: 'TAGS\u0001a\u0002',
    j: '0',
    k: 'false',
    l: '16',
    m: 'false',
    n: 'broker-a',
  };

  it('decodes Java string fields with coercion', () => {
    const h = SendMessageRequestHeaderV2.decode(javaV2);
    expect(h).toEqual({
      a: 'PG',
      b: 'T',
      c: 'TBW102',
      d: 4,
      e: 1,
      f: 0,
      g: 1700000000000,
      h: 0,
      i: 'TAGS\u0001a\u0002',
      j: 0,
      k: false,
      l: 16,
      m: false,
      n: 'broker-a',
    });
  });

  it('decodes JSON numbers and booleans the same way', () => {
    const h = SendMessageRequestHeaderV2.decode({ ...javaV2, d: 4, e: 1, g: 1700000000000, k: true, m: 'TRUE' });
    expect(h.d).toBe(4);
    expect(h.k).toBe(true);
    expect(h.m).toBe(true);
  });

  it('names a missing required field', () => {
    const { e: _e, ...rest } = javaV2;
    expect(() => SendMessageRequestHeaderV2.decode(rest)).toThrow(HeaderError);
    try {
      SendMessageRequestHeaderV2.decode(rest);
    } catch (err) {
      expect((err as HeaderError).field).toBe('e');
      expect((err as Error).message).toContain('the custom field e is null');
    }
    expect(() => PullMessageRequestHeader.decode(null)).toThrow(/consumerGroup/);
  });

  it('names a malformed number', () => {
    expect(() => SendMessageRequestHeaderV2.decode({ ...javaV2, e: 'x1' })).toThrow(/custom field e .* not a valid int/);
    expect(() => SendMessageRequestHeaderV2.decode({ ...javaV2, e: '1.5' })).toThrow(/not a valid int/);
    expect(() => SendMessageRequestHeaderV2.decode({ ...javaV2, e: '3000000000' })).toThrow(/out of int range/);
  });

  it('encodes strings only, skipping absent fields, and maps V1 <-> V2', () => {
    const v1 = sendHeaderFromV2(SendMessageRequestHeaderV2.decode(javaV2));
    expect(v1.producerGroup).toBe('PG');
    expect(v1.bname).toBe('broker-a');
    const back = SendMessageRequestHeaderV2.encode(sendHeaderToV2(v1));
    expect(back).toEqual(javaV2);
    expect(SendMessageRequestHeaderV2.encode({ a: 'x', b: 'y', c: 'z', d: 1, e: 2, f: 3, g: 4, h: 5 })).toEqual({
      a: 'x',
      b: 'y',
      c: 'z',
      d: '1',
      e: '2',
      f: '3',
      g: '4',
      h: '5',
    });
  });
});

describe('integer fast path', () => {
  const H = defineHeader('T', { i: { t: 'int' }, l: { t: 'long' } });
  it('gives what Number() gives, and rejects what it rejected', () => {
    const cases = [
      '0',
      '7',
      '-1',
      '42',
      '2147483647',
      '-2147483648',
      '1700000000000',
      '123456789012345',
      '9007199254740993',
      '-0',
      '00',
      '007',
      ' 5',
      '5 ',
      '+5',
      '1e3',
      '0x10',
      '1.0',
      '-',
    ];
    for (const c of cases) {
      const general = Number(c.trim());
      const l = (() => {
        try {
          return H.decode({ l: c }).l;
        } catch {
          return 'error';
        }
      })();
      expect([c, l]).toEqual([c, c.trim() === '' || !Number.isInteger(general) ? 'error' : general]);
    }
    expect(() => H.decode({ i: '2147483648' })).toThrow(/out of int range/);
    expect(H.decode({ i: '-2147483648' }).i).toBe(-2147483648);
    expect(Object.is(H.decode({ i: '-0' }).i, -0)).toBe(true);
  });
});

describe('decodeSendHeaderV2 (send hot path)', () => {
  const javaV2 = {
    a: 'PG',
    b: 'T',
    c: 'TBW102',
    d: '4',
    e: '1',
    f: '0',
    g: '1700000000000',
    h: '0',
    i: 'TAGS\u0001a\u0002',
    j: '0',
    k: 'false',
    l: '16',
    m: 'false',
    n: 'broker-a',
  };
  const outcome = (f: () => unknown): unknown => {
    try {
      return { ok: f() };
    } catch (e) {
      return { err: (e as Error).message, field: (e as HeaderError).field };
    }
  };
  it('matches sendHeaderFromV2(SendMessageRequestHeaderV2.decode(...)) exactly, errors included', () => {
    const { i: _i, j: _j, k: _k, l: _l, m: _m, n: _n, ...required } = javaV2;
    const inputs: (Record<string, string | number | boolean> | null)[] = [
      javaV2,
      required,
      { ...javaV2, d: 4, e: 1, g: 1700000000000, k: true, m: 'TRUE' },
      { ...javaV2, e: 'x1' },
      { ...javaV2, a: 7, e: '3000000000' },
      { ...required, b: undefined as unknown as string },
      { ...javaV2, g: ' 12 ', h: '-3' },
      null,
    ];
    for (const ext of inputs) {
      const want = outcome(() => sendHeaderFromV2(SendMessageRequestHeaderV2.decode(ext)));
      const got = outcome(() => decodeSendHeaderV2(ext));
      expect(got).toEqual(want);
      if ((want as { ok?: object }).ok) expect(Object.keys((got as { ok: object }).ok)).toEqual(Object.keys((want as { ok: object }).ok));
    }
  });
});
