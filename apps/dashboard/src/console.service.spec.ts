import { describe, expect, it } from '@jest/globals';
import type { ReceivedMessage } from '@rocketmq-ts/client';
import { isSystemGroup, messageView, topicKind, versionDesc } from './console.service.js';

describe('console helpers', () => {
  it('sorts topics into normal, retry, dead-letter and system', () => {
    expect(['Orders', '%RETRY%g1', '%DLQ%g1', 'TBW102', 'rmq_sys_wheel_timer', 'SCHEDULE_TOPIC_XXXX'].map(topicKind)).toEqual([
      'normal',
      'retry',
      'dlq',
      'system',
      'system',
      'system',
    ]);
  });

  it('hides the groups brokers and tools make for themselves', () => {
    expect(['TOOLS_CONSUMER', 'CID_RMQ_SYS_TRANS', 'CID_RMQ_SYS_X', 'SELF_TEST_C_GROUP', 'orders-consumer'].map(isSystemGroup)).toEqual([
      true,
      true,
      true,
      true,
      false,
    ]);
  });

  it('names client versions as RocketMQ does and leaves unknown ones blank', () => {
    expect(versionDesc(0)).toBe('');
    // Agrees with the ordinals the protocol names.
    expect([213, 401, 413, 475, 479].map(versionDesc)).toEqual(['V4_0_0', 'V4_9_4', 'V5_0_0', 'V5_3_1', 'V5_3_3']);
    expect([212, 453, 37, 1000].map(versionDesc)).toEqual(['V4_0_0_SNAPSHOT', 'V5_2_0', 'V3_0_11', 'HIGHER_VERSION']);
  });

  it('sends at most bodyPreviewMaxBytes of the body, base64, and says when it cut', () => {
    const body = Buffer.from([0x00, 0xff, ...Buffer.from('hello world')]);
    const m = {
      msgId: 'U1',
      offsetMsgId: 'O1',
      topic: 'T',
      brokerName: 'b',
      queueId: 1,
      queueOffset: 7,
      commitLogOffset: 100,
      tags: undefined,
      keys: ['k1', 'k2'],
      bornTimestamp: 1,
      storeTimestamp: 2,
      bornHost: { address: '10.0.0.1', port: 5 },
      storeHost: { address: '10.0.0.2', port: 10911 },
      reconsumeTimes: 0,
      sysFlag: 0,
      flag: 0,
      storeSize: 200,
      bodyCRC: 9,
      preparedTransactionOffset: 0,
      properties: new Map([
        ['UNIQ_KEY', 'U1'],
        ['KEYS', 'k1 k2'],
      ]),
      body,
    } satisfies ReceivedMessage;
    const full = messageView(m, 1024);
    expect(full).toMatchObject({ tags: '', keys: ['k1', 'k2'], bornHost: '10.0.0.1:5', bodySize: 13, bodyTruncated: false });
    expect(Buffer.from(full.bodyBase64, 'base64')).toEqual(body);
    expect(Object.keys(full.properties)).toEqual(['KEYS', 'UNIQ_KEY']);
    const cut = messageView(m, 4);
    expect(cut).toMatchObject({ bodySize: 13, bodyTruncated: true });
    expect(Buffer.from(cut.bodyBase64, 'base64')).toEqual(body.subarray(0, 4));
  });
});
