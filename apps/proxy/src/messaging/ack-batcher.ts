import { MQBrokerError, type MQClientInstance } from '@rocketmq-ts/client';
import { POP_ORDER_REVIVE_QUEUE, RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import type { ReceiptHandle } from './receipt-handle.js';

type Api = MQClientInstance['api'];

/** One ack waiting for the end of the event-loop turn. */
interface PendingAck {
  /** The topic the gRPC call named (the batch body's `t`; the broker derives the retry topic from `r`). */
  topic: string;
  /** The topic a single ACK_MESSAGE names (retry topic for a retried message). */
  realTopic: string;
  h: ReceiptHandle;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Bucket {
  addr: string;
  group: string;
  acks: PendingAck[];
}

export interface AckBatcherStats {
  /** BATCH_ACK_MESSAGE requests sent. */
  batches: number;
  /** Acks carried by them. */
  batchedAcks: number;
  /** ACK_MESSAGE requests sent (a lone ack, a FIFO ack, or the fallback). */
  singleAcks: number;
}

/**
 * Coalesces the acks that arrive in one event-loop turn (AckMessage calls and their entries) for
 * the same broker, group and topic into one BATCH_ACK_MESSAGE (RocketMQ 5 body: one entry per
 * checkpoint with a bit set of the acked offsets). A lone ack, a FIFO ack (the broker's batch ack
 * does not commit FIFO offsets) and an ack whose offset precedes its checkpoint go as
 * ACK_MESSAGE. A failed batch fails each of its acks with the batch's error, as a single ack's
 * error would; a broker that does not know BATCH_ACK_MESSAGE gets single acks from then on.
 */
export class AckBatcher {
  readonly stats: AckBatcherStats = { batches: 0, batchedAcks: 0, singleAcks: 0 };
  private pending = new Map<string, Bucket>();
  private scheduled = false;
  private readonly noBatch = new Set<string>();

  constructor(
    private readonly api: () => Api,
    private readonly timeoutMs: number,
    private readonly enabled: boolean,
    private readonly onBatch: (entries: number) => void = () => {},
  ) {}

  ack(addr: string, group: string, topic: string, realTopic: string, h: ReceiptHandle): Promise<void> {
    if (!this.enabled || h.reviveQid === POP_ORDER_REVIVE_QUEUE || h.offset < h.ckQueueOffset || this.noBatch.has(addr)) {
      return this.single(addr, group, realTopic, h);
    }
    return new Promise<void>((resolve, reject) => {
      const key = `${addr}\u0000${group}\u0000${realTopic}`;
      let b = this.pending.get(key);
      if (b === undefined) {
        b = { addr, group, acks: [] };
        this.pending.set(key, b);
      }
      b.acks.push({ topic, realTopic, h, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const buckets = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    for (const b of buckets.values()) {
      if (b.acks.length === 1) {
        const a = b.acks[0]!;
        this.single(b.addr, b.group, a.realTopic, a.h).then(a.resolve, a.reject);
      } else {
        this.batch(b).catch(() => {}); // settles every ack itself
      }
    }
  }

  private single(addr: string, group: string, realTopic: string, h: ReceiptHandle): Promise<void> {
    this.stats.singleAcks++;
    return this.api().ackMessage(
      addr,
      { consumerGroup: group, topic: realTopic, queueId: h.queueId, extraInfo: h.extraInfo, offset: h.offset, bname: h.brokerName },
      this.timeoutMs,
    );
  }

  private async batch(b: Bucket): Promise<void> {
    // One body entry per checkpoint: same queue, start offset, pop time, revive queue and flag.
    const cks = new Map<string, { a: PendingAck; offsets: number[] }>();
    for (const a of b.acks) {
      const h = a.h;
      const key = `${h.brokerName} ${h.queueId} ${h.ckQueueOffset} ${h.popTime} ${h.invisibleTime} ${h.reviveQid} ${h.flag}`;
      const ck = cks.get(key);
      if (ck === undefined) cks.set(key, { a, offsets: [h.offset] });
      else ck.offsets.push(h.offset);
    }
    const acks = [...cks.values()].map(({ a, offsets }) => {
      const h = a.h;
      let max = 0;
      for (const o of offsets) max = Math.max(max, o - h.ckQueueOffset);
      const bits = Buffer.alloc((max >>> 3) + 1);
      for (const o of offsets) {
        const i = o - h.ckQueueOffset;
        bits[i >>> 3] = bits[i >>> 3]! | (1 << (i & 7));
      }
      return {
        c: b.group,
        t: a.topic,
        r: h.flag,
        so: h.ckQueueOffset,
        q: h.queueId,
        rq: h.reviveQid,
        pt: h.popTime,
        it: h.invisibleTime,
        b: bits.toString('base64'),
      };
    });
    const api = this.api();
    const cmd = api.request(RequestCode.BATCH_ACK_MESSAGE, {});
    cmd.body = Buffer.from(JSON.stringify({ brokerName: b.acks[0]!.h.brokerName, acks }));
    this.stats.batches++;
    this.stats.batchedAcks += b.acks.length;
    this.onBatch(b.acks.length);
    try {
      await api.call(b.addr, cmd, this.timeoutMs);
    } catch (e) {
      if (e instanceof MQBrokerError && e.code === ResponseCode.REQUEST_CODE_NOT_SUPPORTED) {
        // An older broker: single acks for this one from now on.
        this.noBatch.add(b.addr);
        for (const a of b.acks) this.single(b.addr, b.group, a.realTopic, a.h).then(a.resolve, a.reject);
        return;
      }
      for (const a of b.acks) a.reject(e);
      return;
    }
    for (const a of b.acks) a.resolve();
  }
}
