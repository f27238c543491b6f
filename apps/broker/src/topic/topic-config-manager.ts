import {
  MixAll,
  PermName,
  TopicValidator,
  jsonEntries,
  parseLenientJson,
  readDataVersion,
  reviveTopic,
  readTopicConfig,
  topicConfig,
  topicConfigSerializeWrapperToJson,
  type DataVersion,
  type TopicConfig,
  type TopicConfigSerializeWrapper,
} from '@rocketmq-ts/protocol';
import { ConfigFileManager } from '@rocketmq-ts/store';

export interface TopicConfigManagerOptions {
  file: string;
  clusterName: string;
  brokerName: string;
  autoCreateTopicEnable: boolean;
  defaultTopicQueueNums: number;
  clusterTopicEnable: boolean;
  brokerTopicEnable: boolean;
  traceTopicEnable: boolean;
  traceTopicName: string;
  /** Number of delay levels = queues of SCHEDULE_TOPIC_XXXX. */
  delayLevels: number;
  /** Queues of the POP revive topic rmq_sys_REVIVE_LOG_<cluster>. */
  reviveQueueNum?: number;
}

/** Why the table changed, so the broker can re-register with the name servers. */
export type TopicChangeListener = (topic: string, kind: 'create' | 'update' | 'delete') => void;

/**
 * The broker's topics: topics.json, the system topics every broker has, auto-creation from the
 * TBW102 template on send, retry and DLQ topics on send-back. Every change bumps the data version
 * the name server compares.
 */
export class TopicConfigManager {
  readonly table = new Map<string, TopicConfig>();
  dataVersion: DataVersion = { stateVersion: 0, timestamp: Date.now(), counter: 0 };
  private readonly file: ConfigFileManager;
  private readonly listeners: TopicChangeListener[] = [];
  private lastPersist: Promise<unknown> = Promise.resolve();
  /** dataVersion.counter of the newest change known to be in topics.json. */
  private persistedCounter = 0;

  constructor(private readonly opts: TopicConfigManagerOptions) {
    this.file = new ConfigFileManager(opts.file);
  }

  onChange(l: TopicChangeListener): void {
    this.listeners.push(l);
  }

  /** Loads topics.json (or its backup), then adds the system topics that are missing. */
  async load(): Promise<number> {
    const loaded = await this.file.load((text) => parseLenientJson(text) as Record<string, unknown>);
    if (loaded) {
      for (const [name, v] of jsonEntries(loaded['topicConfigTable'])) this.table.set(String(name), readTopicConfig(String(name), v));
      if (loaded['dataVersion']) this.dataVersion = readDataVersion(loaded['dataVersion'] as never);
    }
    this.ensureSystemTopics();
    this.persistedCounter = this.dataVersion.counter;
    return this.table.size;
  }

  private ensureSystemTopics(): void {
    const o = this.opts;
    const rw = PermName.PERM_READ | PermName.PERM_WRITE;
    const put = (t: TopicConfig): void => {
      if (!this.table.has(t.topicName)) this.table.set(t.topicName, t);
    };
    put(topicConfig(TopicValidator.RMQ_SYS_SELF_TEST_TOPIC, { readQueueNums: 1, writeQueueNums: 1 }));
    if (o.autoCreateTopicEnable) {
      put(
        topicConfig(TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC, {
          readQueueNums: o.defaultTopicQueueNums,
          writeQueueNums: o.defaultTopicQueueNums,
          perm: rw | PermName.PERM_INHERIT,
        }),
      );
    }
    put(topicConfig(o.clusterName, { perm: PermName.PERM_INHERIT | (o.clusterTopicEnable ? rw : 0) }));
    put(topicConfig(o.brokerName, { readQueueNums: 1, writeQueueNums: 1, perm: PermName.PERM_INHERIT | (o.brokerTopicEnable ? rw : 0) }));
    put(topicConfig(TopicValidator.RMQ_SYS_OFFSET_MOVED_EVENT, { readQueueNums: 1, writeQueueNums: 1 }));
    put(topicConfig(TopicValidator.RMQ_SYS_SCHEDULE_TOPIC, { readQueueNums: o.delayLevels, writeQueueNums: o.delayLevels }));
    if (o.traceTopicEnable) put(topicConfig(o.traceTopicName, { readQueueNums: 1, writeQueueNums: 1 }));
    put(topicConfig(`${o.clusterName}_REPLY_TOPIC`, { readQueueNums: 1, writeQueueNums: 1 }));
    put(topicConfig(TopicValidator.RMQ_SYS_TRANS_HALF_TOPIC, { readQueueNums: 1, writeQueueNums: 1 }));
    put(topicConfig(TopicValidator.RMQ_SYS_TRANS_OP_HALF_TOPIC, { readQueueNums: 1, writeQueueNums: 1 }));
    const revive = o.reviveQueueNum ?? 8;
    put(topicConfig(reviveTopic(o.clusterName), { readQueueNums: revive, writeQueueNums: revive }));
    // Timer messages wait in its queue 0 until the timer wheel delivers them (TimerMessageStore.TIMER_TOPIC).
    put(topicConfig(TopicValidator.RMQ_SYS_WHEEL_TIMER_TOPIC, { readQueueNums: 1, writeQueueNums: 1 }));
  }

  /**
   * A slave takes the master's table (GET_ALL_TOPIC_CONFIG body) when its data version differs:
   * topics the master no longer has go, the rest are replaced. Returns whether anything changed.
   */
  async replaceFromMaster(body: string): Promise<boolean> {
    const o = parseLenientJson(body) as Record<string, unknown>;
    const version = o['dataVersion'] ? readDataVersion(o['dataVersion'] as never) : undefined;
    if (version !== undefined && sameVersion(version, this.dataVersion)) return false;
    const next = new Map<string, TopicConfig>();
    for (const [name, v] of jsonEntries(o['topicConfigTable'] as never)) next.set(String(name), readTopicConfig(String(name), v));
    const gone = [...this.table.keys()].filter((t) => !next.has(t));
    this.table.clear();
    for (const [k, v] of next) this.table.set(k, v);
    this.ensureSystemTopics();
    if (version !== undefined) this.dataVersion = version;
    await this.persist();
    this.persistedCounter = this.dataVersion.counter;
    for (const t of gone) for (const l of this.listeners) l(t, 'delete');
    for (const t of next.keys()) for (const l of this.listeners) l(t, 'update');
    return true;
  }

  get(topic: string): TopicConfig | undefined {
    return this.table.get(topic);
  }

  /**
   * On send to an unknown topic: create it from the template when the template exists and may
   * be inherited, with min(client's default queue count, template's). Null when not allowed.
   */
  createOnSend(topic: string, defaultTopic: string, clientQueueNums: number, topicSysFlag: number): TopicConfig | null {
    const existing = this.table.get(topic);
    if (existing) return existing;
    const template = this.table.get(defaultTopic);
    if (!template) return null;
    if (defaultTopic === TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC && !this.opts.autoCreateTopicEnable) return null;
    if ((template.perm & PermName.PERM_INHERIT) === 0) return null;
    const queues = Math.max(1, Math.min(clientQueueNums > 0 ? clientQueueNums : template.writeQueueNums, template.writeQueueNums));
    const created = topicConfig(topic, { readQueueNums: queues, writeQueueNums: queues, perm: template.perm & ~PermName.PERM_INHERIT, topicSysFlag });
    this.put(created, 'create');
    return created;
  }

  /** Retry and DLQ topics, created on first send-back. */
  createIfMissing(topic: string, queueNums: number, perm: number, topicSysFlag = 0): TopicConfig {
    const existing = this.table.get(topic);
    if (existing) return existing;
    const created = topicConfig(topic, { readQueueNums: queueNums, writeQueueNums: queueNums, perm, topicSysFlag });
    this.put(created, 'create');
    return created;
  }

  update(t: TopicConfig): void {
    this.put(t, this.table.has(t.topicName) ? 'update' : 'create');
  }

  delete(topic: string): boolean {
    if (!this.table.delete(topic)) return false;
    this.changed(topic, 'delete');
    return true;
  }

  private put(t: TopicConfig, kind: 'create' | 'update'): void {
    this.table.set(t.topicName, t);
    this.changed(t.topicName, kind);
  }

  private changed(topic: string, kind: 'create' | 'update' | 'delete'): void {
    this.dataVersion = { stateVersion: this.dataVersion.stateVersion, timestamp: Date.now(), counter: this.dataVersion.counter + 1 };
    const v = this.dataVersion.counter;
    this.lastPersist = this.persist().then(
      () => {
        if (v > this.persistedCounter) this.persistedCounter = v;
      },
      () => undefined,
    );
    for (const l of this.listeners) l(topic, kind);
  }

  /** The JSON RocketMQ writes to topics.json (also the GET_ALL_TOPIC_CONFIG body). */
  toJson(): string {
    return topicConfigSerializeWrapperToJson(this.wrapper());
  }

  wrapper(): TopicConfigSerializeWrapper {
    return { topicConfigTable: this.table, dataVersion: this.dataVersion };
  }

  persist(): Promise<void> {
    // Serialised when the write starts: changes in a burst share one write.
    return this.file.persist(() => this.toJson());
  }

  /** True while a change (a topic created, updated, deleted) is not in topics.json yet. */
  get persistPending(): boolean {
    return this.persistedCounter < this.dataVersion.counter;
  }

  /** Resolves once the latest change is on disk (admin replies wait for it, as RocketMQ's do). */
  whenPersisted(): Promise<unknown> {
    return this.lastPersist;
  }

  isRetryOrDlq(topic: string): boolean {
    return topic.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX) || topic.startsWith(MixAll.DLQ_GROUP_TOPIC_PREFIX);
  }
}

/** fastjson DataVersion equality: the same change on the same clock. */
export function sameVersion(a: DataVersion, b: DataVersion): boolean {
  return a.timestamp === b.timestamp && a.counter === b.counter && a.stateVersion === b.stateVersion;
}
