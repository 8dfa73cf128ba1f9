/** Opaque cursors of the events listing. */
import { Buffer } from "node:buffer";
import { hash32 } from "./prng.ts";
import { S_CURSOR, type Dataset } from "./dataset.ts";
import { ClientError } from "./params.ts";

/** A position in a window's listing: the day (from the window's first) and the offset in its listing. */
export interface CursorState {
  day: number;
  offset: number;
}

/** Opaque cursors: base64url JSON of the position, bound to the window and dataset by a check value. */
export class Cursors {
  constructor(private readonly ds: Dataset) {}

  private check(start: number, end: number, day: number, offset: number): string {
    const parts = [this.ds.seed, this.ds.eventsPerDay, this.ds.users, start, end, day, offset];
    return hash32(S_CURSOR, ...parts).toString(16).padStart(8, "0") + hash32(S_CURSOR + 1, ...parts).toString(16).padStart(8, "0");
  }

  encode(start: number, end: number, state: CursorState): string {
    const k = this.check(start, end, state.day, state.offset);
    return Buffer.from(JSON.stringify({ d: state.day, o: state.offset, k })).toString("base64url");
  }

  decode(start: number, end: number, cursor: string): CursorState {
    const bad = (): ClientError => new ClientError(400, "bad_cursor", "cursor is invalid or does not belong to this window");
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw bad();
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    } catch {
      throw bad();
    }
    if (typeof v !== "object" || v === null) throw bad();
    const { d, o, k } = v as Record<string, unknown>;
    if (!Number.isSafeInteger(d) || !Number.isSafeInteger(o) || typeof k !== "string") throw bad();
    const day = d as number;
    const offset = o as number;
    if (day < 0 || offset < 0 || k !== this.check(start, end, day, offset)) throw bad();
    return { day, offset };
  }
}
