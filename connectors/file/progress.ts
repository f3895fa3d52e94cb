/**
 * Replay progress on stderr for file and stdin sources. It counts records attributed (and
 * records finished: attributed, skipped or dead-lettered), not lines read: reading is fast,
 * attribution is what takes the time. The ETA extrapolates the finished-record rate to the
 * estimated total (lines read scaled by the share of bytes read, when the size is known).
 *
 * On a terminal (or `progress: on`) it is a bar redrawn in place; otherwise (`auto` without a
 * terminal) one summary line every `interval_ms`. Log lines written through a StatusLineStream
 * clear the bar first and redraw it after, so the two never share a line.
 */
export type ProgressMode = "auto" | "on" | "off";

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(s: string): boolean;
}

/** What the pipeline has done with the records read so far. */
export interface RecordCounts {
  readonly attributed: number;
  /** Attributed, skipped by sampling or dead-lettered. */
  readonly done: number;
}

/** A stream that can hold one status line under the log lines (src/cli/status-line.ts). */
interface StatusLineCapable extends ProgressStream {
  setStatus(line: string | undefined): void;
}

function hasStatus(s: ProgressStream): s is StatusLineCapable {
  return typeof (s as Partial<StatusLineCapable>).setStatus === "function";
}

function clock(secs: number): string {
  const s = Math.max(0, Math.round(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

export interface ReplayProgressOptions {
  readonly mode: ProgressMode;
  readonly stream?: ProgressStream;
  /** Total bytes of all inputs; undefined when unknown (stdin). */
  readonly totalBytes?: number | undefined;
  /** The pipeline's counts; without them only reading is shown. */
  readonly counts?: (() => RecordCounts | undefined) | undefined;
  /** Between summary lines when not drawing a bar. */
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export class ReplayProgress {
  private readonly style: "bar" | "lines" | "off";
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly t0: number;
  private bytes = 0;
  private lines = 0;
  private readDone = false;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly opts: ReplayProgressOptions,
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.style = opts.mode === "off" ? "off" : opts.mode === "on" || this.stream.isTTY === true ? "bar" : "lines";
    this.now = opts.now ?? Date.now;
    this.t0 = this.now();
  }

  /** Starts redrawing (bar: 5 times a second; lines: every interval). */
  start(): void {
    if (this.style === "off" || this.timer) return;
    const every = this.style === "bar" ? 200 : (this.opts.intervalMs ?? 10_000);
    this.timer = setInterval(() => this.draw(), every);
    this.timer.unref();
  }

  /** The reader's position; cheap, called as lines are offered. */
  read(bytes: number, lines: number): void {
    this.bytes = bytes;
    this.lines = lines;
  }

  /** Every input has been read (the total number of records is now known). */
  readFinished(): void {
    this.readDone = true;
  }

  /** The source stopped: last state, then the line is left as it is. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.style !== "bar") return;
    this.draw();
    if (hasStatus(this.stream)) this.stream.setStatus(undefined);
    if (this.drawn) this.stream.write("\n");
  }

  /** The text of one progress line (without control characters). */
  text(): string {
    const secs = Math.max(0.001, (this.now() - this.t0) / 1000);
    const total = this.opts.totalBytes;
    const parts: string[] = [this.label];
    const readShare = this.readDone ? 1 : total !== undefined && total > 0 ? Math.min(1, this.bytes / total) : undefined;
    const c = this.opts.counts?.();
    if (c === undefined) {
      if (readShare !== undefined) parts.push(`${(readShare * 100).toFixed(0)}% read`);
      parts.push(`${this.lines.toLocaleString("en-US")} lines`);
      return parts.join(" ");
    }
    const estTotal = readShare !== undefined && readShare > 0 ? Math.round(this.lines / readShare) : undefined;
    const done = Math.min(c.done, estTotal ?? c.done);
    if (estTotal !== undefined && estTotal > 0) {
      const f = done / estTotal;
      const w = 20;
      const fill = Math.round(f * w);
      parts.push(`[${"#".repeat(fill)}${".".repeat(w - fill)}] ${(f * 100).toFixed(0).padStart(3)}%`);
    }
    parts.push(`attributed ${c.attributed.toLocaleString("en-US")}`);
    parts.push(`records ${done.toLocaleString("en-US")}${estTotal !== undefined ? `/${this.readDone ? "" : "~"}${estTotal.toLocaleString("en-US")}` : ""} done`);
    const rate = done / secs;
    parts.push(`${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} rec/s`);
    if (estTotal !== undefined && done > 0 && done < estTotal) parts.push(`ETA ${clock((estTotal - done) / rate)}`);
    parts.push(`elapsed ${clock(secs)}`);
    return parts.join(" ");
  }

  private draw(): void {
    if (this.style === "off") return;
    const line = this.text();
    if (this.style === "lines") {
      this.stream.write(`${line}\n`);
      return;
    }
    this.drawn = true;
    if (hasStatus(this.stream)) this.stream.setStatus(line);
    else this.stream.write(`\r\x1b[2K${line}`);
  }
}
