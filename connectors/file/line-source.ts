/**
 * Line-oriented sources (JSONL files, stdin): each input is one partition whose offsets are
 * 0-based line numbers. Lines are offered in order; when the pipeline has no room the input
 * waits for resume(). Blank lines are offered too: the pipeline counts them (skipped, reason `blank`). Commits go to the
 * checkpoint file, if one is configured.
 */
import type { Readable } from "node:stream";
import { setImmediate as yieldNow } from "node:timers/promises";
import { SourceError, errorMessage } from "../../src/errors.js";
import type { Source, SourceHandler, SourceMessage } from "../../src/pipeline/contracts.js";
import { CheckpointFile } from "./checkpoint.js";
import { ReplayProgress, type ProgressMode, type ProgressStream, type RecordCounts } from "./progress.js";

export interface LineInput {
  readonly partition: string;
  /** Opens the input at `startByte` (0 when the input cannot seek). */
  open(startByte: number): Readable;
  readonly seekable: boolean;
  /** Total bytes, for the progress bar. */
  readonly size?: number;
}

export interface LineSourceOptions {
  readonly checkpoint?: string;
  readonly progress?: ProgressMode;
  readonly progressStream?: ProgressStream;
  /** Between progress summary lines when stderr is not a terminal. */
  readonly progressIntervalMs?: number;
  /** The pipeline's record counts, for the progress line. */
  readonly records?: (() => RecordCounts | undefined) | undefined;
}

const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

export class LineSource implements Source {
  private handler: SourceHandler | undefined;
  private readonly checkpoint: CheckpointFile;
  private readonly paused = new Set<string>();
  private waiters: (() => void)[] = [];
  private stopped = false;
  private current: Readable | undefined;
  /** Per partition: line number -> byte where that line starts (lines read, not yet committed). */
  private readonly starts = new Map<string, Map<bigint, number>>();
  private loopDone: Promise<void> = Promise.resolve();
  private progress: ReplayProgress | undefined;

  /** A seekable input (a file) can be read again; a stream (stdin) cannot. */
  readonly redelivers: boolean;

  constructor(
    readonly name: string,
    private readonly inputs: readonly LineInput[],
    private readonly opts: LineSourceOptions = {},
  ) {
    this.checkpoint = new CheckpointFile(opts.checkpoint, name);
    this.redelivers = inputs.every((i) => i.seekable);
  }

  start(handler: SourceHandler): Promise<void> {
    this.handler = handler;
    this.checkpoint.load();
    this.loopDone = this.loop().then(
      () => {
        if (!this.stopped) handler.ended();
      },
      (err: unknown) => {
        if (!this.stopped) handler.failed(err instanceof SourceError ? err : new SourceError({ what: `reading ${this.name}`, why: errorMessage(err), cause: err, source: this.name }));
      },
    );
    return Promise.resolve();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private async waitResumed(partition: string): Promise<void> {
    while (this.paused.has(partition) && !this.stopped) {
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private async loop(): Promise<void> {
    const handler = this.handler as SourceHandler;
    const sizes = this.inputs.map((i) => i.size);
    const progress = new ReplayProgress(this.inputs.length === 1 ? (this.inputs[0]?.partition ?? this.name) : `${this.inputs.length} files`, {
      mode: this.opts.progress ?? "auto",
      ...(this.opts.progressStream ? { stream: this.opts.progressStream } : {}),
      totalBytes: sizes.every((x) => x !== undefined) ? sizes.reduce<number>((a, x) => a + (x ?? 0), 0) : undefined,
      counts: this.opts.records,
      ...(this.opts.progressIntervalMs === undefined ? {} : { intervalMs: this.opts.progressIntervalMs }),
    });
    this.progress = progress;
    progress.start();
    let bytesBefore = 0;
    let seen = 0;
    for (const input of this.inputs) {
      if (this.stopped) return;
      const p = input.partition;
      const from = this.checkpoint.get(p);
      const seek = input.seekable && from?.byte !== null && from?.byte !== undefined;
      let line = seek ? (from as { line: bigint }).line : 0n;
      const skipBelow = seek ? 0n : (from?.line ?? 0n);
      let byte = seek ? ((from as { byte: number }).byte) : 0;
      const starts = new Map<bigint, number>([[line, byte]]);
      this.starts.set(p, starts);
      handler.assigned([p]);
      const stream = input.open(seek ? byte : 0);
      this.current = stream;
      let rest: Buffer | undefined;
      const emit = async (buf: Buffer): Promise<boolean> => {
        const no = line;
        line++;
        byte += buf.length + 1;
        starts.set(line, byte);
        if (no < skipBelow) return true;
        let end = buf.length;
        if (end > 0 && buf[end - 1] === 0x0d) end--;
        const value = buf.subarray(0, end);
        const msg: SourceMessage = { partition: p, offset: no, key: null, value: Buffer.from(value), headers: EMPTY_HEADERS, timestamp: null };
        for (;;) {
          if (this.stopped) return false;
          await this.waitResumed(p);
          if (this.stopped) return false;
          if (handler.offer(msg)) break;
          this.paused.add(p);
        }
        seen++;
        progress.read(bytesBefore + byte, seen);
        if (seen % 1000 === 0) await yieldNow();
        return true;
      };
      try {
        for await (const chunk of stream) {
          let buf = chunk as Buffer;
          if (rest !== undefined) {
            buf = Buffer.concat([rest, buf]);
            rest = undefined;
          }
          let startIdx = 0;
          for (;;) {
            const nl = buf.indexOf(0x0a, startIdx);
            if (nl < 0) break;
            if (!(await emit(buf.subarray(startIdx, nl)))) return;
            startIdx = nl + 1;
          }
          if (startIdx < buf.length) rest = Buffer.from(buf.subarray(startIdx));
        }
        if (rest !== undefined && rest.length > 0) {
          // A last line without a newline: its end is the end of the input.
          if (!(await emit(rest))) return;
          byte -= 1;
          starts.set(line, byte);
        }
      } finally {
        this.current = undefined;
        bytesBefore += byte;
      }
    }
    progress.readFinished();
  }

  commit(offsets: ReadonlyMap<string, bigint>): Promise<void> {
    for (const [p, next] of offsets) {
      const starts = this.starts.get(p);
      const byte = starts?.get(next) ?? null;
      this.checkpoint.set(p, { line: next, byte });
      if (starts) for (const k of starts.keys()) if (k < next) starts.delete(k);
    }
    this.checkpoint.save();
    return Promise.resolve();
  }

  pause(partitions: readonly string[]): void {
    for (const p of partitions) this.paused.add(p);
  }

  resume(partitions: readonly string[]): void {
    for (const p of partitions) this.paused.delete(p);
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    this.current?.destroy();
    await this.loopDone;
    this.progress?.finish();
  }
}
