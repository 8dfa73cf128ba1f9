/** The columns of generated events, before they are written as records. */

/** Growable columns of generated events (typed arrays: ~27 bytes an event while generating). */
export class Cols {
  n = 0;
  user: Int32Array;
  ts: Float64Array;
  type: Uint8Array;
  page: Int16Array;
  cents: Int32Array;
  prec: Uint8Array;
  off: Uint8Array;
  /** 0: id of the previous day's session, 1: of this day's. */
  idDay: Uint8Array;
  /** >= 0: sequence number in the user's day; < 0: -(k+1) for event k of a midnight-crossing session. */
  seq: Int32Array;
  props: Uint8Array;

  constructor(capacity: number) {
    const c = Math.max(16, capacity);
    this.user = new Int32Array(c);
    this.ts = new Float64Array(c);
    this.type = new Uint8Array(c);
    this.page = new Int16Array(c);
    this.cents = new Int32Array(c);
    this.prec = new Uint8Array(c);
    this.off = new Uint8Array(c);
    this.idDay = new Uint8Array(c);
    this.seq = new Int32Array(c);
    this.props = new Uint8Array(c);
  }

  private grow(): void {
    const c = this.user.length * 2;
    const g = <T extends Int32Array | Float64Array | Uint8Array | Int16Array>(a: T, make: (n: number) => T): T => {
      const b = make(c);
      b.set(a as never);
      return b;
    };
    this.user = g(this.user, (n) => new Int32Array(n));
    this.ts = g(this.ts, (n) => new Float64Array(n));
    this.type = g(this.type, (n) => new Uint8Array(n));
    this.page = g(this.page, (n) => new Int16Array(n));
    this.cents = g(this.cents, (n) => new Int32Array(n));
    this.prec = g(this.prec, (n) => new Uint8Array(n));
    this.off = g(this.off, (n) => new Uint8Array(n));
    this.idDay = g(this.idDay, (n) => new Uint8Array(n));
    this.seq = g(this.seq, (n) => new Int32Array(n));
    this.props = g(this.props, (n) => new Uint8Array(n));
  }

  push(user: number, ts: number, type: number, page: number, cents: number, prec: number, off: number, idDay: number, seq: number, props: number): void {
    if (this.n === this.user.length) this.grow();
    const i = this.n++;
    this.user[i] = user;
    this.ts[i] = ts;
    this.type[i] = type;
    this.page[i] = page;
    this.cents[i] = cents;
    this.prec[i] = prec;
    this.off[i] = off;
    this.idDay[i] = idDay;
    this.seq[i] = seq;
    this.props[i] = props;
  }

  copyFrom(src: Cols, i: number, idDay: number): void {
    this.push(src.user[i]!, src.ts[i]!, src.type[i]!, src.page[i]!, src.cents[i]!, src.prec[i]!, src.off[i]!, idDay, src.seq[i]!, src.props[i]!);
  }
}
