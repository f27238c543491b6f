import { describe, expect, it } from '@jest/globals';
import { encodeMessageRecordToBuffer, encodeProperties, parseExtraInfo } from '@rocketmq-ts/protocol';
import { changedReceiptHandle, parseOffsetInfo, popMessageViews } from './pop-messages.js';

const host = { address: '127.0.0.1', port: 10911 };

function record(topic: string, queueId: number, queueOffset: number, props: Record<string, string>, reconsumeTimes = 0): Buffer {
  return encodeMessageRecordToBuffer({
    topic,
    queueId,
    flag: 0,
    queueOffset,
    physicalOffset: 1000 + queueOffset,
    sysFlag: 0,
    bornTimestamp: 1,
    bornHost: host,
    storeTimestamp: 2,
    storeHost: host,
    reconsumeTimes,
    preparedTransactionOffset: 0,
    body: Buffer.from(`${topic}-${queueId}-${queueOffset}`),
    properties: encodeProperties(props),
  });
}

describe('parseOffsetInfo', () => {
  it('maps flag@queueId to the value and keeps the first of a repeated key', () => {
    const m = parseOffsetInfo('0 1 5;0 3 17;1 0 2;0 1 9');
    expect([...m]).toEqual([
      ['0@1', '5'],
      ['0@3', '17'],
      ['1@0', '2'],
    ]);
    expect(parseOffsetInfo(undefined).size).toBe(0);
    expect(parseOffsetInfo('').size).toBe(0);
  });
});

describe('popMessageViews', () => {
  const header = { popTime: 1_700_000_000_000, invisibleTime: 15_000, reviveQid: 3, startOffsetInfo: '0 1 5;0 2 40' };

  it('builds the receipt handle of a normal message from startOffsetInfo, as RocketMQ clients do', () => {
    const body = Buffer.concat([record('T', 1, 6, { TAGS: 'a', UNIQ_KEY: 'U1' }), record('T', 2, 41, { TAGS: 'b' })]);
    const [m1, m2] = popMessageViews(body, header, { brokerName: 'broker-a', topic: 'T' });
    expect(m1!.receiptHandle).toBe('5 1700000000000 15000 3 0 broker-a 1 6');
    expect(m2!.receiptHandle).toBe('40 1700000000000 15000 3 0 broker-a 2 41');
    expect(m1!.msgId).toBe('U1');
    expect(m1!.deliveryAttempt).toBe(1);
    expect(m1!.nextVisibleTime).toBe(header.popTime + 15_000);
    expect(m1!.properties.get('1ST_POP_TIME')).toBe(String(header.popTime));
    expect(parseExtraInfo(m1!.receiptHandle)).toMatchObject({ ckQueueOffset: 5, queueId: 1, offset: 6, flag: '0', brokerName: 'broker-a' });
  });

  it('takes POP_CK of a retried message, counts its attempts and reports it under the popped topic', () => {
    const ck = '7 1699999990000 1000 1 1 broker-a 0 7';
    const body = record('%RETRY%G_T', 0, 7, { POP_CK: ck, '1ST_POP_TIME': '1699999980000' }, 1);
    const [m] = popMessageViews(body, header, { brokerName: 'broker-a', topic: 'T' });
    expect(m!.receiptHandle).toBe(ck);
    expect(m!.deliveryAttempt).toBe(2);
    expect(m!.topic).toBe('T');
    expect(m!.nextVisibleTime).toBe(1699999991000);
    expect(m!.properties.get('1ST_POP_TIME')).toBe('1699999980000');
  });

  it('falls back to the message offset when the broker sent no startOffsetInfo', () => {
    const [m] = popMessageViews(record('T', 0, 12, {}), { popTime: 5, invisibleTime: 6, reviveQid: 0 }, { brokerName: 'b', topic: 'T' });
    expect(m!.receiptHandle).toBe('12 5 6 0 0 b 0 12');
  });

  it('takes the redelivery count of a FIFO message from orderCountInfo (per message, else per queue)', () => {
    const body = Buffer.concat([record('T', 0, 4, {}), record('T', 0, 5, {}), record('T', 1, 9, {})]);
    const fifo = { ...header, reviveQid: 999, startOffsetInfo: '0 0 4;0 1 9', orderCountInfo: '0 qo0%4 2;0 0 0;0 1 1' };
    const ms = popMessageViews(body, fifo, { brokerName: 'b', topic: 'T' });
    expect(ms.map((m) => m.deliveryAttempt)).toEqual([3, 1, 2]);
    expect(ms[0]!.receiptHandle).toBe('4 1700000000000 15000 999 0 b 0 4');
  });

  it('an empty body is no messages', () => {
    expect(popMessageViews(null, header, { brokerName: 'b', topic: 'T' })).toEqual([]);
  });
});

describe('changedReceiptHandle', () => {
  it('names a checkpoint of the one message, keeping flag, broker and queue', () => {
    const old = parseExtraInfo('5 100 15000 3 1 broker-a 0 9')!;
    expect(changedReceiptHandle({ ...old, offset: 9 }, { popTime: 200, invisibleTime: 500, reviveQid: 3 })).toBe('9 200 500 3 1 broker-a 0 9');
  });
});
