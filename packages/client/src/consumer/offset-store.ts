import { mkdir, readFile, rename, writeFile, copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { jsonEntries, parseLenientJson, stringifyFastjson, type JsonValue } from '@rocketmq-ts/protocol';
import { readMessageQueueMap } from '../api.js';
import type { MQClientInstance } from '../client-instance.js';
import { mqKey, type MessageQueue } from '../message-queue.js';

export type ReadOffsetType = 'READ_FROM_MEMORY' | 'READ_FROM_STORE' | 'MEMORY_FIRST_THEN_STORE';

/**
 * Where a consumer keeps its progress: on the broker for clustering, in a local file for
 * broadcasting. Offsets are "next message to consume" (consume-queue index). readOffset returns
 * -1 when there is no offset yet, -2 when the store could not be asked.
 */
export interface OffsetStore {
  load(): Promise<void>;
  updateOffset(mq: MessageQueue, offset: number, increaseOnly: boolean): void;
  readOffset(mq: MessageQueue, type: ReadOffsetType): Promise<number>;
  persistAll(mqs: readonly MessageQueue[]): Promise<void>;
  persist(mq: MessageQueue): Promise<void>;
  removeOffset(mq: MessageQueue): void;
  cloneOffsetTable(topic?: string): Array<[MessageQueue, number]>;
}

abstract class MemoryOffsets {
  protected readonly table = new Map<string, { mq: MessageQueue; offset: number }>();

  updateOffset(mq: MessageQueue, offset: number, increaseOnly: boolean): void {
    const k = mqKey(mq);
    const cur = this.table.get(k);
    if (cur === undefined) this.table.set(k, { mq, offset });
    else if (!increaseOnly || offset > cur.offset) cur.offset = offset;
  }

  removeOffset(mq: MessageQueue): void {
    this.table.delete(mqKey(mq));
  }

  protected memory(mq: MessageQueue): number | undefined {
    return this.table.get(mqKey(mq))?.offset;
  }

  cloneOffsetTable(topic?: string): Array<[MessageQueue, number]> {
    const out: Array<[MessageQueue, number]> = [];
    for (const e of this.table.values()) if (topic === undefined || topic === '' || e.mq.topic === topic) out.push([e.mq, e.offset]);
    return out;
  }
}

/** Clustering: offsets live on the broker (QUERY/UPDATE_CONSUMER_OFFSET). */
export class RemoteBrokerOffsetStore extends MemoryOffsets implements OffsetStore {
  constructor(
    private readonly instance: MQClientInstance,
    private readonly group: string,
    /** false: a group that never committed gets "not found" (so consumeFromWhere applies) instead of 0. */
    private readonly setZeroIfNotFound?: boolean,
  ) {
    super();
  }

  async load(): Promise<void> {
    // nothing local
  }

  async readOffset(mq: MessageQueue, type: ReadOffsetType): Promise<number> {
    if (type !== 'READ_FROM_STORE') {
      const m = this.memory(mq);
      if (m !== undefined) return m;
      if (type === 'READ_FROM_MEMORY') return -1;
    }
    const addr = await this.brokerAddr(mq);
    if (addr === undefined) return -2;
    try {
      const off = await this.instance.api.queryConsumerOffset(addr, this.group, mq, this.setZeroIfNotFound);
      if (off >= 0) this.updateOffset(mq, off, false);
      return off;
    } catch (e) {
      this.instance.log.warn(
        'offset.query.failed',
        'could not read the consumer offset from the broker',
        { group: this.group, topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId },
        e,
      );
      return -2;
    }
  }

  private async brokerAddr(mq: MessageQueue): Promise<string | undefined> {
    let a = this.instance.findBrokerAddressInPublish(mq.brokerName);
    if (a === undefined) {
      await this.instance.updateTopicRouteFromNameServer(mq.topic).catch(() => false);
      a = this.instance.findBrokerAddressInPublish(mq.brokerName);
    }
    return a;
  }

  async persist(mq: MessageQueue): Promise<void> {
    const e = this.table.get(mqKey(mq));
    if (e === undefined || e.offset < 0) return;
    const addr = await this.brokerAddr(mq);
    if (addr === undefined) return;
    await this.instance.api.updateConsumerOffset(addr, this.group, mq, e.offset);
    this.instance.log.debug('offset.committed', 'offset committed to the broker', {
      group: this.group,
      topic: mq.topic,
      queueId: mq.queueId,
      offset: e.offset,
    });
  }

  async persistAll(mqs: readonly MessageQueue[]): Promise<void> {
    const keep = new Set(mqs.map(mqKey));
    const calls: Promise<void>[] = [];
    for (const [k, e] of this.table) {
      // Always re-send: a pull's piggy-backed commit may have moved the broker's value meanwhile.
      if (!keep.has(k) || e.offset < 0) continue;
      calls.push(this.persist(e.mq));
    }
    const results = await Promise.allSettled(calls);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/** Default directory of broadcast offsets (RocketMQ's ~/.rocketmq_offsets, or ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR). */
export function defaultLocalOffsetDir(): string {
  return process.env['ROCKETMQ_CLIENT_LOCAL_OFFSET_STORE_DIR'] ?? join(homedir(), '.rocketmq_offsets');
}

/**
 * Broadcasting: each client keeps its own offsets in `<dir>/<clientId>/<group>/offsets.json`, in
 * the form Java writes (`{"offsetTable":{{"brokerName":..,"queueId":..,"topic":..}:offset}}`). The
 * previous file is kept as offsets.json.bak; writes go through a temp file and a rename.
 */
export class LocalFileOffsetStore extends MemoryOffsets implements OffsetStore {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(dir: string, clientId: string, group: string) {
    super();
    this.path = join(dir, clientId.replace(/[^\w.@#-]/g, '_'), group, 'offsets.json');
  }

  async load(): Promise<void> {
    for (const [mq, off] of await this.readFile()) this.updateOffset(mq, off, false);
  }

  private async readFile(): Promise<Array<[MessageQueue, number]>> {
    for (const p of [this.path, this.path + '.bak']) {
      if (!existsSync(p)) continue;
      try {
        const o = Object.fromEntries(jsonEntries(parseLenientJson(await readFile(p, 'utf8')))) as Record<string, JsonValue>;
        return readMessageQueueMap(o['offsetTable']).map(([mq, v]) => [mq, Number(v)] as [MessageQueue, number]);
      } catch {
        // a torn file: try the backup
      }
    }
    return [];
  }

  async readOffset(mq: MessageQueue, type: ReadOffsetType): Promise<number> {
    if (type !== 'READ_FROM_STORE') {
      const m = this.memory(mq);
      if (m !== undefined) return m;
      if (type === 'READ_FROM_MEMORY') return -1;
    }
    const k = mqKey(mq);
    const found = (await this.readFile()).find(([q]) => mqKey(q) === k);
    if (found === undefined) return -1;
    this.updateOffset(mq, found[1], false);
    return found[1];
  }

  async persist(_mq: MessageQueue): Promise<void> {
    await this.persistAll([...this.table.values()].map((e) => e.mq));
  }

  async persistAll(mqs: readonly MessageQueue[]): Promise<void> {
    const keep = new Set(mqs.map(mqKey));
    const table = new Map<object, number>();
    for (const [k, e] of this.table) if (keep.has(k)) table.set({ brokerName: e.mq.brokerName, queueId: e.mq.queueId, topic: e.mq.topic }, e.offset);
    if (table.size === 0) return;
    const text = stringifyFastjson({ offsetTable: table });
    // Serialise writers so two persists never race on the temp file.
    const w = this.writing
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(this.path), { recursive: true });
        if (existsSync(this.path)) await copyFile(this.path, this.path + '.bak').catch(() => undefined);
        const tmp = this.path + '.tmp';
        await writeFile(tmp, text, 'utf8');
        await rename(tmp, this.path);
      });
    this.writing = w;
    await w;
  }
}
