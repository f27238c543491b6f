import { MessageConst, MessageSysFlag, type Message } from '@rocketmq-ts/common';
import { decodeOffsetMsgId } from '@rocketmq-ts/protocol';
import type { EndTransactionRequest, SendResult } from '../api.js';
import { withDefaults } from '../config.js';
import { illegalArgument } from '../errors.js';
import type { TransactionCheckMessage, TransactionCheckRequest } from '../types.js';
import { Producer, type ProducerOptions } from './producer.js';

/** What a local transaction came to. UNKNOWN leaves the half message to the broker's check-back. */
export const TransactionState = {
  COMMIT: 'COMMIT',
  ROLLBACK: 'ROLLBACK',
  UNKNOWN: 'UNKNOWN',
} as const;
export type TransactionState = (typeof TransactionState)[keyof typeof TransactionState];

/** Runs the local transaction after the half message was stored. */
export type LocalTransactionExecutor<A = unknown> = (msg: Message, sendResult: SendResult, arg: A | undefined) => TransactionState | Promise<TransactionState>;

/** Answers a broker's check-back: what became of the transaction of this half message? */
export type TransactionChecker = (msg: TransactionCheckMessage) => TransactionState | Promise<TransactionState>;

export interface TransactionProducerOptions extends ProducerOptions {
  /** Called for each check-back (a half message whose outcome the broker has not heard). */
  checker: TransactionChecker;
  /** Check-backs run at once; the rest wait in line (RocketMQ runs them on one thread). */
  checkConcurrency?: number;
  /** Check-backs that may wait in line; more are dropped (the broker asks again later). */
  checkRequestHoldMax?: number;
}

export const TRANSACTION_PRODUCER_DEFAULTS = {
  checkConcurrency: 1,
  checkRequestHoldMax: 2_000,
} as const;

/** A send in a transaction: the half message's SendResult, its transaction id and the local outcome. */
export interface TransactionSendResult extends SendResult {
  transactionId: string;
  localTransactionState: TransactionState;
}

/** END_TRANSACTION's commitOrRollback: the sysFlag transaction type of the verdict (0 = unknown). */
const COMMIT_OR_ROLLBACK: Record<TransactionState, number> = {
  COMMIT: MessageSysFlag.TRANSACTION_COMMIT_TYPE,
  ROLLBACK: MessageSysFlag.TRANSACTION_ROLLBACK_TYPE,
  UNKNOWN: MessageSysFlag.TRANSACTION_NOT_TYPE,
};

/** How long shutdown waits for running check-backs to send their answers (ms). */
const SHUTDOWN_CHECK_GRACE_MS = 3_000;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A producer of transactional messages, on the wire like RocketMQ's TransactionMQProducer: the
 * message is first stored as an invisible half message, the local transaction runs, and
 * END_TRANSACTION tells the broker to commit (deliver) or roll back (drop). When that verdict is
 * UNKNOWN or gets lost, the broker later asks a producer of the same group through the checker.
 */
export class TransactionProducer extends Producer {
  private readonly checker: TransactionChecker;
  private readonly checkConcurrency: number;
  private readonly checkRequestHoldMax: number;
  private readonly checkQueue: TransactionCheckRequest[] = [];
  private readonly checksRunning = new Set<Promise<void>>();
  private closing = false;

  constructor(options: TransactionProducerOptions) {
    const { checker, checkConcurrency, checkRequestHoldMax, ...producerOptions } = options;
    super(producerOptions);
    if (typeof checker !== 'function') throw illegalArgument('a TransactionProducer needs a checker function');
    this.checker = checker;
    const o = withDefaults(TRANSACTION_PRODUCER_DEFAULTS, { checkConcurrency, checkRequestHoldMax });
    if (!(o.checkConcurrency >= 1)) throw illegalArgument(`checkConcurrency must be at least 1, got ${o.checkConcurrency}`);
    this.checkConcurrency = o.checkConcurrency;
    this.checkRequestHoldMax = o.checkRequestHoldMax;
  }

  /**
   * Starts like a Producer and also reads the route of the auto-creation template topic once, as
   * RocketMQ's producer does: the brokers in it (those that auto-create topics) learn of this
   * producer by heartbeat, so a producer restarted after a crash gets their check-backs before
   * it sends anything. Other brokers learn of it on its first send to one of their topics.
   */
  override async start(): Promise<void> {
    const wasRunning = this.isRunning;
    await super.start();
    if (wasRunning) return;
    try {
      await this.clientInstance.updateTopicRouteFromNameServer(this.createTopicKey);
    } catch (e) {
      this.log.warn('route.update.failed', 'could not read the route of the topic template', { topic: this.createTopicKey }, e);
    }
  }

  /**
   * Sends `msg` as a half message (synchronously, with the usual retries), runs `executor` if it
   * was stored (SEND_OK), then sends the verdict (END_TRANSACTION, oneway) to the broker that
   * holds the half. A store warning (FLUSH_*_TIMEOUT, SLAVE_NOT_AVAILABLE) rolls back without
   * running the executor; an executor that throws or rejects counts as UNKNOWN. A failed send
   * throws, and nothing was stored.
   */
  async sendInTransaction<A = unknown>(msg: Message, executor: LocalTransactionExecutor<A>, arg?: A): Promise<TransactionSendResult> {
    this.ensureRunning();
    if (Array.isArray(msg)) throw illegalArgument('batch messages can not be sent in a transaction');
    if (typeof executor !== 'function') throw illegalArgument('sendInTransaction needs an executor function');
    // A half message is never delayed; the broker decides when it is checked.
    msg.clearProperty(MessageConst.PROPERTY_DELAY_TIME_LEVEL);
    msg.putProperty(MessageConst.PROPERTY_TRANSACTION_PREPARED, 'true');
    msg.putProperty(MessageConst.PROPERTY_PRODUCER_GROUP, this.group);
    const sent = await this.send(msg);

    const transactionId = sent.transactionId ?? msg.getUniqKey() ?? sent.msgId;
    let state: TransactionState = TransactionState.ROLLBACK;
    let failure: string | undefined;
    if (sent.sendStatus === 'SEND_OK') {
      if (sent.transactionId !== undefined) msg.putProperty(MessageConst.PROPERTY_TRANSACTION_ID, sent.transactionId);
      msg.transactionId = msg.getUniqKey() ?? transactionId;
      try {
        state = this.asState(await executor(msg, sent, arg), 'executor');
      } catch (e) {
        failure = errorText(e);
        state = TransactionState.UNKNOWN;
        this.log.warn(
          'transaction.execute.failed',
          'the local transaction failed; its outcome is left to the check-back',
          { topic: msg.topic, transactionId },
          e,
        );
      }
    } else {
      this.log.info('transaction.rollback.notStored', `half message answered ${sent.sendStatus}: rolled back without running the local transaction`, {
        topic: msg.topic,
        transactionId,
      });
    }

    try {
      await this.endTransaction(msg, sent, transactionId, state, failure);
    } catch (e) {
      // The broker will check this half later and ask the checker instead.
      this.log.warn('transaction.end.failed', `local transaction is ${state} but END_TRANSACTION could not be sent`, { topic: msg.topic, transactionId }, e);
    }
    return { ...sent, transactionId, localTransactionState: state };
  }

  /** Stops taking check-backs (queued ones are dropped: the broker asks again) and shuts down. */
  override async shutdown(): Promise<void> {
    this.closing = true;
    this.checkQueue.length = 0;
    if (this.checksRunning.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => (timer = setTimeout(r, SHUTDOWN_CHECK_GRACE_MS)));
      await Promise.race([Promise.allSettled([...this.checksRunning]), grace]);
      clearTimeout(timer);
    }
    await super.shutdown();
  }

  // ------------------------------------------------------------------ check-back

  /** @internal The client core hands over a check-back; it is answered later, off the I/O path. */
  checkTransactionState(req: TransactionCheckRequest): void {
    if (!this.isRunning || this.closing) return;
    if (this.checkQueue.length >= this.checkRequestHoldMax) {
      this.log.warn('transaction.check.dropped', 'too many check-backs waiting; dropped one (the broker asks again)', {
        transactionId: req.header.transactionId,
        waiting: this.checkQueue.length,
      });
      return;
    }
    this.checkQueue.push(req);
    this.pumpChecks();
  }

  private pumpChecks(): void {
    while (this.checksRunning.size < this.checkConcurrency && this.checkQueue.length > 0) {
      const req = this.checkQueue.shift()!;
      // setImmediate: the checker starts after the socket's pending frames are dispatched.
      const p: Promise<void> = new Promise<void>((r) => setImmediate(r))
        .then(() => this.runCheck(req))
        .finally(() => {
          this.checksRunning.delete(p);
          this.pumpChecks();
        });
      this.checksRunning.add(p);
    }
  }

  private async runCheck(req: TransactionCheckRequest): Promise<void> {
    const { header: h, message: m, conn } = req;
    let state: TransactionState = TransactionState.UNKNOWN;
    let failure: string | undefined;
    try {
      state = this.asState(await this.checker(m), 'checker');
    } catch (e) {
      failure = errorText(e);
      this.log.warn('transaction.check.failed', 'the transaction checker failed; answering UNKNOWN', { topic: m.topic, transactionId: m.transactionId }, e);
    }
    const header: EndTransactionRequest = {
      topic: h.topic,
      producerGroup: this.group,
      tranStateTableOffset: h.tranStateTableOffset,
      commitLogOffset: h.commitLogOffset,
      commitOrRollback: COMMIT_OR_ROLLBACK[state],
      fromTransactionCheck: true,
      msgId: m.msgId,
      transactionId: h.transactionId !== undefined && h.transactionId !== '' ? h.transactionId : m.transactionId,
      bname: h.bname,
    };
    try {
      await this.clientInstance.api.endTransactionOneway(conn, header, failure);
      this.log.debug('transaction.check.answered', `check-back answered ${state}`, {
        topic: m.topic,
        transactionId: header.transactionId,
        broker: conn.remoteAddress,
      });
    } catch (e) {
      this.log.warn(
        'transaction.check.answerFailed',
        `could not answer a check-back (${state})`,
        { transactionId: header.transactionId, broker: conn.remoteAddress },
        e,
      );
    }
  }

  // ------------------------------------------------------------------ internals

  private async endTransaction(msg: Message, sent: SendResult, transactionId: string, state: TransactionState, failure: string | undefined): Promise<void> {
    const offsetId = decodeOffsetMsgId(sent.offsetMsgId);
    if (offsetId === undefined) throw new Error(`the broker's message id ${sent.offsetMsgId} is not an offset message id`);
    const brokerName = sent.messageQueue.brokerName;
    const addr = this.clientInstance.findBrokerAddressInPublish(brokerName) ?? `${offsetId.address}:${offsetId.port}`;
    await this.clientInstance.api.endTransactionOneway(
      addr,
      {
        topic: msg.topic,
        producerGroup: this.group,
        tranStateTableOffset: sent.queueOffset,
        commitLogOffset: offsetId.commitLogOffset,
        commitOrRollback: COMMIT_OR_ROLLBACK[state],
        fromTransactionCheck: false,
        msgId: sent.msgId,
        transactionId,
        bname: brokerName,
      },
      failure,
    );
  }

  /** A returned state; anything else (undefined from plain JS, a typo) is UNKNOWN, with a warning. */
  private asState(v: unknown, who: 'executor' | 'checker'): TransactionState {
    if (v === TransactionState.COMMIT || v === TransactionState.ROLLBACK || v === TransactionState.UNKNOWN) return v;
    this.log.warn('transaction.state.invalid', `the ${who} returned ${String(v)}, not COMMIT, ROLLBACK or UNKNOWN; taken as UNKNOWN`);
    return TransactionState.UNKNOWN;
  }
}
