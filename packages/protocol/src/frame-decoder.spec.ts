import { describe, expect, it } from '@jest/globals';
import { FrameDecoder } from './frame-decoder.js';
import { ProtocolError } from './errors.js';

function frame(payload: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32BE(payload.length);
  return Buffer.concat([len, payload]);
}

const payloads = [Buffer.from([0, 0, 0, 0]), Buffer.from('0000abcdefgh'), Buffer.alloc(300, 7), Buffer.from('\0\0\0\x02{}')];
const stream = Buffer.concat(payloads.map(frame));

function collect(chunks: Buffer[], dec = new FrameDecoder()): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) dec.push(c, (f) => out.push(Buffer.from(f)));
  return out;
}

describe('FrameDecoder', () => {
  it('decodes merged frames from one chunk without copying', () => {
    const dec = new FrameDecoder();
    const seen: Buffer[] = [];
    dec.push(stream, (f) => seen.push(f));
    expect(seen).toEqual(payloads);
    expect(seen[2]!.buffer).toBe(stream.buffer); // a view, not a copy
    expect(dec.pendingBytes).toBe(0);
  });

  it('decodes the stream fed one byte at a time, in every state', () => {
    const dec = new FrameDecoder();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      dec.push(stream.subarray(i, i + 1), (f) => out.push(Buffer.from(f)));
      // After each byte, the decoder holds exactly the bytes of the frame in progress.
      const done = out.reduce((n, f) => n + 4 + f.length, 0);
      expect(dec.pendingBytes).toBe(i + 1 - done);
    }
    expect(out).toEqual(payloads);
  });

  it('decodes every split point of the stream', () => {
    for (let a = 0; a <= stream.length; a++) {
      expect(collect([stream.subarray(0, a), stream.subarray(a)])).toEqual(payloads);
    }
  });

  it('decodes random chunkings', () => {
    for (let round = 0; round < 200; round++) {
      const chunks: Buffer[] = [];
      let p = 0;
      while (p < stream.length) {
        const n = 1 + Math.floor(Math.random() * 40);
        chunks.push(stream.subarray(p, p + n));
        p += n;
      }
      expect(collect(chunks)).toEqual(payloads);
    }
  });

  it('rejects frames over the limit and too short, then stays failed', () => {
    const big = Buffer.alloc(4);
    big.writeInt32BE(16 * 1024 * 1024 + 1);
    const dec = new FrameDecoder();
    expect(() => dec.push(big, () => undefined)).toThrow(ProtocolError);
    expect(() => dec.push(Buffer.alloc(1), () => undefined)).toThrow(/already failed/);
    const neg = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    expect(() => new FrameDecoder().push(neg, () => undefined)).toThrow(/too small/);
    expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 3]), () => undefined)).toThrow(/too small/);
  });

  it('accepts a frame of exactly the limit', () => {
    const dec = new FrameDecoder(64);
    const out = collect([frame(Buffer.alloc(64, 1))], dec);
    expect(out[0]!.length).toBe(64);
  });

  it('a frame of a few socket reads (a batch) is assembled in one buffer of its length, never regrown', () => {
    const dec = new FrameDecoder();
    const payload = Buffer.alloc(72 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const wire = frame(payload);
    const out: Buffer[] = [];
    dec.push(wire.subarray(0, 64 * 1024), (f) => out.push(f));
    expect(dec.pendingCapacity).toBe(payload.length);
    dec.push(wire.subarray(64 * 1024), (f) => out.push(f));
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(payload)).toBe(true);
  });

  it('a frame announced large but trickled in holds memory for what arrived, not for its length', () => {
    const dec = new FrameDecoder();
    const len = Buffer.alloc(4);
    len.writeInt32BE(8 * 1024 * 1024);
    dec.push(len, () => undefined);
    for (let i = 0; i < 100; i++) dec.push(Buffer.from([i]), () => undefined);
    expect(dec.pendingBytes).toBe(104);
    expect(dec.pendingCapacity).toBeLessThanOrEqual(64 * 1024);
    // The rest in large chunks: the buffer grows by doubling and the frame comes out whole and exact.
    const body = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = i & 0xff;
    const out: Buffer[] = [];
    for (let off = 100; off < body.length; off += 1_000_000) dec.push(body.subarray(off, Math.min(body.length, off + 1_000_000)), (f) => out.push(f));
    expect(out).toHaveLength(1);
    expect(out[0]!.length).toBe(body.length);
    expect(out[0]!.equals(body)).toBe(true);
    expect(dec.pendingBytes).toBe(0);
  });
});
