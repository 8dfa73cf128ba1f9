/**
 * Where `sluice query` results go, in bounded memory: CSV and JSON are written a batch at a time
 * as DuckDB streams them (waiting for a slow reader), a table keeps only the rows it will show.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import { terminalSafe } from "../core/terminal-text.ts";
import { displayCell, duckdbDtype, isNumericDtype } from "./cell-display.ts";
import { renderFrame, type FrameLayout } from "./frame-table.ts";
import { csvLine, jsonRowText, uniqueNames } from "./row-encoding.ts";

/** Text written to a stream with backpressure; a reader that went away (`| head`) ends the output quietly. */
export class TextSink {
  private gone = false;
  private failure: Error | undefined;

  constructor(private readonly stream: Writable) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") this.gone = true;
      else this.failure = error;
    });
  }

  /** True once the reader closed its end: nothing more is worth producing. */
  get closed(): boolean {
    return this.gone;
  }

  /** Writes `text`, waiting while the stream's buffer is full. */
  async write(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.gone || text === "") return;
    if (!this.stream.write(text)) await this.drained();
  }

  /** Resolves on "drain" (or "close": a reader that went away drains nothing), leaving no listener behind. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("close", done);
    });
  }

  /** Ends a stream we own (an output file) and waits until its bytes are on disk. */
  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    this.stream.end();
    await once(this.stream, "finish");
    if (this.failure) throw this.failure;
  }
}

/** A consumer of a query's rows, batch by batch. */
export interface RowWriter {
  begin(columns: string[], types: string[]): Promise<void>;
  rows(batch: unknown[][]): Promise<void>;
  end(): Promise<void>;
}

/** RFC 4180 CSV with a header line; `terminal`: control characters escaped (a person reads it). */
export class CsvWriter implements RowWriter {
  constructor(
    private readonly sink: TextSink,
    private readonly terminal: boolean,
  ) {}

  begin(columns: string[]): Promise<void> {
    return this.put(`${csvLine(columns)}\n`);
  }

  rows(batch: unknown[][]): Promise<void> {
    return this.put(batch.map((r) => `${csvLine(r)}\n`).join(""));
  }

  async end(): Promise<void> {}

  private put(text: string): Promise<void> {
    return this.sink.write(this.terminal ? terminalSafe(text, { newlines: true }) : text);
  }
}

/** A JSON array of objects, one per line; repeated column names made unique (a, a_1). */
export class JsonWriter implements RowWriter {
  private names: string[] = [];
  private first = true;

  constructor(private readonly sink: TextSink) {}

  begin(columns: string[]): Promise<void> {
    this.names = uniqueNames(columns);
    return this.sink.write("[");
  }

  rows(batch: unknown[][]): Promise<void> {
    let text = "";
    for (const row of batch) {
      text += `${this.first ? "" : ","}\n  ${jsonRowText(this.names, row)}`;
      this.first = false;
    }
    return this.sink.write(text);
  }

  end(): Promise<void> {
    return this.sink.write(this.first ? "]\n" : "\n]\n");
  }
}

/** EXPLAIN as a person reads it: the plan text itself (DuckDB draws it), not a one-cell table. */
export class PlanWriter implements RowWriter {
  constructor(private readonly sink: TextSink) {}

  async begin(): Promise<void> {}

  rows(batch: unknown[][]): Promise<void> {
    return this.sink.write(batch.map((r) => `${terminalSafe(String(r.at(-1) ?? ""), { newlines: true })}\n`).join(""));
  }

  async end(): Promise<void> {}
}

/** Keeps the first and last rows a table shows (at most `maxRows` in all) and counts the rest. */
export class TableCollector implements RowWriter {
  private columns: string[] = [];
  private dtypes: string[] = [];
  private readonly first: unknown[][] = [];
  private readonly last: unknown[][] = [];
  private total = 0;

  constructor(private readonly maxRows: number) {}

  async begin(columns: string[], types: string[]): Promise<void> {
    this.columns = columns;
    this.dtypes = types.map(duckdbDtype);
  }

  async rows(batch: unknown[][]): Promise<void> {
    const tailSize = Math.floor(this.maxRows / 2);
    for (const row of batch) {
      this.total++;
      if (this.first.length < this.maxRows) this.first.push(row);
      else if (tailSize > 0) {
        this.last.push(row);
        if (this.last.length > tailSize) this.last.shift();
      }
    }
  }

  async end(): Promise<void> {}

  /** The frame, fitted to `layout`, and a note when rows were left out. */
  render(layout: FrameLayout): string {
    const cut = this.total > this.maxRows;
    const tailSize = cut ? Math.floor(this.maxRows / 2) : 0;
    const headSize = cut ? this.maxRows - tailSize : this.first.length;
    const tail = tailSize === 0 ? [] : [...this.first.slice(headSize), ...this.last].slice(-tailSize);
    const show = (rows: unknown[][]): string[][] => rows.map((r) => r.map((v, i) => displayCell(v, this.dtypes[i] ?? "")));
    const view = { columns: this.columns, dtypes: this.dtypes, head: show(this.first.slice(0, headSize)), tail: show(tail), height: this.total, rightAligned: this.dtypes.map(isNumericDtype) };
    const frame = renderFrame(view, layout);
    const note = cut ? `\n${this.total.toLocaleString("en-US")} rows, ${this.maxRows.toLocaleString("en-US")} shown: pass --max-rows N for more, or --format csv, json or parquet (--output FILE) for all of them` : "";
    return `${frame}${note}\n`;
  }
}
