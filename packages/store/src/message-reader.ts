// The read side: getMessage (consume queue → commit-log records) and the lookups by queue offset,
// store time, commit-log offset and key.
import { MessageConst, splitKeys } from '@rocketmq-ts/common';
import {
  checkMessageRecord,
  decodeMessageRecord,
  findProperty,
  isStoredRecordIntact,
  readInt32BEUnchecked,
  readInt64BE,
  readStoreTimestamp,
  type DecodedMessage,
} from '@rocketmq-ts/protocol';
import type { CommitLog } from './commitlog/commit-log.js';
import { CQ_BLANK_SIZE, CQ_UNIT_SIZE, type ConsumeQueue } from './consumequeue/consume-queue.js';
import type { ConsumeQueueTable } from './consumequeue/consume-queue-table.js';
import type { IndexService } from './keyindex/index-service.js';
import type { MessageFilter } from './message-store.js';
import type { StoreProbe } from './probe.js';
import { GetMessageStatus, type GetMessageResult, type QueryMessageResult } from './status.js';
import type { StoreState } from './store-state.js';

/** Units a filtered pull looks at before it answers with what it has (RocketMQ's cap too). */
const MAX_FILTER_SCAN = 16000;
/** One disk read serves several records of a pull when they lie within this span... */
const SPAN_MAX = 4 * 1024 * 1024;
/** ...and no record is further than this from the previous one (other queues' records in between). */
const GAP_MAX = 64 * 1024;
/** ...and at most this many records (a gathered read takes one iovec per record and per gap: under IOV_MAX). */
const SPAN_RECORDS = 256;
/** Enough of a record's head for its store timestamp, whatever its host sizes. */
const RECORD_HEAD = 128;

export class MessageReader {
  constructor(
    private readonly commitLog: CommitLog,
    private readonly queues: ConsumeQueueTable,
    /** undefined when messageIndexEnable is off: key queries find nothing. */
    private readonly index: IndexService | undefined,
    private readonly state: StoreState,
    private readonly probe: StoreProbe,
    /** Verify body CRCs of served records (checkCRCOnRead). */
    private readonly checkCRC = true,
  ) {}

  async getMessage(
    topic: string,
    queueId: number,
    offset: number,
    maxMsgNums: number,
    maxBytes: number,
    filter: MessageFilter | undefined,
    lend = false,
  ): Promise<GetMessageResult> {
    this.state.stats.getCount++;
    return this.gotten(await this.read(topic, queueId, offset, maxMsgNums, maxBytes, filter, lend));
  }

  /** getMessage for the store's own readers (the timer): not counted as consumer reads. */
  readRecords(topic: string, queueId: number, offset: number, maxMsgNums: number, maxBytes: number): Promise<GetMessageResult> {
    return this.read(topic, queueId, offset, maxMsgNums, maxBytes, undefined);
  }

  private async read(
    topic: string,
    queueId: number,
    offset: number,
    maxMsgNums: number,
    maxBytes: number,
    filter: MessageFilter | undefined,
    lend = false,
  ): Promise<GetMessageResult> {
    const res: GetMessageResult = {
      status: GetMessageStatus.NO_MESSAGE_IN_QUEUE,
      nextBeginOffset: offset,
      minOffset: 0,
      maxOffset: 0,
      messageBuffers: [],
      messageQueueOffsets: [],
      bufferTotalSize: 0,
    };
    const q = this.queues.find(topic, queueId);
    if (q === undefined || this.state.phase === 'stopped') {
      res.status = GetMessageStatus.NO_MATCHED_LOGIC_QUEUE;
      res.nextBeginOffset = 0;
      return res;
    }
    const min = q.minOffset;
    const max = q.maxOffset;
    res.minOffset = min;
    res.maxOffset = max;
    if (max === 0) {
      res.status = GetMessageStatus.NO_MESSAGE_IN_QUEUE;
      res.nextBeginOffset = 0;
    } else if (offset < min) {
      res.status = GetMessageStatus.OFFSET_TOO_SMALL;
      res.nextBeginOffset = min;
    } else if (offset === max) {
      res.status = GetMessageStatus.OFFSET_OVERFLOW_ONE;
      res.nextBeginOffset = offset;
    } else if (offset > max) {
      res.status = GetMessageStatus.OFFSET_OVERFLOW_BADLY;
      res.nextBeginOffset = max;
    } else {
      await this.readQueue(q, offset, maxMsgNums, maxBytes, filter, res, lend);
    }
    return res;
  }

  private gotten(res: GetMessageResult): GetMessageResult {
    this.state.stats.getFoundMessages += res.messageBuffers.length;
    this.probe.onGet?.(res.status, res.messageBuffers.length, res.bufferTotalSize);
    return res;
  }

  private async readQueue(
    q: ConsumeQueue,
    offset: number,
    maxMsgNums: number,
    maxBytes: number,
    filter: MessageFilter | undefined,
    res: GetMessageResult,
    lend: boolean,
  ): Promise<void> {
    const minPhy = this.commitLog.minOffset;
    let next = offset;
    let sawRemoved = false;
    let scanned = 0;
    // The records of this pull read so far: span holds those of units phys[k] (k < spanCount) back to
    // back, record k at starts[k]; spanIdx walks forward with the units.
    let span: Buffer | undefined;
    const phys: number[] = [];
    const sizes: number[] = [];
    const starts: number[] = [];
    let spanCount = 0;
    let spanIdx = 0;
    /** The span is a copy of the in-memory tail as this process encoded it: never read back from a file. */
    let spanFromMemory = false;
    let lastPhy = -1;
    outer: while (res.messageBuffers.length < maxMsgNums && next < q.maxOffset && scanned < MAX_FILTER_SCAN) {
      const units = await q.readUnits(next, Math.max(32, maxMsgNums));
      if (units === undefined || units.length === 0) {
        sawRemoved = true; // the file went away under us (retention)
        break;
      }
      const n = units.length / CQ_UNIT_SIZE;
      for (let i = 0; i < n; i++) {
        const at = i * CQ_UNIT_SIZE;
        const phy = readInt64BE(units, at);
        const size = readInt32BEUnchecked(units, at + 8);
        const tagsCode = readInt64BE(units, at + 12);
        if (size === CQ_BLANK_SIZE) {
          // a padding unit (a gap left by recovery) holds no message: it never ends a batch
          next++;
          scanned++;
          continue;
        }
        if (res.messageBuffers.length > 0 && res.bufferTotalSize + size > maxBytes) break outer;
        next++;
        scanned++;
        if (phy < minPhy) {
          sawRemoved = true;
          continue;
        }
        if (size <= 0 || phy + size > this.commitLog.wrotePos) {
          // A damaged unit: it points at bytes that were never appended.
          this.state.stats.corruptRecordsSkipped++;
          continue;
        }
        if (filter !== undefined && !filter.isMatchedByConsumeQueue(tagsCode)) continue;
        let rec: Buffer | undefined;
        while (spanIdx < spanCount && phys[spanIdx]! < phy) spanIdx++;
        if (span !== undefined && spanIdx < spanCount && phys[spanIdx] === phy && sizes[spanIdx] === size) {
          rec = span.subarray(starts[spanIdx]!, starts[spanIdx]! + size);
        } else {
          // This record and the ones of this batch close behind it in the log, in one copy (from the
          // cached tail) or one read. Contiguous records are read as they lie; records with other
          // queues' records between them are gathered, so the bytes between are not copied out.
          spanCount = this.spanUnits(units, i, n, phy, maxMsgNums - res.messageBuffers.length, maxBytes - res.bufferTotalSize, phys, sizes, starts);
          spanIdx = 0;
          const total = starts[spanCount - 1]! + sizes[spanCount - 1]!;
          const stretch = phys[spanCount - 1]! + sizes[spanCount - 1]! - phy;
          const into = lend ? this.commitLog.lendReadBuffer(total) : undefined;
          if (stretch === total) {
            span = this.commitLog.readFromMemory(phy, total, true, into);
            spanFromMemory = span !== undefined;
            span ??= await this.commitLog.read(phy, total, into);
          } else {
            const g = await this.commitLog.readGathered(phys, sizes, spanCount, total, true, into);
            span = g?.buf;
            spanFromMemory = g?.fromMemory === true;
          }
          if (into !== undefined) {
            if (span === undefined) this.commitLog.giveBackReadBuffer(into);
            else (res.lent ??= []).push(into);
          }
          rec = span?.subarray(0, size);
        }
        if (rec === undefined || rec.length < 4 || readInt32BEUnchecked(rec, 0) !== size) {
          sawRemoved = true;
          continue;
        }
        // checkCRCOnRead guards against damage on disk (and in replicated bytes): a record copied from
        // the in-memory tail was encoded here, its CRC computed from the same bytes, and never read
        // back from a file, so only its structure is checked there.
        if (!isStoredRecordIntact(rec, 0, size, { physicalOffset: phy, queueId: q.queueId, queueOffset: next - 1 }, this.checkCRC && !spanFromMemory)) {
          // A damaged record, or a damaged unit pointing at the wrong bytes: skipped, never served.
          this.state.stats.corruptRecordsSkipped++;
          continue;
        }
        if (filter?.isMatchedByCommitLog !== undefined && !filter.isMatchedByCommitLog(rec)) continue;
        res.messageBuffers.push(rec);
        lastPhy = phy;
        res.messageQueueOffsets.push(next - 1);
        res.bufferTotalSize += size;
        if (res.messageBuffers.length >= maxMsgNums) break outer;
      }
    }
    res.nextBeginOffset = next;
    if (lastPhy >= 0 && this.commitLog.isCold(lastPhy)) res.suggestPullingFromSlave = true;
    if (res.messageBuffers.length > 0) res.status = GetMessageStatus.FOUND;
    else if (sawRemoved) res.status = GetMessageStatus.MESSAGE_WAS_REMOVING;
    else if (next > offset) res.status = GetMessageStatus.NO_MATCHED_MESSAGE;
    else res.status = GetMessageStatus.OFFSET_FOUND_NULL;
  }

  /**
   * The records one read serves, from unit i on: unit i and the following units of this batch whose
   * records lie close behind it in the same segment, up to SPAN_MAX of log, stopping at a gap of more
   * than GAP_MAX, when the pull is full or at SPAN_RECORDS. Fills phys/sizes/starts (starts: where
   * each lands when gathered back to back) and returns how many.
   */
  private spanUnits(
    units: Buffer,
    i: number,
    n: number,
    phy: number,
    msgsLeft: number,
    bytesLeft: number,
    phys: number[],
    sizes: number[],
    starts: number[],
  ): number {
    const seg = this.commitLog.findSegment(phy);
    const segEnd = seg === undefined ? phy : seg.startOffset + seg.size;
    const first = readInt32BEUnchecked(units, i * CQ_UNIT_SIZE + 8);
    phys[0] = phy;
    sizes[0] = first;
    starts[0] = 0;
    let end = phy + first;
    let total = first;
    let m = 1;
    for (let j = i + 1; j < n && m < msgsLeft && m < SPAN_RECORDS; j++) {
      const at = j * CQ_UNIT_SIZE;
      const size = readInt32BEUnchecked(units, at + 8);
      if (size === CQ_BLANK_SIZE) continue;
      const p = readInt64BE(units, at);
      if (
        size <= 0 ||
        p < end ||
        p - end > GAP_MAX ||
        p + size > segEnd ||
        p + size > this.commitLog.wrotePos ||
        p + size - phy > SPAN_MAX ||
        total + size > bytesLeft
      ) {
        break;
      }
      phys[m] = p;
      sizes[m] = size;
      starts[m] = total;
      total += size;
      end = p + size;
      m++;
    }
    return m;
  }

  getMaxOffsetInQueue(topic: string, queueId: number): number {
    return this.queues.find(topic, queueId)?.maxOffset ?? 0;
  }

  getMinOffsetInQueue(topic: string, queueId: number): number {
    return this.queues.find(topic, queueId)?.minOffset ?? 0;
  }

  async getCommitLogOffsetInQueue(topic: string, queueId: number, cqOffset: number): Promise<number> {
    const u = await this.queues.find(topic, queueId)?.getUnit(cqOffset);
    return u === undefined ? -1 : u.phyOffset;
  }

  async getMessageStoreTimeStamp(topic: string, queueId: number, cqOffset: number): Promise<number> {
    const u = await this.queues.find(topic, queueId)?.getUnit(cqOffset);
    if (u === undefined || u.size === CQ_BLANK_SIZE) return -1;
    return this.storeTimestampAt(u.phyOffset, u.size);
  }

  private async storeTimestampAt(phy: number, size: number): Promise<number> {
    const rec = this.commitLog.readFromMemory(phy, size) ?? (await this.commitLog.read(phy, Math.min(size, RECORD_HEAD)));
    if (rec === undefined || rec.length < 72) return -1;
    return readStoreTimestamp(rec, 0);
  }

  /**
   * 'lower': the first offset stored at or after `timestamp` (the max offset when every message is
   * older). 'upper': the last offset stored at or before it (the min offset when every message is
   * newer), as RocketMQ's BoundaryType.
   */
  async getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number, boundary: 'lower' | 'upper'): Promise<number> {
    const q = this.queues.find(topic, queueId);
    if (q === undefined) return 0;
    const min = q.minOffset;
    let lo = min;
    let hi = q.maxOffset;
    const minPhy = this.commitLog.minOffset;
    // Binary search (store times grow with the queue offset): the first offset whose store time is
    // >= timestamp (lower) or > timestamp (upper).
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const u = await q.getUnit(mid);
      let ts = -1;
      if (u !== undefined && u.size !== CQ_BLANK_SIZE && u.phyOffset >= minPhy) ts = await this.storeTimestampAt(u.phyOffset, u.size);
      if (boundary === 'upper' ? ts > timestamp : ts >= timestamp) hi = mid;
      else lo = mid + 1;
    }
    return boundary === 'upper' ? Math.max(lo - 1, min) : lo;
  }

  async getEarliestMessageTime(topic?: string, queueId?: number): Promise<number> {
    if (topic !== undefined && queueId !== undefined) {
      const q = this.queues.find(topic, queueId);
      if (q === undefined) return -1;
      return this.getMessageStoreTimeStamp(topic, queueId, q.minOffset);
    }
    const min = this.commitLog.minOffset;
    if (min >= this.commitLog.wrotePos) return -1;
    return this.storeTimestampAt(min, RECORD_HEAD);
  }

  /** The record at a commit-log offset; `size` when known, else read from the record's head. */
  async selectOneMessageByOffset(commitLogOffset: number, size?: number): Promise<Buffer | undefined> {
    const cl = this.commitLog;
    if (commitLogOffset < cl.minOffset || commitLogOffset >= cl.wrotePos) return undefined;
    let sz = size;
    if (sz === undefined) {
      const head = cl.readFromMemory(commitLogOffset, 8) ?? (await cl.read(commitLogOffset, 8));
      if (head === undefined) return undefined;
      sz = head.readInt32BE(0);
      if (sz <= 8 || commitLogOffset + sz > cl.wrotePos) return undefined;
    }
    return cl.readFromMemory(commitLogOffset, sz) ?? (await cl.read(commitLogOffset, sz));
  }

  async lookMessageByOffset(commitLogOffset: number, opts?: { decodeProperties?: boolean }): Promise<DecodedMessage | undefined> {
    const rec = await this.selectOneMessageByOffset(commitLogOffset);
    if (rec === undefined) return undefined;
    if (checkMessageRecord(rec, 0, rec.length, { checkCRC: this.checkCRC, expectedPhysicalOffset: commitLogOffset }).kind !== 'record') {
      this.state.stats.corruptRecordsSkipped++;
      return undefined;
    }
    try {
      return decodeMessageRecord(rec, 0, opts);
    } catch {
      return undefined;
    }
  }

  /** Messages of `topic` stored in [begin, end] whose KEYS or UNIQ_KEY hold `key`, through the index. */
  async queryMessage(topic: string, key: string, maxNum: number, begin: number, end: number): Promise<QueryMessageResult> {
    const res: QueryMessageResult = { messageBuffers: [], indexLastUpdateTimestamp: 0, indexLastUpdatePhyoffset: 0, bufferTotalSize: 0 };
    if (this.index === undefined) return res;
    const lu = this.index.lastUpdate;
    res.indexLastUpdateTimestamp = lu.timestamp;
    res.indexLastUpdatePhyoffset = lu.phyOffset;
    const offsets = await this.index.query(topic, key, maxNum, begin, end);
    const seen = new Set<number>();
    for (const off of offsets) {
      if (seen.has(off)) continue;
      seen.add(off);
      const rec = await this.selectOneMessageByOffset(off);
      if (rec === undefined) continue;
      // Hash collisions and stale entries are filtered here by the real topic and key.
      const r = checkMessageRecord(rec, 0, rec.length, { checkCRC: this.checkCRC, expectedPhysicalOffset: off });
      if (r.kind !== 'record' || r.info.topic !== topic) continue;
      const props = r.info.propertiesString;
      const keys = splitKeys(findProperty(props, MessageConst.PROPERTY_KEYS));
      if (findProperty(props, MessageConst.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) !== key && !keys.includes(key)) continue;
      res.messageBuffers.push(rec);
      res.bufferTotalSize += rec.length;
    }
    return res;
  }

  /** A message by its UNIQ_KEY (the client's msgId), stored in [begin, end]. */
  queryMessageByUniqKey(topic: string, uniqKey: string, begin: number, end: number): Promise<QueryMessageResult> {
    return this.queryMessage(topic, uniqKey, 32, begin, end);
  }
}
