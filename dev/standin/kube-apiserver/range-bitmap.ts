/**
 * The allocation bitmap of a range as v1.13 keeps it in a RangeAllocation's `data`: the bytes of a
 * big integer (big-endian, no leading zero bytes) whose bit i is set when offset i is taken.
 */
export class RangeBitmap {
  private readonly bytes: Uint8Array;

  constructor(readonly size: number, data?: Buffer) {
    this.bytes = new Uint8Array(Math.ceil(size / 8));
    if (data && data.length > 0) {
      const src = data.length > this.bytes.length ? data.subarray(data.length - this.bytes.length) : data;
      this.bytes.set(src, this.bytes.length - src.length);
    }
  }

  private at(i: number): [number, number] {
    return [this.bytes.length - 1 - Math.floor(i / 8), 1 << i % 8];
  }

  has(i: number): boolean {
    const [byte, bit] = this.at(i);
    return (this.bytes[byte]! & bit) !== 0;
  }

  set(i: number): void {
    const [byte, bit] = this.at(i);
    this.bytes[byte]! |= bit;
  }

  clear(i: number): void {
    const [byte, bit] = this.at(i);
    this.bytes[byte]! &= ~bit;
  }

  count(): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) if (this.has(i)) n++;
    return n;
  }

  /** The first free offset at or after `start`, wrapping around (v1.13's random-scan strategy). */
  firstFree(start: number): number | undefined {
    for (let k = 0; k < this.size; k++) {
      const i = (start + k) % this.size;
      if (!this.has(i)) return i;
    }
    return undefined;
  }

  encode(): Buffer {
    let first = 0;
    while (first < this.bytes.length && this.bytes[first] === 0) first++;
    return Buffer.from(this.bytes.subarray(first));
  }
}
