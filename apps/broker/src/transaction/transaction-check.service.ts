import { Inject, Injectable } from '@nestjs/common';
import { MessageConst, TopicValidator } from '@rocketmq-ts/common';
import {
  CheckTransactionStateRequestHeader,
  PermName,
  RemotingCommand,
  RequestCode,
  createOffsetMsgId,
  decodeProperties,
  encodeMessageRecordToBuffer,
  encodeProperties,
  type DecodedMessage,
} from '@rocketmq-ts/protocol';
import { createLogger } from '@rocketmq-ts/remoting';
import { PutMessageStatus, type MessageStore } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import { ProducerManager } from '../client/producer-manager.js';
import type { BrokerConfig } from '../config.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { HALF_TOPIC, TransactionalMessageService, type OpenHalf } from './transactional-message.service.js';

/** How long one check run may take before it yields to the next interval (RocketMQ: 60 s per queue). */
const MAX_RUN_MS = 60_000;

/**
 * Asks producers about transactions that have waited too long (RocketMQ's transaction check, master
 * only). Every `transactionCheckInterval` ms, each open transaction older than `transactionTimeOut`
 * (or its CHECK_IMMUNITY_TIME_IN_SECONDS) gets its half message re-appended with
 * TRANSACTION_CHECK_TIMES + 1 and a CHECK_TRANSACTION_STATE (oneway, body = the message as the
 * producer sent it) to one live producer of its group, which answers with END_TRANSACTION naming the
 * copy. After `transactionCheckMax` checks, or once older than the store's fileReservedTime, the
 * half goes to TRANS_CHECK_MAX_TIME_TOPIC and is not checked again.
 */
@Injectable()
export class TransactionCheckService {
  private readonly log = createLogger('broker.transaction.check');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly state: BrokerState,
    private readonly tx: TransactionalMessageService,
    private readonly producers: ProducerManager,
    private readonly topics: TopicConfigManager,
    private readonly metrics: BrokerMetrics,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
    this.log.info(
      `transaction check started: every ${this.config.transactionCheckInterval} ms, after ${this.config.transactionTimeOut} ms, at most ${this.config.transactionCheckMax} times`,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Read at every turn: UPDATE_BROKER_CONFIG changes the interval at once. */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.running = this.runOnce()
          .catch((e: unknown) => this.log.error(`transaction check failed: ${String(e)}`))
          .finally(() => {
            this.running = undefined;
            this.schedule();
          });
      },
      Math.max(10, this.config.transactionCheckInterval),
    );
    this.timer.unref();
  }

  /** Window in which a finished transaction's id is kept to recognise answers about its other copies. */
  private keepFinishedMs(): number {
    const c = this.config;
    return c.transactionCheckMax * c.transactionCheckInterval + c.transactionTimeOut + 3_600_000;
  }

  /** One pass over the open transactions; returns how many were checked and discarded. */
  async runOnce(now = Date.now()): Promise<{ checked: number; discarded: number }> {
    let checked = 0;
    let discarded = 0;
    if (!this.state.isMaster || this.state.state !== 'running') return { checked, discarded };
    const c = this.config;
    const reservedMs = c.store.fileReservedTime * 3_600_000;
    const t0 = Date.now();
    for (const e of [...this.tx.open.values()]) {
      if (this.stopped || Date.now() - t0 > MAX_RUN_MS) break;
      if (this.tx.open.get(e.transactionId) !== e) continue;
      // Copies made by this run are not checked again in it.
      if (e.storeTimestamp >= now) continue;
      const age = now - e.bornTimestamp;
      if (e.checkTimes >= c.transactionCheckMax || age > reservedMs) {
        if (await this.discard(e)) discarded++;
        continue;
      }
      const wait = e.immunityMs ?? c.transactionTimeOut;
      // A born time in the future (a skewed producer clock) is checked at once, as RocketMQ does.
      if (age >= 0 && age <= wait) continue;
      if (await this.check(e)) checked++;
    }
    this.tx.commitProgress(this.keepFinishedMs());
    if (checked + discarded > 0) this.log.info(`transaction check: ${checked} checked, ${discarded} discarded, ${this.tx.open.size} open`);
    return { checked, discarded };
  }

  /** Re-appends the half with one more check counted and asks a producer of its group. */
  private check(e: OpenHalf): Promise<boolean> {
    return this.tx.serialized(e.transactionId, async () => {
      if (this.tx.open.get(e.transactionId) !== e) return false;
      const half = await this.tx.lookHalf(e.commitLogOffset);
      if (half === undefined) {
        this.log.warn(`half message of transaction ${e.transactionId} at ${e.commitLogOffset} is gone; not checked`);
        this.tx.discarded(e);
        return false;
      }
      const props = decodeProperties(half.propertiesString);
      props.set(MessageConst.PROPERTY_TRANSACTION_CHECK_TIMES, String(e.checkTimes + 1));
      const propertiesString = encodeProperties(props);
      const r = await this.store.putMessage({
        topic: HALF_TOPIC,
        queueId: half.queueId,
        body: half.body,
        flag: half.flag,
        propertiesString,
        sysFlag: half.sysFlag,
        bornTimestamp: half.bornTimestamp,
        bornHost: half.bornHost,
        reconsumeTimes: half.reconsumeTimes,
        waitStoreMsgOK: false,
      });
      const a = r.appendResult;
      if (r.status !== PutMessageStatus.PUT_OK || a === undefined) {
        this.log.warn(`cannot re-append half message of transaction ${e.transactionId} for a check: ${r.status}`);
        return false;
      }
      this.tx.copied(e, a);
      this.metrics.transactionChecked(e.topic);
      this.sendCheck(e, half, props, propertiesString);
      return true;
    });
  }

  /** CHECK_TRANSACTION_STATE to one live producer of the group, naming the new copy. */
  private sendCheck(e: OpenHalf, half: DecodedMessage, props: Map<string, string>, propertiesString: string): void {
    const ch = this.producers.availableChannel(e.producerGroup);
    if (ch === undefined) {
      this.log.warn(`no producer of group ${e.producerGroup} online to check transaction ${e.transactionId} (check ${e.checkTimes})`);
      return;
    }
    const storeHost = this.state.storeHost;
    const offsetMsgId = createOffsetMsgId(storeHost, e.commitLogOffset);
    const header = CheckTransactionStateRequestHeader.encode({
      topic: HALF_TOPIC,
      tranStateTableOffset: e.queueOffset,
      commitLogOffset: e.commitLogOffset,
      msgId: props.get(MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) ?? offsetMsgId,
      transactionId: e.transactionId,
      offsetMsgId,
      bname: this.config.brokerName,
    });
    // The body is the message as the producer knows it: its real topic and queue.
    const body = encodeMessageRecordToBuffer({
      topic: e.topic,
      queueId: e.queueId,
      flag: half.flag,
      queueOffset: e.queueOffset,
      physicalOffset: e.commitLogOffset,
      sysFlag: half.sysFlag,
      bornTimestamp: half.bornTimestamp,
      bornHost: half.bornHost,
      storeTimestamp: e.storeTimestamp,
      storeHost,
      reconsumeTimes: half.reconsumeTimes,
      preparedTransactionOffset: 0,
      body: half.body,
      properties: propertiesString,
    });
    const cmd = RemotingCommand.request(RequestCode.CHECK_TRANSACTION_STATE, header, body);
    if (!ch.invokeOneway(cmd)) this.log.warn(`check of transaction ${e.transactionId} not sent: connection ${ch.remoteAddress} closed`);
  }

  /** Gives up on a transaction: its half goes to TRANS_CHECK_MAX_TIME_TOPIC, as in RocketMQ. */
  private discard(e: OpenHalf): Promise<boolean> {
    return this.tx.serialized(e.transactionId, async () => {
      if (this.tx.open.get(e.transactionId) !== e) return false;
      const half = await this.tx.lookHalf(e.commitLogOffset);
      this.tx.discarded(e);
      if (half === undefined) return false;
      const topic = TopicValidator.RMQ_SYS_TRANS_CHECK_MAX_TIME_TOPIC;
      this.topics.createIfMissing(topic, 1, PermName.PERM_READ | PermName.PERM_WRITE);
      if (this.topics.persistPending) await this.topics.whenPersisted();
      const r = await this.store.putMessage({
        topic,
        queueId: 0,
        body: half.body,
        flag: half.flag,
        propertiesString: half.propertiesString,
        sysFlag: half.sysFlag,
        bornTimestamp: half.bornTimestamp,
        bornHost: half.bornHost,
        reconsumeTimes: half.reconsumeTimes,
        waitStoreMsgOK: false,
      });
      if (r.status !== PutMessageStatus.PUT_OK) this.log.warn(`discarded half of transaction ${e.transactionId} not stored in ${topic}: ${r.status}`);
      this.log.warn(`transaction ${e.transactionId} (topic ${e.topic}, group ${e.producerGroup}) discarded after ${e.checkTimes} checks`);
      this.metrics.transactionDiscarded(e.topic);
      return true;
    });
  }
}
