import { connect, type Socket } from 'node:net';
import { FrameDecoder, decodeCommand, type RemotingCommand } from '@rocketmq-ts/protocol';

/** A JSON-header frame built by hand from the layout (length, type/len word, header, body). */
export function jsonFrame(header: Record<string, unknown>, body?: Buffer): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const b = body ?? Buffer.alloc(0);
  const f = Buffer.alloc(8 + h.length + b.length);
  f.writeInt32BE(4 + h.length + b.length, 0);
  f.writeInt32BE(h.length, 4); // serialize type 0 in the high byte
  h.copy(f, 8);
  b.copy(f, 8 + h.length);
  return f;
}

export interface RawRocketmqHeader {
  code: number;
  language?: number;
  version?: number;
  opaque: number;
  flag?: number;
  remark?: string;
  ext?: Record<string, string>;
}

/** A ROCKETMQ binary-header frame built by hand from remoting.md §1.4. */
export function rocketmqFrame(h: RawRocketmqHeader, body?: Buffer): Buffer {
  const remark = h.remark ? Buffer.from(h.remark, 'utf8') : Buffer.alloc(0);
  const pairs: Buffer[] = [];
  for (const [k, v] of Object.entries(h.ext ?? {})) {
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(v, 'utf8');
    const p = Buffer.alloc(2 + kb.length + 4 + vb.length);
    p.writeInt16BE(kb.length, 0);
    kb.copy(p, 2);
    p.writeInt32BE(vb.length, 2 + kb.length);
    vb.copy(p, 6 + kb.length);
    pairs.push(p);
  }
  const ext = Buffer.concat(pairs);
  const header = Buffer.alloc(21 + remark.length + ext.length);
  header.writeInt16BE(h.code, 0);
  header.writeUInt8(h.language ?? 0, 2);
  header.writeInt16BE(h.version ?? 479, 3);
  header.writeInt32BE(h.opaque, 5);
  header.writeInt32BE(h.flag ?? 0, 9);
  header.writeInt32BE(remark.length, 13);
  remark.copy(header, 17);
  header.writeInt32BE(ext.length, 17 + remark.length);
  ext.copy(header, 21 + remark.length);
  const b = body ?? Buffer.alloc(0);
  const f = Buffer.alloc(8 + header.length + b.length);
  f.writeInt32BE(4 + header.length + b.length, 0);
  f.writeInt32BE((1 << 24) | header.length, 4);
  header.copy(f, 8);
  b.copy(f, 8 + header.length);
  return f;
}

export interface RawFrame {
  serializeType: number;
  cmd: RemotingCommand;
}

/** A bare TCP client that writes bytes and collects the frames it gets back. */
export class RawClient {
  readonly frames: RawFrame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder();
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) =>
      this.decoder.push(chunk, (f) => {
        this.frames.push({ serializeType: f.readUInt8(0), cmd: decodeCommand(f) });
        this.wake();
      }),
    );
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  /** Resolves once `n` frames have arrived in total. */
  async waitFrames(n: number, timeoutMs = 3000): Promise<RawFrame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.frames.length} of ${n} frames`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} frames (have ${this.frames.length})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames;
  }

  async waitClosed(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('connection not closed in time');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let opaqueSeq = 1000;
export function nextOpaque(): number {
  return ++opaqueSeq;
}

/** Sends a hand-built frame and waits for the response with that opaque. */
export async function call(raw: RawClient, frame: Buffer, opaque: number, timeoutMs = 3000): Promise<RawFrame> {
  const start = raw.frames.length;
  raw.write(frame);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = raw.frames.slice(start).find((f) => f.cmd.opaque === opaque);
    if (hit) return hit;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no response for opaque ${opaque}`);
    await raw.waitFrames(raw.frames.length + 1, left);
  }
}

/** A JSON request frame as a Java client of `version` would send it. */
export function jsonRequest(
  code: number,
  extFields: Record<string, string> | null,
  opts: { version?: number; body?: Buffer; opaque?: number; flag?: number } = {},
): { frame: Buffer; opaque: number } {
  const opaque = opts.opaque ?? nextOpaque();
  const header: Record<string, unknown> = {
    code,
    flag: opts.flag ?? 0,
    language: 'JAVA',
    opaque,
    serializeTypeCurrentRPC: 'JSON',
    version: opts.version ?? 479,
  };
  if (extFields) header['extFields'] = extFields;
  return { frame: jsonFrame(header, opts.body), opaque };
}

export function binRequest(code: number, ext: Record<string, string>, opts: { version?: number; body?: Buffer } = {}): { frame: Buffer; opaque: number } {
  const opaque = nextOpaque();
  return { frame: rocketmqFrame({ code, opaque, ext, ...(opts.version !== undefined ? { version: opts.version } : {}) }, opts.body), opaque };
}
