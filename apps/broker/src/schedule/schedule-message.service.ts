import { MessageConst } from '@rocketmq-ts/common';
import {
  decodeMessageRecord,
  jsonEntries,
  parseLenientJson,
  readDataVersion,
  stringifyFastjson,
  TopicValidator,
  type DataVersion,
  type JsonValue,
} from '@rocketmq-ts/protocol';
import { ConfigFileManager, PutMessageStatus } from '@rocketmq-ts/store';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { createLogger } from '@rocketmq-ts/remoting';
import type { MessageStore } from '@rocketmq-ts/store';
import { BrokerState } from '../broker-state.js';
import type { BrokerConfig } from '../config.js';
import { RePutService } from '../message/reput.service.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { BROKER_CONFIG, MESSAGE_STORE } from '../tokens.js';

const SCHEDULE_TOPIC = TopicValidator.RMQ_SYS_SCHEDULE_TOPIC;
const GROUP = 'SCHEDULE_MESSAGE_SERVICE';
const BATCH = 32;
/** Longest sleep of an idle level; new messages wake it sooner. */
const IDLE_MS = 1_000;
const RETRY_MS = 1_000;

/**
 * Delivers delayed messages. A message with DELAY=level is stored in SCHEDULE_TOPIC_XXXX queue
 * level-1 (by the send path); within one level delivery times only grow, so each level is a FIFO
 * whose head is always the next one due. One timer per level sleeps until its head is due, then
 * re-puts the message under its real topic and queue. Progress per level is kept in
 * delayOffset.json (`{"offsetTable":{1:0,...}}`), so delivery resumes on time after a restart.
 */
@Injectable()
export class ScheduleMessageService {
  private readonly log = createLogger('broker.schedule');
  readonly offsets = new Map<number, number>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly busy = new Set<number>();
  private readonly file: ConfigFileManager;
  private persistTimer: NodeJS.Timeout | null = null;
  private running = false;
  private dirty = false;
  dataVersion: DataVersion = { stateVersion: 0, timestamp: Date.now(), counter: 0 };

  constructor(
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    @Inject(MESSAGE_STORE) private readonly store: MessageStore,
    private readonly state: BrokerState,
    private readonly reput: RePutService,
    private readonly metrics: BrokerMetrics,
  ) {
    this.file = new ConfigFileManager(join(config.store.storePathRootDir, 'config', 'delayOffset.json'));
  }

  get levels(): number {
    return this.state.delayLevels.length;
  }

  async load(): Promise<number> {
    const loaded = await this.file.load((t) => parseLenientJson(t) as Record<string, JsonValue>);
    if (!loaded) return 0;
    for (const [k, v] of jsonEntries(loaded['offsetTable'])) if (typeof v === 'number') this.offsets.set(Number(k), v);
    if (loaded['dataVersion']) this.dataVersion = readDataVersion(loaded['dataVersion']);
    return this.offsets.size;
  }

  /** A slave takes the master's delay offsets (GET_ALL_DELAY_OFFSET body, delayOffset.json's text). */
  async replaceFromMaster(body: string): Promise<void> {
    const o = parseLenientJson(body) as Record<string, JsonValue>;
    this.offsets.clear();
    for (const [k, v] of jsonEntries(o['offsetTable'] ?? null)) if (typeof v === 'number') this.offsets.set(Number(k), v);
    if (o['dataVersion']) this.dataVersion = readDataVersion(o['dataVersion']);
    this.dirty = true;
    await this.persist();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let level = 1; level <= this.levels; level++) this.arm(level, 0);
    this.store.onDispatch((e) => {
      if (e.topic === SCHEDULE_TOPIC && this.running) this.wakeIfIdle(e.queueId + 1, e.tagsCode);
    });
    this.persistTimer = setInterval(
      () => void this.persist().catch((e: unknown) => this.log.warn(`cannot persist delay offsets: ${String(e)}`)),
      this.config.flushDelayOffsetInterval,
    );
    this.persistTimer.unref();
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    if (this.persistTimer) clearInterval(this.persistTimer);
    this.persistTimer = null;
  }

  /** Deliver time of a message stored now at `level` (what the store puts in the tags code). */
  deliverTime(storeTimestamp: number, level: number): number {
    return storeTimestamp + (this.state.delayLevels[level - 1] ?? 0);
  }

  private arm(level: number, delayMs: number): void {
    const old = this.timers.get(level);
    if (old) clearTimeout(old);
    const t = setTimeout(
      () => {
        this.timers.delete(level);
        void this.run(level);
      },
      Math.max(0, delayMs),
    );
    t.unref();
    this.timers.set(level, t);
    this.nextDue.set(level, Date.now() + delayMs);
  }

  private readonly nextDue = new Map<number, number>();

  private wakeIfIdle(level: number, deliverAt: number): void {
    const due = this.nextDue.get(level) ?? Infinity;
    if (deliverAt < due && !this.busy.has(level)) this.arm(level, deliverAt - Date.now());
  }

  private async run(level: number): Promise<void> {
    if (!this.running || this.busy.has(level)) return;
    this.busy.add(level);
    try {
      const next = await this.deliverDue(level);
      if (this.running) this.arm(level, next);
    } catch (e) {
      this.log.warn(`delay level ${level}: ${(e as Error).message}; retrying in ${RETRY_MS} ms`);
      if (this.running) this.arm(level, RETRY_MS);
    } finally {
      this.busy.delete(level);
    }
  }

  /** Re-puts every due message of a level; returns ms until the next check. */
  private async deliverDue(level: number): Promise<number> {
    const store = this.store;
    const queueId = level - 1;
    for (;;) {
      let offset = this.offsets.get(level) ?? 0;
      const min = store.getMinOffsetInQueue(SCHEDULE_TOPIC, queueId);
      if (offset < min) offset = min;
      const max = store.getMaxOffsetInQueue(SCHEDULE_TOPIC, queueId);
      if (offset >= max) return IDLE_MS;
      const res = await store.getMessage(GROUP, SCHEDULE_TOPIC, queueId, offset, BATCH);
      if (res.messageBuffers.length === 0) {
        this.setOffset(level, Math.max(offset, res.nextBeginOffset));
        if (res.nextBeginOffset <= offset) return IDLE_MS;
        continue;
      }
      for (let i = 0; i < res.messageBuffers.length; i++) {
        const m = decodeMessageRecord(res.messageBuffers[i]!);
        const due = this.deliverTime(m.storeTimestamp, level);
        const now = Date.now();
        if (due > now) return Math.min(due - now, IDLE_MS);
        const props = new Map(m.properties);
        const realTopic = props.get(MessageConst.PROPERTY_REAL_TOPIC);
        const realQid = Number(props.get(MessageConst.PROPERTY_REAL_QUEUE_ID));
        // REAL_TOPIC / REAL_QID stay on the delivered message, as RocketMQ keeps them.
        props.delete(MessageConst.PROPERTY_DELAY_TIME_LEVEL);
        props.set(MessageConst.PROPERTY_WAIT_STORE_MSG_OK, 'false');
        if (realTopic !== undefined && Number.isInteger(realQid)) {
          const put = await this.reput.rePut(m, realTopic, realQid, props, m.reconsumeTimes);
          if (put.status !== PutMessageStatus.PUT_OK) throw new Error(`re-put to ${realTopic} failed: ${put.status}`);
          this.metrics.messagesIn(realTopic, 1, m.body.length);
        }
        this.setOffset(level, (res.messageQueueOffsets[i] ?? offset + i) + 1);
      }
    }
  }

  private setOffset(level: number, offset: number): void {
    if (this.offsets.get(level) !== offset) {
      this.offsets.set(level, offset);
      this.dirty = true;
    }
  }

  toJson(): string {
    const sorted = new Map([...this.offsets].sort((a, b) => a[0] - b[0]));
    return stringifyFastjson({ offsetTable: sorted, dataVersion: this.dataVersion });
  }

  async persist(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    this.dataVersion = { stateVersion: 0, timestamp: Date.now(), counter: this.dataVersion.counter + 1 };
    try {
      await this.file.persist(this.toJson());
    } catch (e) {
      this.dirty = true;
      throw e;
    }
  }
}
