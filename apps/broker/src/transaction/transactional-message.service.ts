import { Inject, Injectable } from '@nestjs/common';
import { MessageConst, TopicValidator } from '@rocketmq-ts/common';
import { decodeMessageRecord, encodeProperties, type DecodedMessage } from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import { PutMessageStatus, type MessageStore, type PutMessageResult } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import { MESSAGE_STORE } from '../tokens.js';

const HALF = TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC;
const OP = TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC;
/** Tag of op records that finish a half message (RocketMQ's "d", for delete). */
const OP_TAG = 'd';

/** Statuses under which the message is stored (maybe with a flush or replica warning): a commit counts. */
export function isStored(status: PutMessageResult['status']): boolean {
  return (
    status === PutMessageStatus.PUT_OK ||
    status === PutMessageStatus.FLUSH_DISK_TIMEOUT ||
    status === PutMessageStatus.FLUSH_SLAVE_TIMEOUT ||
    status === PutMessageStatus.SLAVE_NOT_AVAILABLE
  );
}

/**
 * The broker's half of transactional messages: finishing a half message (commit: store the real
 * message; rollback: nothing to store) and recording that it is finished with an op record in
 * RMQ_SYS_TRANS_OP_HALF_TOPIC (body "<halfQueueOffset>,", tag d). Finished halves are remembered,
 * rebuilt from the op records at start-up, so a transaction is committed once only, across restarts.
 */
@Injectable()
export class TransactionalMessageService {
  private readonly log = createLogger('broker.transaction');
  /** Half queue offsets (queue 0) whose transaction is finished. */
  private readonly finished = new Set<number>();

  constructor(
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly state: BrokerState,
  ) {}

  /** Reads every op record back (after the store recovered). */
  async load(): Promise<number> {
    let offset = this.store.getMinOffsetInQueue(OP, 0);
    const max = this.store.getMaxOffsetInQueue(OP, 0);
    while (offset < max) {
      const r = await this.store.getMessage('CID_RMQ_SYS_TRANS', OP, 0, offset, 64);
      if (r.messageBuffers.length === 0) {
        if (r.nextBeginOffset <= offset) break;
        offset = r.nextBeginOffset;
        continue;
      }
      for (const b of r.messageBuffers) this.noteOp(decodeMessageRecord(b));
      offset = r.nextBeginOffset;
    }
    if (this.finished.size > 0) this.log.info(`transactions: ${this.finished.size} finished half messages read from ${OP}`);
    return this.finished.size;
  }

  private noteOp(m: DecodedMessage): void {
    if (m.properties.get(MessageConst.PROPERTY_TAGS) !== OP_TAG) return;
    for (const part of m.body.toString('latin1').split(',')) {
      const n = Number(part);
      if (part !== '' && Number.isInteger(n)) this.finished.add(n);
    }
  }

  isFinished(halfQueueOffset: number): boolean {
    return this.finished.has(halfQueueOffset);
  }

  /** The half message stored at `commitLogOffset`, if it is one. */
  async lookHalf(commitLogOffset: number): Promise<DecodedMessage | undefined> {
    const m = await this.store.lookMessageByOffset(commitLogOffset);
    return m !== undefined && m.topic === HALF ? m : undefined;
  }

  /** COMMIT: the real message goes to its topic and queue (once), then the op record. */
  async commit(half: DecodedMessage): Promise<PutMessageResult> {
    const props = new Map(half.properties);
    const topic = props.get(MessageConst.PROPERTY_REAL_TOPIC) ?? '';
    const queueId = Number(props.get(MessageConst.PROPERTY_REAL_QUEUE_ID) ?? '0');
    props.delete(MessageConst.PROPERTY_REAL_TOPIC);
    props.delete(MessageConst.PROPERTY_REAL_QUEUE_ID);
    props.delete(MessageConst.PROPERTY_TRANSACTION_PREPARED);
    const r = await this.store.putMessage({
      topic,
      queueId,
      body: half.body,
      flag: half.flag,
      propertiesString: encodeProperties(props),
      sysFlag: half.sysFlag | 0x8, // TRANSACTION_COMMIT_TYPE
      bornTimestamp: half.bornTimestamp,
      bornHost: half.bornHost,
      reconsumeTimes: half.reconsumeTimes,
      preparedTransactionOffset: half.commitLogOffset,
      waitStoreMsgOK: false,
    });
    if (isStored(r.status)) await this.finish(half);
    return r;
  }

  /** ROLLBACK (or a commit done): the op record that finishes the half message. */
  async finish(half: DecodedMessage): Promise<void> {
    const offset = half.queueOffset;
    this.finished.add(offset);
    const r = await this.store.putMessage({
      topic: OP,
      queueId: half.queueId,
      body: Buffer.from(`${offset},`, 'latin1'),
      propertiesString: encodeProperties(new Map([[MessageConst.PROPERTY_TAGS, OP_TAG]])),
      bornHost: this.state.storeHost,
      waitStoreMsgOK: false,
    });
    if (r.status !== PutMessageStatus.PUT_OK) this.log.warn(`op record for half offset ${offset} not stored: ${r.status}`);
  }
}
