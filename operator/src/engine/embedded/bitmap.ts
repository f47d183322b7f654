// A block bitmap: which blocks of a volume hold data (an overlay's allocation map) or belong to a set of blocks
// to copy. Plain bits in a Uint8Array: 64 GiB of 64 KiB blocks is 128 KiB of map. Grows on demand; bits past the
// end read as clear.

/** A run of consecutive set blocks: [start, start + count). */
export interface BlockRange {
  readonly start: number;
  readonly count: number;
}

export class Bitmap {
  private bits: Uint8Array;

  constructor(blocks = 0) {
    this.bits = new Uint8Array(Math.ceil(blocks / 8));
  }

  static fromRanges(ranges: Iterable<BlockRange>): Bitmap {
    const map = new Bitmap();
    for (const r of ranges) map.setRange(r.start, r.count);
    return map;
  }

  /** Blocks the map can hold without growing. */
  get capacity(): number {
    return this.bits.length * 8;
  }

  has(block: number): boolean {
    const byte = this.bits[block >>> 3];
    return byte !== undefined && (byte & (1 << (block & 7))) !== 0;
  }

  set(block: number): void {
    this.ensure(block + 1);
    const i = block >>> 3;
    this.bits[i] = (this.bits[i] ?? 0) | (1 << (block & 7));
  }

  clear(block: number): void {
    const i = block >>> 3;
    const byte = this.bits[i];
    if (byte !== undefined) this.bits[i] = byte & ~(1 << (block & 7));
  }

  setRange(start: number, count: number): void {
    if (count <= 0) return;
    this.ensure(start + count);
    let b = start;
    const end = start + count;
    while (b < end && (b & 7) !== 0) this.set(b++);
    while (b + 8 <= end) {
      this.bits[b >>> 3] = 0xff;
      b += 8;
    }
    while (b < end) this.set(b++);
  }

  clearRange(start: number, count: number): void {
    const end = Math.min(start + count, this.capacity);
    for (let b = start; b < end; b++) {
      if ((b & 7) === 0 && b + 8 <= end) {
        this.bits[b >>> 3] = 0;
        b += 7;
      } else this.clear(b);
    }
  }

  clearAll(): void {
    this.bits.fill(0);
  }

  /** Sets every block set in other. */
  union(other: Bitmap): void {
    this.ensure(other.capacity);
    const theirs = other.bits;
    for (let i = 0; i < theirs.length; i++) this.bits[i] = (this.bits[i] ?? 0) | (theirs[i] ?? 0);
  }

  count(): number {
    let n = 0;
    for (const byte of this.bits) {
      let v = byte;
      while (v !== 0) {
        v &= v - 1;
        n++;
      }
    }
    return n;
  }

  /** Set runs in ascending order, limited to blocks below `limit`. Skips empty bytes quickly (sparse maps). */
  *ranges(limit = this.capacity): Generator<BlockRange> {
    let start = -1;
    const end = Math.min(limit, this.capacity);
    for (let b = 0; b < end; b++) {
      if ((b & 7) === 0) {
        const byte = this.bits[b >>> 3];
        if (start < 0 && byte === 0) {
          b += 7;
          continue;
        }
        if (start >= 0 && byte === 0xff && b + 8 <= end) {
          b += 7;
          continue;
        }
      }
      if (this.has(b)) {
        if (start < 0) start = b;
      } else if (start >= 0) {
        yield { start, count: b - start };
        start = -1;
      }
    }
    if (start >= 0) yield { start, count: end - start };
  }

  clone(): Bitmap {
    const copy = new Bitmap();
    copy.bits = this.bits.slice();
    return copy;
  }

  private ensure(blocks: number): void {
    const need = Math.ceil(blocks / 8);
    if (need <= this.bits.length) return;
    const grown = new Uint8Array(Math.max(need, this.bits.length * 2));
    grown.set(this.bits);
    this.bits = grown;
  }
}
