import { ProtocolError } from './errors.js';

/** Netty's default for RocketMQ (`com.rocketmq.remoting.frameMaxLength`). */
export const DEFAULT_MAX_FRAME_LENGTH = 16 * 1024 * 1024;
/** First allocation for a large frame that spans chunks. */
const INITIAL_PARTIAL = 64 * 1024;
/**
 * Frames up to this length that span chunks get their whole buffer at once: a 64-message batch
 * (~72 KiB) arrives in two socket reads, and growing from 64 KiB would copy its first part twice.
 * Larger frames start at INITIAL_PARTIAL and grow with what arrives.
 */
const WHOLE_PARTIAL_MAX = 256 * 1024;

/**
 * Splits a TCP byte stream into RocketMQ frames: `int32 length` then `length` bytes. Frames are
 * handed out without the length field. A frame that sits wholly inside one chunk is handed out as
 * a view of that chunk (no copy); only frames that span chunks are assembled into a new buffer.
 * Pure: no sockets, no timers. Throws ProtocolError on a bad length; the caller closes the
 * connection and must not push to this decoder again.
 */
export class FrameDecoder {
  /** Bytes of a length field split across chunks. */
  private readonly lenBuf = Buffer.alloc(4);
  private lenHave = 0;
  /**
   * The frame being assembled across chunks, how long it is and how much of it we have. The
   * buffer grows with what arrives (doubling, up to the frame's length), so a peer that announces
   * a large frame and then sends slowly holds no more memory than it has sent.
   */
  private partial: Buffer | null = null;
  private partialLen = 0;
  private partialHave = 0;
  private failed = false;

  constructor(readonly maxFrameLength: number = DEFAULT_MAX_FRAME_LENGTH) {}

  /** Stream bytes consumed for the frame in progress, length field included (tests, flow control). */
  get pendingBytes(): number {
    return this.partial !== null ? 4 + this.partialHave : this.lenHave;
  }

  /** Bytes allocated for the frame in progress (tests: memory follows what arrived). */
  get pendingCapacity(): number {
    return this.partial !== null ? this.partial.length : 0;
  }

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (this.failed) throw new ProtocolError('decoder already failed');
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.partial !== null) {
        const need = this.partialLen - this.partialHave;
        const take = Math.min(need, end - pos);
        if (this.partialHave + take > this.partial.length) this.grow(this.partialHave + take);
        chunk.copy(this.partial, this.partialHave, pos, pos + take);
        this.partialHave += take;
        pos += take;
        if (this.partialHave === this.partialLen) {
          const frame = this.partial.length === this.partialLen ? this.partial : this.partial.subarray(0, this.partialLen);
          this.partial = null;
          this.partialLen = 0;
          this.partialHave = 0;
          onFrame(frame);
        }
        continue;
      }
      let length: number;
      if (this.lenHave === 0 && end - pos >= 4) {
        length = chunk.readInt32BE(pos);
        pos += 4;
      } else {
        while (this.lenHave < 4 && pos < end) this.lenBuf[this.lenHave++] = chunk[pos++]!;
        if (this.lenHave < 4) return;
        length = this.lenBuf.readInt32BE(0);
        this.lenHave = 0;
      }
      this.checkLength(length);
      if (end - pos >= length) {
        const frame = chunk.subarray(pos, pos + length);
        pos += length;
        onFrame(frame);
      } else {
        // Room for the whole frame when it is small, else for what this chunk holds (at least
        // 64 KiB, at most the frame), grown as more arrives.
        this.partial = Buffer.allocUnsafe(length <= WHOLE_PARTIAL_MAX ? length : Math.min(length, Math.max(INITIAL_PARTIAL, end - pos)));
        this.partialLen = length;
        this.partialHave = 0;
      }
    }
  }

  private grow(need: number): void {
    const old = this.partial as Buffer;
    const next = Buffer.allocUnsafe(Math.min(this.partialLen, Math.max(need, old.length * 2)));
    old.copy(next, 0, 0, this.partialHave);
    this.partial = next;
  }

  private checkLength(length: number): void {
    // A command needs at least its 4-byte serialize-type/header-length word.
    if (length < 4) {
      this.failed = true;
      throw new ProtocolError(`frame length ${length} is too small`);
    }
    if (length > this.maxFrameLength) {
      this.failed = true;
      throw new ProtocolError(`frame length ${length} exceeds the limit of ${this.maxFrameLength} bytes`);
    }
  }
}
