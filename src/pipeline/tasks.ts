/**
 * The pipeline's background work (attributions, sink writes, dead-letter writes, retry waits) as
 * one group with one "abandon" signal. A shutdown past its deadline, or a second signal, abandons
 * the group: every wait rejects at once with `Abandoned`, nothing more completes, and what was not
 * done stays uncommitted (it is redelivered).
 */
import { errorMessage } from "../errors.js";
import { sleep } from "../retry.js";
import type { PipelineLogger } from "./logger.js";

/** Thrown into work that was abandoned (shutdown deadline, revoked partition): never dead-lettered, never committed. */
export class Abandoned extends Error {
  constructor() {
    super("abandoned");
    this.name = "Abandoned";
  }
}

export class TaskGroup {
  private readonly controller = new AbortController();
  private readonly tasks = new Set<Promise<void>>();

  constructor(
    private readonly log: PipelineLogger,
    /** Called whenever a task ends (the pipeline checks whether it is idle). */
    private readonly onSettled: () => void = () => undefined,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get abandoned(): boolean {
    return this.controller.signal.aborted;
  }

  get size(): number {
    return this.tasks.size;
  }

  /** Runs `p` in the background; an unexpected rejection is logged, never thrown. */
  track(p: Promise<void>): void {
    const wrapped = p.catch((err: unknown) => {
      if (err instanceof Abandoned) return;
      this.log.error({ err: errorMessage(err) }, "unexpected error in pipeline task");
    });
    this.tasks.add(wrapped);
    void wrapped.finally(() => {
      this.tasks.delete(wrapped);
      this.onSettled();
    });
  }

  /** Waits `ms`, or rejects with Abandoned as soon as the group is abandoned. */
  sleep(ms: number): Promise<void> {
    return sleep(ms, this.signal);
  }

  abandon(): void {
    if (!this.abandoned) this.controller.abort(new Abandoned());
  }

  /** Resolves when every task ended or after `ms`, whichever comes first. */
  async settled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.tasks]), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }
}
