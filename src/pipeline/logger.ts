/**
 * The logger the pipeline writes to: the subset of pino it uses (pino loggers fit as they are).
 * Normal operation logs nothing beyond start and stop; trouble is logged as warn/error.
 */
export interface PipelineLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

export const silentLogger: PipelineLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Logs at most one line per `key` per interval, counting what it held back. */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; held: number }>();
  constructor(
    private readonly log: PipelineLogger,
    private readonly intervalMs = 30_000,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const prev = this.last.get(key);
    if (prev && now - prev.at < this.intervalMs) {
      prev.held++;
      return;
    }
    this.last.set(key, { at: now, held: 0 });
    this.log.warn({ ...obj, ...(prev && prev.held > 0 ? { suppressed_since_last: prev.held } : {}) }, msg);
  }
}
