import { describe, expect, it } from '@jest/globals';
import type { ReceivedMessage } from '@rocketmq-ts/client';
import { BadRequest } from './console.service.js';
import { chooseRetryTopic, deadLetterView, deadLettersCsv, resendProperties, topicOfPopRetry } from './dlq.service.js';
import { parseResetRequest, planTotals } from './offsets.service.js';

const deadLetter = (props: Array<[string, string]>): ReceivedMessage => ({
  msgId: 'U1',
  offsetMsgId: 'DLQ-OFFSET-ID',
  topic: '%DLQ%g',
  brokerName: 'b',
  queueId: 0,
  queueOffset: 3,
  commitLogOffset: 100,
  tags: 'TagA',
  keys: ['k1'],
  bornTimestamp: 1,
  storeTimestamp: 2,
  bornHost: { address: '10.0.0.1', port: 5 },
  storeHost: { address: '10.0.0.2', port: 10911 },
  reconsumeTimes: 17,
  sysFlag: 0,
  flag: 0,
  storeSize: 200,
  bodyCRC: 9,
  preparedTransactionOffset: 0,
  properties: new Map(props),
  body: Buffer.from('payload'),
});

describe('dead letters', () => {
  it('reads the origin from DLQ_ORIGIN_* first, then RETRY_TOPIC / UNIQ_KEY; the exception is never known', () => {
    const full = deadLetterView(
      deadLetter([
        ['DLQ_ORIGIN_TOPIC', 'Orders'],
        ['DLQ_ORIGIN_MESSAGE_ID', 'U-ORIGIN'],
        ['RETRY_TOPIC', 'Other'],
        ['UNIQ_KEY', 'U1'],
        ['ORIGIN_MESSAGE_ID', 'FIRST-OFFSET-ID'],
      ]),
      16,
      16,
    );
    expect(full).toMatchObject({
      originTopic: 'Orders',
      originMsgId: 'U-ORIGIN',
      originOffsetMsgId: 'FIRST-OFFSET-ID',
      reconsumeTimes: 17,
      exceptionText: null,
    });
    expect(full.reason).toBe('exception not reported by the client; reconsume times 17 (group retryMaxTimes 16)');
    const old = deadLetterView(
      deadLetter([
        ['RETRY_TOPIC', 'Orders'],
        ['UNIQ_KEY', 'U1'],
      ]),
      16,
      null,
    );
    expect(old).toMatchObject({ originTopic: 'Orders', originMsgId: 'U1', originOffsetMsgId: '' });
    expect(old.reason).toBe('exception not reported by the client; reconsume times 17');
  });

  it('resends with user properties, keys and tags, the original topic in RETRY_TOPIC, without the broker bookkeeping', () => {
    const m = deadLetter([
      ['KEYS', 'k1'],
      ['TAGS', 'TagA'],
      ['UNIQ_KEY', 'U1'],
      ['orderNo', '42'],
      ['CLUSTER', 'c1'],
      ['DELAY', '3'],
      ['REAL_TOPIC', '%RETRY%g'],
      ['REAL_QID', '0'],
      ['WAIT', 'false'],
      ['DLQ_ORIGIN_TOPIC', 'Orders'],
    ]);
    expect(resendProperties(m, 'Orders')).toEqual({
      KEYS: 'k1',
      TAGS: 'TagA',
      UNIQ_KEY: 'U1',
      orderNo: '42',
      DLQ_ORIGIN_TOPIC: 'Orders',
      RETRY_TOPIC: 'Orders',
      ORIGIN_MESSAGE_ID: 'DLQ-OFFSET-ID',
    });
  });

  it('names the topic a POP retry topic stands for (a revived message carries no RETRY_TOPIC)', () => {
    expect(['%RETRY%g_Orders', '%RETRY%g+Orders', '%RETRY%g', '%RETRY%gx_Orders', 'Orders', '%RETRY%g_'].map((t) => topicOfPopRetry('g', t))).toEqual([
      'Orders',
      'Orders',
      '',
      '',
      '',
      '',
    ]);
    expect(deadLetterView(deadLetter([['DLQ_ORIGIN_TOPIC', '%RETRY%g_Orders']]), 16, null).originTopic).toBe('Orders');
    expect(deadLetterView(deadLetter([['DLQ_ORIGIN_TOPIC', '%RETRY%other_Orders']]), 16, null).originTopic).toBe('%RETRY%other_Orders');
  });

  it('resends to the POP retry topic the group has an offset on, else to %RETRY%<group>', () => {
    expect(chooseRetryTopic('g', 'Orders', new Set(['Orders', '%RETRY%g']))).toBe('%RETRY%g');
    expect(chooseRetryTopic('g', 'Orders', new Set(['Orders', '%RETRY%g_Orders']))).toBe('%RETRY%g_Orders');
    expect(chooseRetryTopic('g', 'Orders', new Set(['%RETRY%g+Orders', '%RETRY%g_Orders']))).toBe('%RETRY%g+Orders');
    expect(chooseRetryTopic('g', 'Orders', new Set(['%RETRY%g_Other']))).toBe('%RETRY%g');
    expect(chooseRetryTopic('g', '', new Set(['%RETRY%g_Orders']))).toBe('%RETRY%g');
  });

  it('exports CSV with RFC 4180 quoting', () => {
    const csv = deadLettersCsv([
      {
        offsetMsgId: 'O1',
        msgId: 'U1',
        originTopic: 'Orders',
        originMsgId: 'U1',
        reconsumeTimes: 2,
        storeTimestamp: 0,
        bornTimestamp: 0,
        tags: 'a,b',
        keys: ['k"1', 'k2'],
        properties: {},
        bodyBase64: 'cGF5bG9hZA==',
      },
    ]);
    expect(csv.split('\r\n')[1]).toBe('O1,U1,Orders,U1,2,1970-01-01T00:00:00.000Z,1970-01-01T00:00:00.000Z,"a,b","k""1 k2",cGF5bG9hZA==');
  });
});

describe('offset reset requests', () => {
  it('accepts the four modes and refuses what cannot be planned', () => {
    expect(parseResetRequest({ topic: ' T ', mode: 'time', timestamp: '2026-01-01T00:00:00Z' })).toEqual({
      topic: 'T',
      mode: 'time',
      timestamp: Date.UTC(2026, 0, 1),
    });
    expect(parseResetRequest({ mode: 'latest' })).toEqual({ topic: '', mode: 'latest' });
    expect(parseResetRequest({ topic: 'T', mode: 'offset', offsets: [{ topic: 'T', brokerName: 'b', queueId: 1, offset: '5' }] }).offsets).toEqual([
      { topic: 'T', brokerName: 'b', queueId: 1, offset: 5 },
    ]);
    for (const bad of [
      { mode: 'back' },
      { mode: 'time' },
      { mode: 'time', timestamp: 'yesterday' },
      { mode: 'offset', offsets: [] },
      { mode: 'offset', offsets: [{ topic: 'T', brokerName: 'b', queueId: 0, offset: -1 }] },
      { mode: 'offset', offsets: [{ topic: 'T', queueId: 0, offset: 1 }] },
    ]) {
      expect(() => parseResetRequest(bad)).toThrow(BadRequest);
    }
  });

  it('totals skipped and replayed messages apart', () => {
    const q = (currentOffset: number, targetOffset: number, delta: number) => ({
      topic: 'T',
      brokerName: 'b',
      queueId: 0,
      minOffset: 0,
      maxOffset: 9,
      currentOffset,
      targetOffset,
      delta,
    });
    expect(planTotals([q(5, 9, 4), q(5, 2, -3), q(5, 5, 0), q(-1, 3, 0)])).toEqual({ skipped: 4, replayed: 3, changed: 3 });
  });
});
