import { describe, expect, it } from '@jest/globals';
import { SendMessageRequestHeaderV2, sendHeaderFromV2, sendHeaderToV2 } from './producer.js';
import { PullMessageRequestHeader } from './consumer.js';
import { HeaderError } from '../errors.js';

describe('typed headers', () => {
  const javaV2 = { a: 'PG', b: 'T', c: 'TBW102', d: '4', e: '1', f: '0', g: '1700000000000', h: '0', i: 'TAGS\u0001a\u0002', j: '0', k: 'false', l: '16', m: 'false', n: 'broker-a' };

  it('decodes Java string fields with coercion', () => {
    const h = SendMessageRequestHeaderV2.decode(javaV2);
    expect(h).toEqual({ a: 'PG', b: 'T', c: 'TBW102', d: 4, e: 1, f: 0, g: 1700000000000, h: 0, i: 'TAGS\u0001a\u0002', j: 0, k: false, l: 16, m: false, n: 'broker-a' });
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
    expect(SendMessageRequestHeaderV2.encode({ a: 'x', b: 'y', c: 'z', d: 1, e: 2, f: 3, g: 4, h: 5 })).toEqual({ a: 'x', b: 'y', c: 'z', d: '1', e: '2', f: '3', g: '4', h: '5' });
  });
});
