import {
  jsonBool,
  jsonEntries,
  jsonNum,
  jsonObj,
  parseLenientJson,
  readDataVersion,
  stringifyFastjson,
  type DataVersion,
  type JsonValue,
} from '@rocketmq-ts/protocol';
import { ConfigFileManager } from '@rocketmq-ts/store';
import { sameVersion } from '../topic/topic-config-manager.js';

/** A consumer group's broker-side settings (subscriptionGroup.json; UPDATE_AND_CREATE_SUBSCRIPTIONGROUP body). */
export interface SubscriptionGroupConfig {
  groupName: string;
  consumeEnable: boolean;
  consumeFromMinEnable: boolean;
  consumeBroadcastEnable: boolean;
  consumeMessageOrderly: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  notifyConsumerIdsChangedEnable: boolean;
  groupSysFlag: number;
  consumeTimeoutMinute: number;
  attributes: Record<string, string>;
}

export function subscriptionGroupConfig(groupName: string, init: Partial<SubscriptionGroupConfig> = {}): SubscriptionGroupConfig {
  return {
    groupName,
    consumeEnable: true,
    consumeFromMinEnable: true,
    consumeBroadcastEnable: true,
    consumeMessageOrderly: false,
    retryQueueNums: 1,
    retryMaxTimes: 16,
    brokerId: 0,
    whichBrokerWhenConsumeSlowly: 1,
    notifyConsumerIdsChangedEnable: true,
    groupSysFlag: 0,
    consumeTimeoutMinute: 15,
    attributes: {},
    ...init,
  };
}

/** Reads a SubscriptionGroupConfig from parsed JSON, keeping defaults for missing fields. */
export function readSubscriptionGroupConfig(v: JsonValue | undefined, name?: string): SubscriptionGroupConfig {
  const o = jsonObj(v);
  const groupName = typeof o['groupName'] === 'string' ? o['groupName'] : (name ?? '');
  const d = subscriptionGroupConfig(groupName);
  const bool = (k: keyof SubscriptionGroupConfig): boolean => jsonBool(o[k], d[k] as boolean);
  const num = (k: keyof SubscriptionGroupConfig): number => jsonNum(o[k], d[k] as number);
  const attrs: Record<string, string> = {};
  for (const [k, x] of jsonEntries(o['attributes'])) attrs[String(k)] = String(x);
  return {
    groupName,
    consumeEnable: bool('consumeEnable'),
    consumeFromMinEnable: bool('consumeFromMinEnable'),
    consumeBroadcastEnable: bool('consumeBroadcastEnable'),
    consumeMessageOrderly: bool('consumeMessageOrderly'),
    retryQueueNums: num('retryQueueNums'),
    retryMaxTimes: num('retryMaxTimes'),
    brokerId: num('brokerId'),
    whichBrokerWhenConsumeSlowly: num('whichBrokerWhenConsumeSlowly'),
    notifyConsumerIdsChangedEnable: bool('notifyConsumerIdsChangedEnable'),
    groupSysFlag: num('groupSysFlag'),
    consumeTimeoutMinute: num('consumeTimeoutMinute'),
    attributes: attrs,
  };
}

const SYSTEM_GROUPS = [
  'TOOLS_CONSUMER',
  'FILTERSRV_CONSUMER',
  'SELF_TEST_C_GROUP',
  'CID_ONS-HTTP-PROXY',
  'CID_ONSAPI_PULL',
  'CID_ONSAPI_PERMISSION',
  'CID_ONSAPI_OWNER',
  'CID_RMQ_SYS_TRANS',
];

export class SubscriptionGroupManager {
  readonly table = new Map<string, SubscriptionGroupConfig>();
  dataVersion: DataVersion = { stateVersion: 0, timestamp: Date.now(), counter: 0 };
  private readonly file: ConfigFileManager;
  /** Called when a group is deleted (metrics series, offsets). */
  onDelete: ((group: string) => void) | null = null;
  private lastPersist: Promise<unknown> = Promise.resolve();

  constructor(
    file: string,
    private readonly autoCreate: () => boolean,
  ) {
    this.file = new ConfigFileManager(file);
  }

  async load(): Promise<number> {
    const loaded = await this.file.load((text) => parseLenientJson(text) as Record<string, JsonValue>);
    if (loaded) {
      for (const [name, v] of jsonEntries(loaded['subscriptionGroupTable'])) this.table.set(String(name), readSubscriptionGroupConfig(v, String(name)));
      if (loaded['dataVersion']) this.dataVersion = readDataVersion(loaded['dataVersion']);
    }
    for (const g of SYSTEM_GROUPS) if (!this.table.has(g)) this.table.set(g, subscriptionGroupConfig(g));
    return this.table.size;
  }

  /** A slave takes the master's groups (GET_ALL_SUBSCRIPTIONGROUP_CONFIG body) when the data version differs. */
  async replaceFromMaster(body: string): Promise<boolean> {
    const o = parseLenientJson(body) as Record<string, JsonValue>;
    const version = o['dataVersion'] ? readDataVersion(o['dataVersion']) : undefined;
    if (version !== undefined && sameVersion(version, this.dataVersion)) return false;
    this.table.clear();
    for (const [name, v] of jsonEntries(o['subscriptionGroupTable'] ?? null)) this.table.set(String(name), readSubscriptionGroupConfig(v, String(name)));
    for (const g of SYSTEM_GROUPS) if (!this.table.has(g)) this.table.set(g, subscriptionGroupConfig(g));
    if (version !== undefined) this.dataVersion = version;
    await this.persist();
    return true;
  }

  /** The group's config; auto-created (and persisted) when allowed, else undefined. */
  find(group: string): SubscriptionGroupConfig | undefined {
    const g = this.table.get(group);
    if (g || !this.autoCreate()) return g;
    const created = subscriptionGroupConfig(group);
    this.table.set(group, created);
    this.changed();
    return created;
  }

  update(g: SubscriptionGroupConfig): void {
    this.table.set(g.groupName, g);
    this.changed();
  }

  delete(group: string): boolean {
    if (!this.table.delete(group)) return false;
    this.changed();
    this.onDelete?.(group);
    return true;
  }

  private changed(): void {
    this.dataVersion = { stateVersion: this.dataVersion.stateVersion, timestamp: Date.now(), counter: this.dataVersion.counter + 1 };
    this.lastPersist = this.persist().catch(() => undefined);
  }

  toJson(): string {
    return stringifyFastjson({ subscriptionGroupTable: Object.fromEntries(this.table), forbiddenTable: {}, dataVersion: this.dataVersion });
  }

  persist(): Promise<void> {
    // Serialised when the write starts: changes in a burst share one write.
    return this.file.persist(() => this.toJson());
  }

  /** Resolves once the latest change is on disk. */
  whenPersisted(): Promise<unknown> {
    return this.lastPersist;
  }
}
