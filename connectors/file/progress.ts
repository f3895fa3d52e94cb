/**
 * A one-line progress bar on stderr for file and stdin replays: percent (when the size is
 * known), lines and lines/s. Drawn only on a terminal (or when forced), at most 5 times a second.
 */
export type ProgressMode = "auto" | "on" | "off";

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(s: string): boolean;
}

export class ProgressBar {
  private readonly enabled: boolean;
  private last = 0;
  private readonly t0 = Date.now();
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly totalBytes: number | undefined,
    mode: ProgressMode,
    private readonly stream: ProgressStream = process.stderr,
  ) {
    this.enabled = mode === "on" || (mode === "auto" && stream.isTTY === true);
  }

  update(bytes: number, lines: number, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 200) return;
    this.last = now;
    const secs = Math.max(0.001, (now - this.t0) / 1000);
    const rate = Math.round(lines / secs).toLocaleString("en-US");
    let bar = "";
    if (this.totalBytes !== undefined && this.totalBytes > 0) {
      const f = Math.min(1, bytes / this.totalBytes);
      const w = 24;
      const fill = Math.round(f * w);
      bar = ` [${"#".repeat(fill)}${".".repeat(w - fill)}] ${(f * 100).toFixed(0).padStart(3)}%`;
    }
    this.stream.write(`\r\x1b[2K${this.label}${bar} ${lines.toLocaleString("en-US")} lines ${rate} lines/s`);
    this.drawn = true;
  }

  done(bytes: number, lines: number): void {
    if (!this.enabled) return;
    this.update(bytes, lines, true);
    if (this.drawn) this.stream.write("\n");
  }
}
