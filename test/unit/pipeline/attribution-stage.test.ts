/** Attribution with retry alone: concurrency, retries by failure kind, "retry later", revocation. */
import { describe, expect, it } from "vitest";
import type { AttributionResult } from "../../../schemas/attribution-result.js";
import { AttributionError, CircuitOpenError, InputRejectedError, ScoringError } from "../../../src/errors.js";
import { AttributionStage } from "../../../src/pipeline/attribution-stage.js";
import type { RecordAttributor } from "../../../src/pipeline/attributor.js";
import { noopMetrics } from "../../../src/pipeline/contracts.js";
import type { Job } from "../../../src/pipeline/intake.js";
import { RateLimitedLog, silentLogger } from "../../../src/pipeline/logger.js";
import { StatsMetrics } from "../../../src/pipeline/stats.js";
import { TaskGroup } from "../../../src/pipeline/tasks.js";
import { record } from "./helpers.js";

function job(id: string, partition = "p0", offset = 0): Job {
  return {
    msg: { partition, offset: BigInt(offset), key: null, value: Buffer.from("{}"), headers: {}, timestamp: null },
    ticket: { partition, offset: BigInt(offset), epoch: 1 },
    record: record({ id }),
    reason: "rate",
    attempts: 0,
    decided: false,
  };
}

function setup(fail: (id: string, attempt: number) => Error | undefined, opts: { concurrency?: number; delayMs?: number; current?: (j: Job) => boolean } = {}) {
  const attempts = new Map<string, number>();
  let running = 0;
  let maxRunning = 0;
  const attributor: RecordAttributor = {
    model: "fake",
    attributionId: (r) => `aid-${r.id}`,
    attribute: async (r, signal) => {
      const n = (attempts.get(r.id) ?? 0) + 1;
      attempts.set(r.id, n);
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, opts.delayMs ?? 1);
          signal.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
        });
      } finally {
        running--;
      }
      const e = fail(r.id, n);
      if (e) throw e;
      return { attribution_id: `aid-${r.id}`, context: { record_id: r.id }, cost: { model_calls: 1, tokens_processed: 3 } } as unknown as AttributionResult;
    },
  };
  const done: string[] = [];
  const gaveUp: { id: string; code: string; attempts: number }[] = [];
  const pauses: number[] = [];
  const tasks = new TaskGroup(silentLogger);
  const stage = new AttributionStage({
    attributor,
    config: { concurrency: opts.concurrency ?? 1, attribution_timeout_ms: 10_000, retry: { max_attempts: 3, initial_backoff_ms: 2, max_backoff_ms: 4 } },
    budget: undefined,
    tracker: { isCurrent: (t) => opts.current?.(job("x", t.partition)) ?? true },
    metrics: new StatsMetrics(noopMetrics),
    rlog: new RateLimitedLog(silentLogger),
    tasks,
    attributed: (j) => done.push(j.record.id),
    gaveUp: (j, err) => gaveUp.push({ id: j.record.id, code: (err as { code: string }).code, attempts: j.attempts }),
    budgetSkipped: () => undefined,
    retryLater: (ms) => pauses.push(ms),
    settled: () => undefined,
  });
  const idle = async (): Promise<void> => {
    for (let i = 0; i < 400 && (stage.running > 0 || stage.queued > 0 || tasks.size > 0); i++) await new Promise((r) => setTimeout(r, 5));
  };
  return { stage, attempts, done, gaveUp, pauses, tasks, idle, maxRunning: () => maxRunning };
}

describe("AttributionStage", () => {
  it("runs at most `concurrency` attributions at once and hands every result on", async () => {
    const s = setup(() => undefined, { concurrency: 3, delayMs: 5 });
    for (let i = 0; i < 10; i++) s.stage.push(job(`r${i}`, "p0", i), 0, 10);
    await s.idle();
    expect(s.done.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`).sort());
    expect(s.maxRunning()).toBe(3);
  });

  it("retries transient and unexpected failures up to max_attempts, gives up on permanent ones at once", async () => {
    const s = setup((id, n) => {
      if (id === "transient") return new ScoringError({ what: "scoring", why: "boom" });
      if (id === "flaky" && n < 3) return new Error("socket hang up");
      if (id === "permanent") return new InputRejectedError({ what: "preparing the input", why: "too long" });
      if (id === "worded-like-input" && n < 2) return new AttributionError({ what: "preparing the input", why: "flaky" });
      return undefined;
    });
    for (const id of ["transient", "flaky", "permanent", "worded-like-input"]) s.stage.push(job(id), 0, 10);
    await s.idle();
    expect(Object.fromEntries(s.attempts)).toEqual({ transient: 3, flaky: 3, permanent: 1, "worded-like-input": 2 });
    expect([...s.gaveUp].sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: "permanent", code: "input_rejected", attempts: 1 },
      { id: "transient", code: "scoring_failed", attempts: 3 },
    ]);
    expect(s.done.sort()).toEqual(["flaky", "worded-like-input"]);
  });

  it("'retry later' puts the job back without counting an attempt and asks for a pause", async () => {
    let opened = 0;
    const s = setup((id) => (id === "a" && opened++ < 2 ? new CircuitOpenError({ what: "scoring", why: "open", retryInMs: 15 }) : undefined));
    s.stage.push(job("a"), 0, 10);
    await s.idle();
    expect(s.done).toEqual(["a"]);
    expect(s.gaveUp).toEqual([]);
    expect(s.pauses).toEqual([15, 15]);
    s.stage.pauseUntil(Date.now() + 50);
    expect(s.stage.paused).toBe(true);
    s.stage.push(job("b"), 0, 10);
    await new Promise((r) => setTimeout(r, 20));
    expect(s.attempts.get("b")).toBeUndefined(); // paused: nothing starts
    await s.idle();
    expect(s.done).toEqual(["a", "b"]);
  });

  it("revocation aborts the partition's attribution in flight and drops its queued jobs", async () => {
    const s = setup(() => undefined, { delayMs: 60_000 });
    s.stage.push(job("slow", "p0", 0), 0, 10);
    s.stage.push(job("queued", "p0", 1), 0, 10);
    await new Promise((r) => setTimeout(r, 10));
    s.stage.revoke(["p0"]);
    await s.idle();
    expect(s.stage.queued).toBe(0);
    expect(s.done).toEqual([]);
    expect(s.gaveUp).toEqual([]);
    expect(s.attempts.get("queued")).toBeUndefined();
  });

  it("abandon stops attributions in flight; nothing is handed on", async () => {
    const s = setup(() => undefined, { delayMs: 60_000 });
    s.stage.push(job("a"), 0, 10);
    await new Promise((r) => setTimeout(r, 10));
    s.tasks.abandon();
    await s.tasks.settled(1000);
    expect(s.stage.running).toBe(0);
    expect(s.done).toEqual([]);
    expect(s.gaveUp).toEqual([]);
    s.stage.close();
  });
});
