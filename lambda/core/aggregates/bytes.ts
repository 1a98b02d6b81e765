/**
 * The byte form of accumulators: unsigned varints (LEB128), zigzag for signed integers, and numbers as a varint
 * when they are small integers (counts, amounts in cents, most event times) or as eight IEEE-754 bytes otherwise.
 * Stored state is billed by size, so the common integer cases take one to four bytes instead of a JSON number.
 */

/** Integers up to this magnitude are written as varints (2^50: zigzag × 2 + tag stays a safe integer). */
const SMALL = 2 ** 50;

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private n = 0;

  public constructor(initial = 64) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  public get length(): number {
    return this.n;
  }

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  public byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b & 0xff;
  }

  /** Unsigned integer (safe integers only), 7 bits a byte. */
  public uvarint(v: number): void {
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
  }

  /** Signed integer, zigzag-encoded so small magnitudes stay short. */
  public svarint(v: number): void {
    this.uvarint(v < 0 ? -2 * v - 1 : 2 * v);
  }

  public float64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.n, v, true);
    this.n += 8;
  }

  /** Any number, exactly: a tagged varint for small integers, else a tag and eight bytes (NaN, ±Infinity, -0 too). */
  public num(v: number): void {
    if (Number.isInteger(v) && Math.abs(v) < SMALL && !Object.is(v, -0)) {
      this.uvarint((v < 0 ? -2 * v - 1 : 2 * v) * 2);
    } else {
      this.byte(1);
      this.float64(v);
    }
  }

  public bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }

  public finish(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** Malformed stored state: named so a corrupt item is reported, never silently read as zeros. */
export class StateDecodeError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'StateDecodeError';
  }
}

export class ByteReader {
  private n = 0;
  private readonly view: DataView;

  public constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  public get done(): boolean {
    return this.n >= this.buf.length;
  }

  private need(k: number): void {
    if (this.n + k > this.buf.length) throw new StateDecodeError(`state bytes end early (need ${k} more at offset ${this.n} of ${this.buf.length})`);
  }

  public byte(): number {
    this.need(1);
    return this.buf[this.n++]!;
  }

  public uvarint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new StateDecodeError(`varint too long at offset ${this.n}`);
    }
  }

  public svarint(): number {
    const u = this.uvarint();
    return u % 2 === 1 ? -(u + 1) / 2 : u / 2;
  }

  public float64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.n, true);
    this.n += 8;
    return v;
  }

  public num(): number {
    const first = this.buf[this.n];
    if (first === 1) {
      this.n += 1;
      return this.float64();
    }
    const u = this.uvarint();
    const z = u / 2;
    return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
  }

  public bytes(k: number): Uint8Array {
    this.need(k);
    const out = this.buf.subarray(this.n, this.n + k);
    this.n += k;
    return out;
  }
}

/** Base64 text of bytes (stored state travels inside a JSON attribute). */
export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

export function fromBase64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}
