import { Inject, Injectable } from '@nestjs/common';
import { RemotingCommand, RequestCode, ResponseCode } from '@rocketmq-ts/protocol';
import { RemotingClient, createLogger, errorText } from '@rocketmq-ts/remoting';
import { decodeTimerCheckpoint, type MessageStore } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import { BrokerOuterAPI } from '../namesrv/broker-outer-api.js';
import { ConsumerOffsetManager } from '../offset/consumer-offset-manager.js';
import { ScheduleMessageService } from '../schedule/schedule-message.service.js';
import { SubscriptionGroupManager } from '../subscription/subscription-group-manager.js';
import { TopicConfigManager } from '../topic/topic-config-manager.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';
import { brokerClientOptions } from '../acl/broker-acl.js';
import type { BrokerConfig } from '../config.js';

/** How often a slave copies the master's metadata (RocketMQ 5 checks every 3 s). */
const SYNC_INTERVAL_MS = 3_000;
const CALL_TIMEOUT_MS = 3_000;

/**
 * A slave's copy of its master's metadata (RocketMQ's SlaveSynchronize): topics, consumer offsets,
 * delay offsets and subscription groups, fetched from the master's remoting port on a timer. The
 * master's address comes from the name servers' answer to our registration.
 */
@Injectable()
export class SlaveSynchronize {
  private readonly log = createLogger('broker.slave-sync');
  private readonly client: RemotingClient;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastError = '';
  /** When the last complete sync finished (ms since epoch), 0 before the first. */
  lastSyncAt = 0;

  constructor(
    private readonly state: BrokerState,
    private readonly outer: BrokerOuterAPI,
    private readonly topics: TopicConfigManager,
    private readonly offsets: ConsumerOffsetManager,
    private readonly groups: SubscriptionGroupManager,
    private readonly schedule: ScheduleMessageService,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    @Inject(BROKER_CONFIG) config: BrokerConfig,
  ) {
    this.client = new RemotingClient(brokerClientOptions(config, 'slave-sync'));
  }

  start(): void {
    if (this.state.isMaster) return;
    this.timer ??= setInterval(() => void this.syncAll(), SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.client.close();
  }

  /** The master's remoting address, once a name server has told us. */
  get masterAddr(): string | undefined {
    const m = this.outer.masterAddr;
    return m === undefined || m === '' || m === this.state.brokerAddr ? undefined : m;
  }

  /** One round of all the copies (skipped while the previous one runs). */
  syncAll(): Promise<void> {
    this.running ??= this.doSync().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async doSync(): Promise<void> {
    const master = this.masterAddr;
    if (master === undefined) return;
    try {
      const topics = await this.fetch(master, RequestCode.GET_ALL_TOPIC_CONFIG);
      if (await this.topics.replaceFromMaster(topics)) this.log.info(`topics copied from the master ${master} (${this.topics.table.size})`);
      const offsets = await this.fetch(master, RequestCode.GET_ALL_CONSUMER_OFFSET);
      if (this.offsets.mergeFromMaster(offsets) > 0) await this.offsets.persist();
      await this.schedule.replaceFromMaster(await this.fetch(master, RequestCode.GET_ALL_DELAY_OFFSET));
      const groups = await this.fetch(master, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
      if (await this.groups.replaceFromMaster(groups)) this.log.info(`subscription groups copied from the master ${master} (${this.groups.table.size})`);
      // The timer: the master's read time and queue progress (a slave files timers, it never delivers them).
      const timer = this.store.timerMessageStore;
      if (timer !== undefined) timer.syncFromMaster(decodeTimerCheckpoint(await this.fetchBytes(master, RequestCode.GET_TIMER_CHECK_POINT)));
      this.lastSyncAt = Date.now();
      if (this.lastError !== '') this.log.info(`metadata sync with the master ${master} works again`);
      this.lastError = '';
    } catch (e) {
      const text = errorText(e);
      // One line per distinct failure, not one per tick while the master is down.
      if (text !== this.lastError) this.log.warn(`metadata sync with the master ${master} failed: ${text}`);
      this.lastError = text;
    }
  }

  private async fetch(addr: string, code: number): Promise<string> {
    return (await this.fetchBytes(addr, code)).toString('utf8') || '{}';
  }

  private async fetchBytes(addr: string, code: number): Promise<Buffer> {
    const req = RemotingCommand.request(code, null, null);
    const res = await this.client.invoke(addr, req, CALL_TIMEOUT_MS);
    if (res.code !== ResponseCode.SUCCESS) throw new Error(`request ${code} answered ${res.code}: ${res.remark ?? ''}`);
    return res.body ?? Buffer.alloc(0);
  }
}
