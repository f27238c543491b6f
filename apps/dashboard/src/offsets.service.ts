import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MQAdmin } from '@rocketmq-ts/admin';
import { MixAll } from '@rocketmq-ts/common';
import { createLogger } from '@rocketmq-ts/remoting';
import type { DashboardConfig } from './config.js';
import { BadRequest, type ConsoleService } from './console.service.js';
import type { OffsetPlanQueueView, OffsetPlanView, OffsetResetMode, OffsetResetRecordView, OffsetResetRequest } from './web/views.js';

const log = createLogger('dashboard');

/** Records kept (the file and memory): the newest, over every group. */
export const OFFSET_RESET_HISTORY_MAX = 500;
export const OFFSET_RESETS_FILE = 'offset-resets.json';

const MODES: readonly OffsetResetMode[] = ['time', 'earliest', 'latest', 'offset'];
const qkey = (topic: string, brokerName: string, queueId: number): string => `${topic}\u0001${brokerName}\u0001${queueId}`;

/** Checks the form's JSON: a request the plan can be computed from, or BadRequest. */
export function parseResetRequest(body: Record<string, unknown>): OffsetResetRequest {
  const topic = typeof body['topic'] === 'string' ? body['topic'].trim() : '';
  const mode = body['mode'] as OffsetResetMode;
  if (!MODES.includes(mode)) throw new BadRequest(`mode must be one of ${MODES.join(', ')}`);
  const out: OffsetResetRequest = { topic, mode };
  if (mode === 'time') {
    const t = body['timestamp'];
    const n = typeof t === 'number' ? t : typeof t === 'string' && /^\d+$/.test(t.trim()) ? Number(t) : typeof t === 'string' ? Date.parse(t) : NaN;
    if (!Number.isFinite(n) || n < 0) throw new BadRequest('give the time to reset to (ms since the epoch or an ISO date)');
    out.timestamp = n;
  }
  if (mode === 'offset') {
    const list = body['offsets'];
    if (!Array.isArray(list) || list.length === 0) throw new BadRequest('give a target offset for at least one queue');
    out.offsets = list.map((x: unknown) => {
      const o = (x ?? {}) as Record<string, unknown>;
      const offset = Number(o['offset']);
      const queueId = Number(o['queueId']);
      if (typeof o['topic'] !== 'string' || typeof o['brokerName'] !== 'string' || !Number.isInteger(queueId) || queueId < 0) {
        throw new BadRequest('each target offset needs topic, brokerName and queueId');
      }
      if (!Number.isInteger(offset) || offset < 0) throw new BadRequest(`${JSON.stringify(o['offset'])} is not an offset (an integer ≥ 0)`);
      return { topic: o['topic'], brokerName: o['brokerName'], queueId, offset };
    });
  }
  return out;
}

/** Sums of a plan's queues. */
export function planTotals(queues: readonly OffsetPlanQueueView[]): { skipped: number; replayed: number; changed: number } {
  let skipped = 0;
  let replayed = 0;
  let changed = 0;
  for (const q of queues) {
    if (q.delta > 0) skipped += q.delta;
    else replayed -= q.delta;
    if (q.targetOffset !== q.currentOffset) changed++;
  }
  return { skipped, replayed, changed };
}

/**
 * Consumer offset resets with a preview and an undo. The preview reads what the reset would do
 * (per queue: committed offset, target, delta) and changes nothing; apply computes the same plan
 * again, records the committed offsets it replaces, and moves each changed queue through its
 * master (which tells online clients); undo moves them back. The records survive a restart in
 * `<dataPath>/offset-resets.json`.
 */
export class OffsetResetService {
  private records: OffsetResetRecordView[] = [];
  private readonly file: string;
  /** One apply or undo at a time: their records are read and written in turn. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly console: ConsoleService,
    private readonly config: DashboardConfig,
  ) {
    this.file = join(config.dataPath, OFFSET_RESETS_FILE);
    this.load();
  }

  private get admin(): MQAdmin {
    return this.console.admin;
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return; // no file yet
    }
    try {
      const data = JSON.parse(text) as { records?: OffsetResetRecordView[] };
      this.records = Array.isArray(data.records) ? data.records : [];
      log.info(`offset resets: ${this.records.length} records read from ${this.file}`);
    } catch (e) {
      // Kept aside, not overwritten: an operator may still want the offsets in it.
      const aside = `${this.file}.unreadable-${Date.now()}`;
      renameSync(this.file, aside);
      log.warn(`offset resets: ${this.file} is not JSON (${(e as Error).message}); moved to ${aside}`);
    }
  }

  private save(): void {
    mkdirSync(this.config.dataPath, { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ records: this.records }, null, 1));
    renameSync(tmp, this.file);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** A record of this group on this console's cluster (several consoles may share a dataPath). */
  private mine(r: OffsetResetRecordView, group: string): boolean {
    return r.group === group && r.namesrvAddr === this.config.namesrvAddr;
  }

  history(group: string): OffsetResetRecordView[] {
    return this.records.filter((r) => this.mine(r, group)).reverse();
  }

  /** The group's topics a reset without a topic covers: those it has offsets of or subscribes to (not its retry topic). */
  private async groupTopics(group: string): Promise<string[]> {
    const topics = new Set<string>();
    for (const q of (await this.admin.consumeStats(group).catch(() => [])) ?? []) topics.add(q.mq.topic);
    const conn = await this.admin.consumerConnection(group).catch(() => undefined);
    for (const s of conn?.subscriptions ?? []) topics.add(s.topic);
    return [...topics].filter((t) => !t.startsWith(MixAll.RETRY_GROUP_TOPIC_PREFIX)).sort();
  }

  /** What a reset would do; changes nothing. */
  async plan(group: string, req: OffsetResetRequest): Promise<OffsetPlanView> {
    if (!group) throw new BadRequest('give the consumer group');
    const topics = req.topic ? [req.topic] : await this.groupTopics(group);
    if (topics.length === 0) throw new BadRequest(`${group} has no committed offsets and no subscription: choose a topic`);
    const masters = new Map((await this.admin.masterAddrs()).map((m) => [m.brokerName, m.addr]));
    const wanted = new Map((req.offsets ?? []).map((o) => [qkey(o.topic, o.brokerName, o.queueId), o.offset]));
    const notes: string[] = [];
    const queues: OffsetPlanQueueView[] = [];
    let clamped = 0;
    let noOffset = 0;
    for (const topic of topics) {
      const [stats, progress] = await Promise.all([this.admin.topicStats(topic), this.admin.consumeStats(group, topic).catch(() => [])]);
      const committed = new Map(progress.map((p) => [qkey(p.mq.topic, p.mq.brokerName, p.mq.queueId), p.consumerOffset]));
      for (const s of stats) {
        const k = qkey(topic, s.mq.brokerName, s.mq.queueId);
        const current = committed.get(k) ?? -1;
        let target: number;
        switch (req.mode) {
          case 'earliest':
            target = s.minOffset;
            break;
          case 'latest':
            target = s.maxOffset;
            break;
          case 'time': {
            const addr = masters.get(s.mq.brokerName);
            if (!addr) throw new BadRequest(`${s.mq.brokerName} has no master to ask`);
            // The broker's reset by time answers the same search (first message stored at or after it).
            target = await this.admin.api.searchOffset(addr, { topic, brokerName: s.mq.brokerName, queueId: s.mq.queueId }, req.timestamp ?? 0);
            break;
          }
          case 'offset': {
            const w = wanted.get(k);
            target = w === undefined ? current : w;
            if (w !== undefined && (w < s.minOffset || w > s.maxOffset)) {
              target = Math.min(Math.max(w, s.minOffset), s.maxOffset);
              clamped++;
            }
            break;
          }
        }
        if (target < 0) continue; // offset mode, queue not named and the group has no offset there: nothing to do
        if (current < 0) noOffset++;
        queues.push({
          topic,
          brokerName: s.mq.brokerName,
          queueId: s.mq.queueId,
          minOffset: s.minOffset,
          maxOffset: s.maxOffset,
          currentOffset: current,
          targetOffset: target,
          // A queue without a committed offset would start where the group's consumeFromWhere says; counted as 0 here.
          delta: current < 0 ? 0 : target - current,
        });
      }
    }
    if (clamped > 0) notes.push(`${clamped} target offset(s) outside the queue's [min, max] were moved inside it`);
    if (noOffset > 0) notes.push(`the group has no committed offset on ${noOffset} queue(s): the reset gives it one (not counted as skipped or replayed)`);
    return {
      group,
      topics,
      mode: req.mode,
      timestamp: req.mode === 'time' ? (req.timestamp ?? 0) : null,
      queues,
      ...planTotals(queues),
      notes,
    };
  }

  private writable(): void {
    if (!this.config.offsetResetEnable) throw new BadRequest('this console does not reset offsets (offsetResetEnable=false)');
  }

  /** Computes the plan again, records the offsets it replaces, then moves each changed queue. */
  async apply(group: string, req: OffsetResetRequest): Promise<OffsetResetRecordView> {
    this.writable();
    return this.serial(async () => {
      const plan = await this.plan(group, req);
      const changed = plan.queues.filter((q) => q.targetOffset !== q.currentOffset);
      if (changed.length === 0) throw new BadRequest('nothing to change: every queue is already at its target');
      const record: OffsetResetRecordView = {
        id: randomUUID(),
        group,
        namesrvAddr: this.config.namesrvAddr,
        appliedAt: Date.now(),
        plan,
        previous: changed.map((q) => ({ topic: q.topic, brokerName: q.brokerName, queueId: q.queueId, offset: q.currentOffset })),
        undoneAt: null,
        restored: null,
      };
      // Saved before the first queue moves: a console stopped halfway can still undo.
      this.records.push(record);
      this.records = this.records.slice(-OFFSET_RESET_HISTORY_MAX);
      this.save();
      const masters = new Map((await this.admin.masterAddrs()).map((m) => [m.brokerName, m.addr]));
      for (const q of changed) {
        const addr = masters.get(q.brokerName);
        if (!addr) throw new Error(`${q.brokerName} has no master: the reset stopped there (undo restores the queues done)`);
        await this.admin.resetQueueOffset(addr, group, { topic: q.topic, brokerName: q.brokerName, queueId: q.queueId }, q.targetOffset);
      }
      log.info(
        `offset reset ${record.id}: group ${group}, ${changed.length} queue(s) of ${plan.topics.join(', ')} (${plan.mode}), skipped ${plan.skipped}, replayed ${plan.replayed}`,
      );
      return record;
    });
  }

  /** Restores the offsets the group's latest reset not yet undone replaced (or the one named). */
  async undo(group: string, id?: string): Promise<OffsetResetRecordView> {
    this.writable();
    return this.serial(async () => {
      const record = [...this.records].reverse().find((r) => this.mine(r, group) && r.undoneAt === null && (id === undefined || r.id === id));
      if (!record) throw new BadRequest(id ? `no reset ${id} of ${group} to undo` : `no reset of ${group} to undo`);
      const masters = new Map((await this.admin.masterAddrs()).map((m) => [m.brokerName, m.addr]));
      const restored: NonNullable<OffsetResetRecordView['restored']> = [];
      for (const p of record.previous) {
        const addr = masters.get(p.brokerName);
        if (!addr) throw new Error(`${p.brokerName} has no master: nothing was undone past it`);
        if (p.offset < 0) {
          // A broker cannot forget a committed offset; the queue keeps the reset's.
          restored.push({ ...p, note: 'the group had no offset here before; the reset one stays' });
          continue;
        }
        const offset = await this.admin.resetQueueOffset(addr, group, { topic: p.topic, brokerName: p.brokerName, queueId: p.queueId }, p.offset);
        restored.push({ ...p, offset });
      }
      record.undoneAt = Date.now();
      record.restored = restored;
      this.save();
      log.info(`offset reset ${record.id} undone: group ${group}, ${restored.length} queue(s) restored`);
      return record;
    });
  }
}
