// int64 fields as JS numbers. Offsets and timestamps stay below 2^53, so a number is exact and
// avoids a BigInt allocation per field on the hot path.

const TWO_32 = 4294967296;

/** Writes a signed 64-bit big-endian integer (|v| < 2^53). */
export function writeInt64BE(buf: Buffer, pos: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi | 0, pos);
  buf.writeUInt32BE(v - hi * TWO_32, pos + 4);
}

/** Reads a signed 64-bit big-endian integer; exact for |v| < 2^53. */
export function readInt64BE(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * TWO_32 + buf.readUInt32BE(pos + 4);
}
