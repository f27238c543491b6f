import { jsonEntries, parseLenientJson, readDataVersion, stringifyFastjson, type DataVersion, type JsonValue } from '@rocketmq-ts/protocol';
import { ConfigFileManager } from '@rocketmq-ts/store';

const SEP = '@';

/**
 * Committed consumer offsets per `topic@group` and queue, in memory and in consumerOffset.json
 * (fastjson's `{0:123}` form, which Java tools read). Pull offsets (where each group last pulled)
 * are kept in memory only. A negative commit never moves an offset back.
 */
export class ConsumerOffsetManager {
  readonly offsetTable = new Map<string, Map<number, number>>();
  readonly pullOffsetTable = new Map<string, Map<number, number>>();
  dataVersion: DataVersion = { stateVersion: 0, timestamp: Date.now(), counter: 0 };
  private readonly file: ConfigFileManager;
  private dirty = false;
  /** When the loaded consumerOffset.json was written (0: there was none). */
  snapshotTime = 0;

  constructor(file: string) {
    this.file = new ConfigFileManager(file);
  }

  static key(topic: string, group: string): string {
    return topic + SEP + group;
  }

  async load(): Promise<number> {
    const loaded = await this.file.load((text) => parseLenientJson(text) as Record<string, JsonValue>);
    if (!loaded) return 0;
    for (const [key, queues] of jsonEntries(loaded['offsetTable'])) {
      const m = new Map<number, number>();
      for (const [q, off] of jsonEntries(queues)) if (typeof off === 'number') m.set(Number(q), off);
      this.offsetTable.set(String(key), m);
    }
    if (loaded['dataVersion']) this.dataVersion = readDataVersion(loaded['dataVersion']);
    this.snapshotTime = this.dataVersion.timestamp;
    return this.offsetTable.size;
  }

  /**
   * A slave merges the master's offsets (GET_ALL_CONSUMER_OFFSET body): each `topic@group` the
   * master has replaces the local one, others stay (RocketMQ's putAll). Returns the number merged.
   */
  mergeFromMaster(body: string): number {
    const o = parseLenientJson(body) as Record<string, JsonValue>;
    let n = 0;
    for (const [key, queues] of jsonEntries(o['offsetTable'] ?? null)) {
      const m = new Map<number, number>();
      for (const [q, off] of jsonEntries(queues)) if (typeof off === 'number') m.set(Number(q), off);
      this.offsetTable.set(String(key), m);
      n++;
    }
    if (o['dataVersion']) this.dataVersion = readDataVersion(o['dataVersion']);
    if (n > 0) this.dirty = true;
    return n;
  }

  commitOffset(group: string, topic: string, queueId: number, offset: number): void {
    if (!(offset >= 0)) return;
    const key = ConsumerOffsetManager.key(topic, group);
    let m = this.offsetTable.get(key);
    if (!m) this.offsetTable.set(key, (m = new Map()));
    if (m.get(queueId) !== offset) {
      m.set(queueId, offset);
      this.dirty = true;
    }
  }

  /** The committed offset, or -1 when the group never committed one for this queue. */
  queryOffset(group: string, topic: string, queueId: number): number {
    return this.offsetTable.get(ConsumerOffsetManager.key(topic, group))?.get(queueId) ?? -1;
  }

  commitPullOffset(group: string, topic: string, queueId: number, offset: number): void {
    const key = ConsumerOffsetManager.key(topic, group);
    let m = this.pullOffsetTable.get(key);
    if (!m) this.pullOffsetTable.set(key, (m = new Map()));
    m.set(queueId, offset);
  }

  queryPullOffset(group: string, topic: string, queueId: number): number {
    return this.pullOffsetTable.get(ConsumerOffsetManager.key(topic, group))?.get(queueId) ?? -1;
  }

  /** Groups with committed offsets on the topic. */
  groupsOfTopic(topic: string): string[] {
    const out: string[] = [];
    for (const key of this.offsetTable.keys()) {
      const i = key.indexOf(SEP);
      if (key.slice(0, i) === topic) out.push(key.slice(i + 1));
    }
    return out;
  }

  topicsOfGroup(group: string): string[] {
    const out: string[] = [];
    for (const key of this.offsetTable.keys()) {
      const i = key.lastIndexOf(SEP);
      if (key.slice(i + 1) === group) out.push(key.slice(0, i));
    }
    return out;
  }

  queueOffsets(group: string, topic: string): Map<number, number> | undefined {
    return this.offsetTable.get(ConsumerOffsetManager.key(topic, group));
  }

  removeGroup(group: string): void {
    for (const key of [...this.offsetTable.keys()]) if (key.slice(key.lastIndexOf(SEP) + 1) === group) this.offsetTable.delete(key);
    for (const key of [...this.pullOffsetTable.keys()]) if (key.slice(key.lastIndexOf(SEP) + 1) === group) this.pullOffsetTable.delete(key);
    this.dirty = true;
  }

  removeTopic(topic: string): void {
    for (const key of [...this.offsetTable.keys()]) if (key.slice(0, key.indexOf(SEP)) === topic) this.offsetTable.delete(key);
    for (const key of [...this.pullOffsetTable.keys()]) if (key.slice(0, key.indexOf(SEP)) === topic) this.pullOffsetTable.delete(key);
    this.dirty = true;
  }

  toJson(): string {
    return stringifyFastjson({ offsetTable: this.offsetTable, dataVersion: this.dataVersion });
  }

  /** Writes consumerOffset.json if anything changed since the last write (or when forced). */
  async persist(force = false): Promise<void> {
    if (!this.dirty && !force) return;
    this.dirty = false;
    this.dataVersion = { stateVersion: this.dataVersion.stateVersion, timestamp: Date.now(), counter: this.dataVersion.counter + 1 };
    try {
      await this.file.persist(this.toJson());
    } catch (e) {
      this.dirty = true; // try again next time (a full disk, say)
      throw e;
    }
  }
}
