/** Delivery with retry alone: sinks by failure kind, exporters best effort, durable dead letters. */
import { describe, expect, it } from "vitest";
import type { AttributionResult } from "../../../schemas/attribution-result.js";
import { SinkError } from "../../../src/errors.js";
import type { AttributionExporter } from "../../../src/pipeline/contracts.js";
import { noopMetrics } from "../../../src/pipeline/contracts.js";
import { Delivery } from "../../../src/pipeline/delivery.js";
import type { Job } from "../../../src/pipeline/intake.js";
import { RateLimitedLog, silentLogger } from "../../../src/pipeline/logger.js";
import type { OffsetTicket } from "../../../src/pipeline/offsets.js";
import { StatsMetrics } from "../../../src/pipeline/stats.js";
import { TaskGroup } from "../../../src/pipeline/tasks.js";
import { MemoryDeadLetters, MemorySink, record } from "./helpers.js";

function job(id: string, offset = 0): Job {
  return {
    msg: { partition: "p0", offset: BigInt(offset), key: null, value: Buffer.from(`{"id":"${id}"}`), headers: {}, timestamp: null },
    ticket: { partition: "p0", offset: BigInt(offset), epoch: 1 },
    record: record({ id }),
    reason: "rate",
    attempts: 1,
    decided: true,
  };
}
const result = (id: string): AttributionResult => ({ attribution_id: `aid-${id}`, context: { record_id: id } }) as unknown as AttributionResult;

function setup(sinks: MemorySink[], dlq = new MemoryDeadLetters(), exporters: AttributionExporter[] = []) {
  const completed: OffsetTicket[] = [];
  const results: string[] = [];
  const tasks = new TaskGroup(silentLogger);
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (_o: Record<string, unknown>, m: string) => warnings.push(m) };
  const d = new Delivery({
    sinks,
    exporters,
    deadLetters: dlq,
    sinkRetry: { max_attempts: 3, initial_backoff_ms: 2, max_backoff_ms: 4 },
    deadLetterRetry: { max_attempts: 1, initial_backoff_ms: 2, max_backoff_ms: 4 },
    tracker: { isCurrent: () => true },
    metrics: new StatsMetrics(noopMetrics),
    rlog: new RateLimitedLog(log, 0),
    tasks,
    complete: (t) => completed.push(t),
    onResult: (r) => results.push(r.attribution_id),
  });
  const idle = async (): Promise<void> => {
    for (let i = 0; i < 400 && tasks.size > 0; i++) await new Promise((r) => setTimeout(r, 5));
  };
  return { d, completed, results, tasks, idle, dlq, warnings };
}

describe("Delivery", () => {
  it("completes a record only after every sink accepted its result, then tells exporters and onResult", async () => {
    const a = new MemorySink();
    const b = new MemorySink();
    b.delayMs = 20;
    const seen: string[] = [];
    const exporter: AttributionExporter = { name: "x", onAttributed: (r) => seen.push(r.attribution_id), onFailed: () => undefined, shutdown: () => Promise.resolve() };
    const s = setup([a, b], undefined, [exporter]);
    s.d.deliver(job("r1"), result("r1"));
    await new Promise((r) => setTimeout(r, 5));
    expect(a.results).toHaveLength(1);
    expect(s.completed).toHaveLength(0); // b has not confirmed yet
    await s.idle();
    expect(s.completed.map((t) => t.offset)).toEqual([0n]);
    expect(seen).toEqual(["aid-r1"]);
    expect(s.results).toEqual(["aid-r1"]);
  });

  it("retries a transient sink error past max_attempts (holding the offset); a permanent one dead-letters after max_attempts", async () => {
    const sink = new MemorySink();
    let downFor = 5;
    sink.failIf = (r) => {
      if (r.context.record_id === "bad") return new SinkError({ what: "inserting", why: "bad row", sink: "m", retryable: false });
      if (r.context.record_id === "down" && downFor-- > 0) return new SinkError({ what: "inserting", why: "refused", sink: "m", retryable: true });
      return undefined;
    };
    const s = setup([sink]);
    s.d.deliver(job("down", 0), result("down"));
    s.d.deliver(job("bad", 1), result("bad"));
    await s.idle();
    expect(sink.results.map((r) => r.context.record_id)).toEqual(["down"]);
    expect(s.dlq.letters.map((l) => [l.recordId, l.stage, l.code])).toEqual([["bad", "sink", "sink_failed"]]);
    expect(s.completed.map((t) => t.offset).sort()).toEqual([0n, 1n]);
  });

  it("a throwing exporter is logged and ignored", async () => {
    const exporter: AttributionExporter = {
      name: "broken",
      onAttributed: () => {
        throw new Error("boom");
      },
      onFailed: () => {
        throw new Error("boom");
      },
      shutdown: () => Promise.resolve(),
    };
    const s = setup([new MemorySink()], undefined, [exporter]);
    s.d.deliver(job("r1"), result("r1"));
    await s.idle();
    s.d.notifyExporters((e) => e.onFailed({} as never));
    expect(s.completed).toHaveLength(1);
    expect(s.warnings).toEqual(["exporter threw; ignored", "exporter threw; ignored"]);
  });

  it("completes a dead-lettered record only once its dead letter is durable", async () => {
    const dlq = new MemoryDeadLetters();
    dlq.failNext = 2;
    const s = setup([], dlq);
    s.d.deadLetter(job("x").msg, job("x").ticket, "parse", new Error("bad"), 1, null);
    await new Promise((r) => setTimeout(r, 1));
    expect(s.completed).toHaveLength(0);
    await s.idle();
    expect(dlq.letters).toHaveLength(1);
    expect(s.completed).toHaveLength(1);
  });

  it("abandoned work completes nothing", async () => {
    const sink = new MemorySink();
    sink.failIf = () => new SinkError({ what: "inserting", why: "down", sink: "m", retryable: true });
    const s = setup([sink]);
    s.d.deliver(job("r1"), result("r1"));
    await new Promise((r) => setTimeout(r, 20));
    s.tasks.abandon();
    await s.tasks.settled(1000);
    expect(s.completed).toHaveLength(0);
    expect(s.dlq.letters).toHaveLength(0);
  });
});
