import { Inject, Injectable } from '@nestjs/common';
import { MessageConst } from '@rocketmq-ts/common';
import { EndTransactionRequestHeader, findProperty, RemotingCommand, RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import { RemotingHandler } from '@rocketmq-ts/remoting/nest';
import { BrokerState } from '../broker-state.js';
import type { BrokerConfig } from '../config.js';
import { BROKER_CONFIG } from '../tokens.js';
import { TransactionalMessageService, isStored } from '../transaction/transactional-message.service.js';
import { putStatusReply } from './send.processor.js';

const COMMIT = 8;
const ROLLBACK = 12;

/** END_TRANSACTION: the producer's verdict on a half message (commit, rollback, or unknown = no-op). */
@Injectable()
export class EndTransactionProcessor {
  private readonly log = createLogger('broker.transaction');
  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly state: BrokerState,
    private readonly tx: TransactionalMessageService,
  ) {}

  @RemotingHandler(RequestCode.END_TRANSACTION)
  async endTransaction(req: RemotingCommand): Promise<RemotingCommand | null> {
    const fail = (code: number, remark: string): RemotingCommand => RemotingCommand.responseTo(req, code, remark);
    if (!this.state.isMaster) return fail(ResponseCode.SLAVE_NOT_AVAILABLE, `the broker[${this.config.brokerName}] is a slave; end transactions on its master`);
    const h = EndTransactionRequestHeader.decode(req.extFields);
    // UNKNOWN (0) and anything else: nothing to do, and RocketMQ answers nothing. The producer's
    // remark (its exception text) says why; operators want to see it.
    if (h.commitOrRollback !== COMMIT && h.commitOrRollback !== ROLLBACK) {
      if (h.fromTransactionCheck === true && req.remark) this.log.info(`check of transaction ${h.transactionId ?? h.msgId} answered UNKNOWN: ${req.remark}`);
      return null;
    }
    const half = await this.tx.lookHalf(h.commitLogOffset);
    if (half === undefined) return fail(ResponseCode.SYSTEM_ERROR, 'Find prepared transaction message failed');
    if (findProperty(half.propertiesString, MessageConst.PROPERTY_PRODUCER_GROUP) !== h.producerGroup) {
      return fail(ResponseCode.SYSTEM_ERROR, 'The producer group wrong');
    }
    if (half.queueOffset !== h.tranStateTableOffset) return fail(ResponseCode.SYSTEM_ERROR, 'The transaction state table offset wrong');
    if (half.commitLogOffset !== h.commitLogOffset) return fail(ResponseCode.SYSTEM_ERROR, 'The commit log offset wrong');
    // A transaction ends once: a repeated verdict (a retry, or a check answered after the first
    // phase) stores nothing again.
    // A producer that let the immunity time pass must wait for the broker's check instead.
    if (h.fromTransactionCheck !== true) {
      const immunity = findProperty(half.propertiesString, MessageConst.PROPERTY_CHECK_IMMUNITY_TIME_IN_SECONDS);
      if (immunity !== undefined) {
        const limit = Math.max(Number(immunity) * 1000 || 0, this.config.transactionTimeOut);
        if (Date.now() - half.bornTimestamp > limit) {
          return fail(ResponseCode.ILLEGAL_OPERATION, `the transaction ${h.transactionId ?? h.msgId} is past its check immunity time; wait for the check`);
        }
      }
    }
    // A transaction ends once: a repeated verdict (a retry, or the answer to a check of another
    // copy) stores nothing again.
    const r = await this.tx.end(half, h.commitOrRollback === COMMIT);
    if (r === 'already-finished' || r === 'rolled-back') return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null);
    // Stored with a flush or replica warning still counts as committed.
    if (isStored(r.status)) return RemotingCommand.responseTo(req, ResponseCode.SUCCESS, null);
    const [code, remark] = putStatusReply(r.status, this.config.store);
    return RemotingCommand.responseTo(req, code, remark);
  }
}
