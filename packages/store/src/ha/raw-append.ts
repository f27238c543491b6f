// Slave side of replication: commit-log bytes copied from a master are checked, appended at the same
// offsets and dispatched here exactly as the master dispatched them, so the slave's consume queues,
// index and offsets match the master's. The HA transport (connection to the master, offset reports)
// is meant to sit next to this file and call RawCommitLogAppender.append with what it receives.
import { checkMessageRecord, END_FILE_MIN_BLANK_LENGTH, type RecordInfo } from '@rocketmq-ts/protocol';
import type { CommitLog } from '../commitlog/commit-log.js';
import type { CommitLogDispatcher } from '../commit-log-dispatcher.js';
import type { StoreLogger } from '../probe.js';
import type { StoreState } from '../store-state.js';

/** The part of a chunk that falls into one commit-log segment. */
export interface RawPiece {
  /** Byte range of the chunk. */
  from: number;
  to: number;
  /** Log offset where this piece leaves the log: offset + to, or the segment end when the piece stops inside the blank that closes it. */
  end: number;
  /** Its records, in order. */
  records: RecordInfo[];
}

export type RawChunkCheck = { ok: true; pieces: RawPiece[] } | { ok: false; reason: string };

/**
 * Checks a chunk that is to be appended at log offset `offset`: it must hold whole records only (each
 * with a good body CRC and its own offset stored in it, none crossing a segment end) and blank
 * records that close a segment (the chunk may stop anywhere inside such a blank). The master sends
 * record-aligned chunks, so anything else is damage in transit.
 */
export function checkRawChunk(data: Buffer, offset: number, segmentSize: number, checkCRC = true): RawChunkCheck {
  const pieces: RawPiece[] = [];
  let piece: RawPiece = { from: 0, to: 0, end: offset, records: [] };
  let p = 0;
  while (p < data.length) {
    const at = offset + p;
    const segEnd = (Math.floor(at / segmentSize) + 1) * segmentSize;
    const r = checkMessageRecord(data, p, data.length, { checkCRC, expectedPhysicalOffset: at });
    if (r.kind === 'record') {
      // The writer always leaves room for the closing blank.
      if (at + r.info.size + END_FILE_MIN_BLANK_LENGTH > segEnd) return { ok: false, reason: `record at ${at} crosses the segment end ${segEnd}` };
      piece.records.push(r.info);
      p += r.info.size;
      piece.to = p;
      piece.end = offset + p;
    } else if (r.kind === 'blank') {
      if (at + r.size !== segEnd) return { ok: false, reason: `blank record at ${at} of ${r.size} bytes does not end its segment (${segEnd})` };
      p = Math.min(data.length, p + r.size);
      piece.to = p;
      piece.end = segEnd;
      pieces.push(piece);
      piece = { from: p, to: p, end: segEnd, records: [] };
    } else {
      return { ok: false, reason: r.kind === 'end' ? `no record at ${at}` : `bad record at ${at}: ${r.reason}` };
    }
  }
  if (piece.to > piece.from) pieces.push(piece);
  return { ok: true, pieces };
}

export class RawCommitLogAppender {
  /** Appends run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly commitLog: CommitLog,
    private readonly dispatcher: CommitLogDispatcher,
    private readonly segmentSize: number,
    private readonly state: StoreState,
    private readonly logger: StoreLogger,
  ) {}

  /**
   * Appends `data` from the master at commit-log offset `offset` and dispatches its records. False,
   * with nothing appended, when the store is not running, `offset` is not the end of the local log
   * (the slave then reports its real end and the master resends from there) or the chunk fails
   * checkRawChunk. A chunk spanning segments is appended segment by segment, each one dispatched
   * before the next: an I/O failure in between leaves a consistent log ending at a segment boundary
   * (and returns false).
   */
  append(offset: number, data: Buffer, checkCRC = true): Promise<boolean> {
    const run = this.tail.then(() => this.appendNow(offset, data, checkCRC));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async appendNow(offset: number, data: Buffer, checkCRC: boolean): Promise<boolean> {
    const cl = this.commitLog;
    if (this.state.phase !== 'running') return false;
    if (offset !== cl.wrotePos) {
      this.logger.warn('replicated chunk refused', { offset, expected: cl.wrotePos, reason: 'not at the end of the log' });
      return false;
    }
    const check = checkRawChunk(data, offset, this.segmentSize, checkCRC);
    if (!check.ok) {
      this.logger.warn('replicated chunk refused', { offset, bytes: data.length, reason: check.reason });
      return false;
    }
    try {
      for (const piece of check.pieces) {
        await cl.appendRaw(offset + piece.from, data.subarray(piece.from, piece.to), piece.end);
        for (const info of piece.records) {
          this.dispatcher.dispatchRecord(info);
          cl.lastStoreTimestamp = info.storeTimestamp;
        }
      }
    } catch (e) {
      this.logger.error('replicated chunk not appended', { offset, error: String(e) });
      return false;
    }
    return true;
  }
}
