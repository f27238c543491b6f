// int64 fields as JS numbers. Offsets and timestamps stay below 2^53, so a number is exact and
// avoids a BigInt allocation per field on the hot path.

const TWO_32 = 4294967296;

/**
 * Writes a 32-bit big-endian integer (int32 or uint32) with plain byte stores: the encoders call
 * this several times per record, and Buffer#writeInt32BE's argument checks cost more than the
 * stores. The caller guarantees `pos + 4 <= buf.length` (as for the record encoder's room).
 */
export function writeInt32BEUnchecked(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = v >>> 24;
  buf[pos + 1] = v >>> 16;
  buf[pos + 2] = v >>> 8;
  buf[pos + 3] = v;
}

/**
 * Reads a signed 32-bit big-endian integer with byte loads. The caller guarantees
 * `pos + 4 <= buf.length` (Buffer#readInt32BE checks its argument through a wrapped validator on
 * every call, which costs more than the loads in the record decoders' loops).
 */
export function readInt32BEUnchecked(buf: Uint8Array, pos: number): number {
  return (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!;
}

/** Reads a signed 16-bit big-endian integer with byte loads; the caller guarantees `pos + 2 <= buf.length`. */
export function readInt16BEUnchecked(buf: Uint8Array, pos: number): number {
  return (((buf[pos]! << 8) | buf[pos + 1]!) << 16) >> 16;
}

/** Writes a signed 64-bit big-endian integer (|v| < 2^53). */
export function writeInt64BE(buf: Buffer, pos: number, v: number): void {
  if (!(pos >= 0 && pos + 8 <= buf.length)) throw new RangeError(`int64 write at ${pos} outside a buffer of ${buf.length}`);
  const hi = Math.floor(v / TWO_32);
  const lo = v - hi * TWO_32;
  buf[pos] = hi >>> 24;
  buf[pos + 1] = hi >>> 16;
  buf[pos + 2] = hi >>> 8;
  buf[pos + 3] = hi;
  buf[pos + 4] = lo >>> 24;
  buf[pos + 5] = lo >>> 16;
  buf[pos + 6] = lo >>> 8;
  buf[pos + 7] = lo;
}

/** Reads a signed 64-bit big-endian integer; exact for |v| < 2^53. Byte loads, one bounds check. */
export function readInt64BE(buf: Buffer, pos: number): number {
  if (!(pos >= 0 && pos + 8 <= buf.length)) throw new RangeError(`int64 read at ${pos} outside a buffer of ${buf.length}`);
  const hi = (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!;
  const lo = ((buf[pos + 4]! << 24) | (buf[pos + 5]! << 16) | (buf[pos + 6]! << 8) | buf[pos + 7]!) >>> 0;
  return hi * TWO_32 + lo;
}
