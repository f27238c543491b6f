/**
 * A set of queue offsets as one bit each, from a base offset upward: the finished half messages
 * (half queue offsets are dense, so a million transactions cost 125 KiB, not a hash set's tens of MiB).
 */
export class OffsetBits {
  private bits = new Uint8Array(1024);
  private base: number;

  constructor(base = 0) {
    this.base = base;
  }

  has(offset: number): boolean {
    const i = offset - this.base;
    if (i < 0 || i >= this.bits.length * 8) return false;
    return ((this.bits[i >>> 3] ?? 0) & (1 << (i & 7))) !== 0;
  }

  add(offset: number): void {
    const i = offset - this.base;
    if (i < 0) return;
    if (i >= this.bits.length * 8) {
      let n = this.bits.length * 2;
      while (i >= n * 8) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.bits);
      this.bits = grown;
    }
    const j = i >>> 3;
    this.bits[j] = (this.bits[j] ?? 0) | (1 << (i & 7));
  }

  /** Forgets offsets below `min` (their half messages are gone from the store), in whole bytes. */
  dropBelow(min: number): void {
    const bytes = Math.floor((min - this.base) / 8);
    if (bytes < 4096) return;
    const rest = this.bits.subarray(Math.min(bytes, this.bits.length));
    const next = new Uint8Array(Math.max(1024, rest.length));
    next.set(rest);
    this.bits = next;
    this.base += bytes * 8;
  }
}
