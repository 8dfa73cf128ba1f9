/** A growable byte buffer with the few writers the record serializer needs. */
import { Buffer } from "node:buffer";

/** A growable byte buffer written at `pos`. */
export class ByteOut {
  buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(1024, capacity));
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  bytes(b: Uint8Array): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p++] = b[i]!;
    this.pos = p;
  }

  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /** A non-negative integer in decimal. */
  int(n: number): void {
    if (n < 10) {
      this.buf[this.pos++] = 48 + n;
      return;
    }
    let digits = 2;
    for (let x = 100; x <= n; x *= 10) digits++;
    let p = this.pos + digits;
    this.pos = p;
    while (n > 0) {
      const q = Math.floor(n / 10);
      this.buf[--p] = 48 + n - q * 10;
      n = q;
    }
  }

  /** `n` zero-padded to `width` digits. */
  padded(n: number, width: number): void {
    let p = this.pos + width;
    this.pos = p;
    for (let i = 0; i < width; i++) {
      const q = Math.floor(n / 10);
      this.buf[--p] = 48 + n - q * 10;
      n = q;
    }
  }

  /** An ASCII string (the rare path). */
  str(s: string): void {
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, "latin1");
  }
}
