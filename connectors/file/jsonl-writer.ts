/**
 * Appends lines to a file in group commits: `append` resolves once the batch holding the line
 * is written (and fsync'ed unless told otherwise), so a caller may treat it as durable. A file
 * that ends in a partial line (a writer killed mid-write) gets a newline first, so the next line
 * stays readable and readers can drop the torn one.
 */
import { mkdirSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { errorMessage } from "../../src/errors.js";

export interface JsonlAppenderOptions {
  /** fsync after each batch (default true): durable across a machine crash, not only a process crash. */
  readonly fsync?: boolean;
  /** Longest a line waits for its batch to be written. */
  readonly flushIntervalMs?: number;
  /** Write at once when this many bytes are waiting. */
  readonly maxBatchBytes?: number;
}

interface Pending {
  readonly text: string;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class JsonlAppender {
  private fh: FileHandle | undefined;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private readonly fsync: boolean;
  private readonly interval: number;
  private readonly maxBytes: number;
  /** Batches written: [lines, ms]. */
  onBatch: ((lines: number, ms: number, ok: boolean) => void) | undefined;

  constructor(
    readonly path: string,
    opts: JsonlAppenderOptions = {},
  ) {
    this.fsync = opts.fsync ?? true;
    this.interval = opts.flushIntervalMs ?? 50;
    this.maxBytes = opts.maxBatchBytes ?? 4 * 1024 * 1024;
  }

  async open(): Promise<void> {
    if (this.fh) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const fh = await open(this.path, "a+");
    const { size } = await fh.stat();
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await fh.write("\n");
    }
    this.fh = fh;
  }

  /** Appends one line (without its newline); resolves when durable. */
  append(line: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ text: `${line}\n`, resolve, reject });
      this.pendingBytes += line.length + 1;
      if (this.pendingBytes >= this.maxBytes) this.kick(0);
      else this.kick(this.interval);
    });
  }

  private kick(delay: number): void {
    if (delay === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.flushLoop();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flushLoop();
    }, delay);
  }

  private async flushLoop(): Promise<void> {
    if (this.writing) return;
    this.writing = (async () => {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
        const t0 = Date.now();
        try {
          if (!this.fh) throw new Error("the file is not open");
          await this.fh.write(batch.map((p) => p.text).join(""));
          if (this.fsync) await this.fh.sync();
          this.onBatch?.(batch.length, Date.now() - t0, true);
          for (const p of batch) p.resolve();
        } catch (err) {
          this.onBatch?.(batch.length, Date.now() - t0, false);
          const e = err instanceof Error ? err : new Error(errorMessage(err));
          for (const p of batch) p.reject(e);
        }
      }
    })();
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
    if (this.pending.length > 0) this.kick(0);
  }

  /** Resolves once everything appended so far is written. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.pending.length > 0 || this.writing) {
      if (this.writing) await this.writing.catch(() => undefined);
      else await this.flushLoop();
    }
  }

  async close(): Promise<void> {
    await this.flush();
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}
