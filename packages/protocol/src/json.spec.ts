import { describe, expect, it } from '@jest/globals';
import { jsonEntries, parseLenientJson, stringifyFastjson } from './json.js';

describe('lenient JSON reader', () => {
  it('reads standard JSON like JSON.parse', () => {
    const s = '{"a":[1,2.5,-3e2,true,false,null,"x\\"y\\u00e9"],"b":{}}';
    expect(parseLenientJson(s)).toEqual(JSON.parse(s));
  });

  it('reads unquoted integer keys (consumerOffset.json, brokerAddrs)', () => {
    expect(parseLenientJson('{"offsetTable":{"T@G":{0:123,1:456}}}')).toEqual({ offsetTable: { 'T@G': { '0': 123, '1': 456 } } });
    expect(parseLenientJson('{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}}')).toEqual({
      brokerAddrs: { '0': '10.0.0.1:10911', '1': '10.0.0.2:10911' },
    });
  });

  it('reads object keys into a Map', () => {
    const v = parseLenientJson(
      '{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{"brokerOffset":5},{"brokerName":"b","queueId":1,"topic":"t"}:{"brokerOffset":6}}}',
    );
    const table = (v as Record<string, unknown>)['offsetTable'];
    expect(table).toBeInstanceOf(Map);
    const entries = jsonEntries(table);
    expect(entries).toEqual([
      [{ brokerName: 'b', queueId: 0, topic: 't' }, { brokerOffset: 5 }],
      [{ brokerName: 'b', queueId: 1, topic: 't' }, { brokerOffset: 6 }],
    ]);
  });

  it('rejects garbage with a position', () => {
    for (const bad of ['{', '{"a"}', '[1,]x', '{"a":1,}', 'tru', '"abc', '{a b:1}', '']) {
      expect(() => parseLenientJson(bad)).toThrow(/bad JSON at \d+/);
    }
  });

  it('survives deep nesting without a stack overflow', () => {
    expect(() => parseLenientJson('['.repeat(100000))).toThrow(/nested too deeply/);
  });
});

describe('fastjson writer', () => {
  it('writes number-keyed maps unquoted, or quoted in standard mode', () => {
    const v = {
      brokerAddrs: new Map([
        [0, 'a:1'],
        [1, 'b:2'],
      ]),
      cluster: 'c',
    };
    expect(stringifyFastjson(v)).toBe('{"brokerAddrs":{0:"a:1",1:"b:2"},"cluster":"c"}');
    expect(stringifyFastjson(v, { standard: true })).toBe('{"brokerAddrs":{"0":"a:1","1":"b:2"},"cluster":"c"}');
  });

  it('writes object-keyed maps with object keys, and reads them back', () => {
    const mq = { brokerName: 'b', queueId: 0, topic: 't' };
    const text = stringifyFastjson({ offsetTable: new Map([[mq, 7]]) });
    expect(text).toBe('{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:7}}');
    expect(jsonEntries((parseLenientJson(text) as Record<string, unknown>)['offsetTable'])).toEqual([[mq, 7]]);
  });

  it('skips null and undefined fields, keeps sets as arrays', () => {
    expect(stringifyFastjson({ a: null, b: undefined, c: new Set(['x']), d: [1, undefined] })).toBe('{"c":["x"],"d":[1,null]}');
  });
});
