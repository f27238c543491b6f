import { describe, expect, it } from '@jest/globals';
import { RemotingCommand, RequestCode } from '@rocketmq-ts/protocol';
import type { ClientChannel } from './channel.js';
import { decodeHeartbeatData } from '@rocketmq-ts/protocol';
import { ConsumerManager, type ConsumerData } from './consumer-manager.js';
import { RebalanceLockManager } from './rebalance-lock-manager.js';

function channel(name: string): ClientChannel & { sent: RemotingCommand[] } {
  const sent: RemotingCommand[] = [];
  return {
    sent,
    remoteAddress: name,
    isClosed: false,
    invokeOneway: (cmd: RemotingCommand) => (sent.push(cmd), true),
    invoke: () => Promise.reject(new Error('not used')),
  } as unknown as ClientChannel & { sent: RemotingCommand[] };
}

const data = (sub: string, version = 1): ConsumerData => ({
  groupName: 'G',
  consumeType: 'CONSUME_PASSIVELY',
  messageModel: 'CLUSTERING',
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
  unitMode: false,
  subscriptionDataSet: [{ topic: 'T', subString: sub, tagsSet: [], codeSet: [], subVersion: version, expressionType: 'TAG', classFilterMode: false }],
});

const info = (ch: ClientChannel, clientId: string, t = Date.now()) => ({ channel: ch, clientId, language: 'JAVA', version: 479, lastUpdateTimestamp: t });

describe('ConsumerManager', () => {
  it('notifies members when membership or subscriptions change, not on a plain refresh', () => {
    const m = new ConsumerManager(120_000);
    const a = channel('a');
    const b = channel('b');
    expect(m.register(data('*'), info(a, 'A'), true)).toBe(true);
    expect(a.sent).toHaveLength(1);
    expect(a.sent[0]!.code).toBe(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED);
    expect(a.sent[0]!.ext('consumerGroup')).toBe('G');
    expect(m.register(data('*'), info(a, 'A'), true)).toBe(false);
    expect(m.register(data('*'), info(b, 'B'), true)).toBe(true);
    expect(a.sent).toHaveLength(2);
    expect(m.get('G')!.clientIds().sort()).toEqual(['A', 'B']);
    expect(m.register(data('x || y', 2), info(b, 'B'), false)).toBe(true);
    expect(a.sent).toHaveLength(2); // notify disabled for the group
    expect(m.findSubscription('G', 'T')!.subString).toBe('x || y');
    m.unregister('G', b, true);
    expect(a.sent).toHaveLength(3);
    m.channelClosed(a, () => true);
    expect(m.get('G')).toBeUndefined();
  });

  it('reports channels silent for longer than channelExpiredTimeout', () => {
    const m = new ConsumerManager(1_000);
    const a = channel('a');
    const b = channel('b');
    m.register(data('*'), info(a, 'A', 0), false);
    m.register(data('*'), info(b, 'B', 5_000), false);
    expect(m.scanNotActive(5_500)).toEqual([a]);
  });

  it('decodes a Java heartbeat, recomputing tag codes a client left out', () => {
    const body = Buffer.from(
      JSON.stringify({
        clientID: '10.0.0.1@123#456',
        producerDataSet: [{ groupName: 'PG' }],
        consumerDataSet: [
          {
            groupName: 'G',
            consumeType: 'CONSUME_PASSIVELY',
            messageModel: 'BROADCASTING',
            consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
            unitMode: false,
            subscriptionDataSet: [{ topic: 'T', subString: 'a || b', subVersion: 7 }],
          },
        ],
      }),
    );
    const hb = decodeHeartbeatData(body);
    expect(hb.clientID).toBe('10.0.0.1@123#456');
    expect(hb.producerDataSet).toEqual([{ groupName: 'PG' }]);
    const s = hb.consumerDataSet[0]!.subscriptionDataSet[0]!;
    expect(s).toMatchObject({ topic: 'T', tagsSet: ['a', 'b'], codeSet: [97, 98], subVersion: 7, expressionType: 'TAG' });
    expect(hb.consumerDataSet[0]!.messageModel).toBe('BROADCASTING');
  });
});

describe('RebalanceLockManager', () => {
  it('locks free queues, renews own ones, frees on unlock and after the lease', () => {
    const l = new RebalanceLockManager(60_000);
    const q = (queueId: number) => ({ topic: 'T', brokerName: 'b', queueId });
    expect(l.tryLockBatch('G', [q(0), q(1)], 'A', 0)).toHaveLength(2);
    expect(l.tryLockBatch('G', [q(0), q(1)], 'B', 1_000)).toHaveLength(0);
    expect(l.tryLockBatch('G2', [q(0)], 'B', 1_000)).toHaveLength(1); // other group
    l.unlockBatch('G', [q(1)], 'A');
    expect(l.tryLockBatch('G', [q(0), q(1)], 'B', 2_000)).toEqual([q(1)]);
    expect(l.isLocked('G', q(0), 'A', 2_000)).toBe(true);
    expect(l.tryLockBatch('G', [q(0)], 'B', 61_001)).toEqual([q(0)]); // A's lease ran out
  });
});
