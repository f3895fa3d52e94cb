/**
 * Commit: every `commit_interval_ms`, and on shutdown, stores what the commit tracker releases
 * (per partition, one past the contiguous done prefix) through the source. A failed commit is
 * logged and retried on the next tick; commits never overlap.
 */
import { errorMessage } from "../errors.js";
import type { Source } from "./contracts.js";
import type { RateLimitedLog } from "./logger.js";
import type { CommitTracker } from "./offsets.js";

export class Committer {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private count = 0;

  constructor(
    private readonly source: Pick<Source, "commit">,
    private readonly tracker: Pick<CommitTracker, "pending" | "markCommitted">,
    private readonly rlog: RateLimitedLog,
    private readonly intervalMs: number,
  ) {}

  /** Successful commits so far. */
  get commits(): number {
    return this.count;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.commitNow(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Commits what is committable; never rejects. Joins a commit already in flight. */
  commitNow(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const pending = this.tracker.pending();
    if (pending.size === 0) return Promise.resolve();
    this.inFlight = (async () => {
      try {
        await this.source.commit(pending);
        for (const [p, o] of pending) this.tracker.markCommitted(p, o);
        this.count++;
      } catch (err) {
        this.rlog.warn("commit", { err: errorMessage(err) }, "commit failed; retrying on the next interval");
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }
}
