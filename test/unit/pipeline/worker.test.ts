import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createFileSource, fileSourceConfigSchema } from "../../../connectors/file/source.js";
import type { AttributionResult } from "../../../schemas/attribution-result.js";
import type { LlmLogRecord } from "../../../schemas/llm-log-record.js";
import { AttributionError, CircuitOpenError, InputRejectedError, ScorerHttpError, ScoringError, SinkError } from "../../../src/errors.js";
import { RequestGuard } from "../../../src/models/http/guard.js";
import type { RecordAttributor } from "../../../src/pipeline/attributor.js";
import type { AttributionExporter, AttributionFailure } from "../../../src/pipeline/contracts.js";
import { RecordMapper } from "../../../src/pipeline/mapping/mapper.js";
import { RecordSampler } from "../../../src/pipeline/sampling/sampler.js";
import { Pipeline, type PipelineDeps } from "../../../src/pipeline/worker.js";
import { formatSummary } from "../../../src/cli/commands/run.js";
import { MemoryDeadLetters, MemorySink, MemorySource } from "./helpers.js";

type Behaviour = (r: LlmLogRecord, attempt: number) => Error | undefined;

class FakeAttributor implements RecordAttributor {
  readonly model = "fake";
  readonly attempts = new Map<string, number>();
  readonly aborted: string[] = [];
  concurrent = 0;
  maxConcurrent = 0;
  constructor(
    private readonly behaviour: Behaviour = () => undefined,
    private readonly delayMs: (r: LlmLogRecord) => number = () => 1,
  ) {}
  attributionId(r: LlmLogRecord): string {
    return `aid-${r.id}`;
  }
  async attribute(r: LlmLogRecord, signal: AbortSignal): Promise<AttributionResult> {
    const n = (this.attempts.get(r.id) ?? 0) + 1;
    this.attempts.set(r.id, n);
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, this.delayMs(r));
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          this.aborted.push(r.id);
          reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        });
      });
    } finally {
      this.concurrent--;
    }
    const err = this.behaviour(r, n);
    if (err) throw err;
    return { attribution_id: this.attributionId(r), context: { record_id: r.id }, cost: { model_calls: 1, sequences_evaluated: 1, tokens_processed: 10 } } as unknown as AttributionResult;
  }
}

class RecordingExporter implements AttributionExporter {
  readonly name = "rec";
  readonly ok: string[] = [];
  readonly failed: AttributionFailure[] = [];
  onAttributed(r: AttributionResult): void {
    this.ok.push(r.attribution_id);
  }
  onFailed(f: AttributionFailure): void {
    this.failed.push(f);
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function lines(n: number, opts: { malformedEvery?: number } = {}): string[] {
  return Array.from({ length: n }, (_, i) => (opts.malformedEvery && i % opts.malformedEvery === 0 ? `{"broken": ${i}` : JSON.stringify({ id: `r-${i}`, prompt: `prompt ${i}`, completion: ` completion ${i}` })));
}

function pipeline(over: Partial<PipelineDeps> & { source: MemorySource }): { p: Pipeline; sink: MemorySink; dlq: MemoryDeadLetters; attr: FakeAttributor } {
  const sink = (over.sinks?.[0] as MemorySink | undefined) ?? new MemorySink();
  const dlq = (over.deadLetters as MemoryDeadLetters | undefined) ?? new MemoryDeadLetters();
  const attr = (over.attributor as FakeAttributor | undefined) ?? new FakeAttributor();
  const p = new Pipeline({
    mapper: new RecordMapper(),
    sampler: new RecordSampler({ rate: 1 }),
    attributor: attr,
    sinks: [sink],
    deadLetters: dlq,
    ...over,
    config: { commit_interval_ms: 20, retries: { max_attempts: 3, initial_backoff_ms: 5, max_backoff_ms: 20 }, sink_retries: { max_attempts: 3, initial_backoff_ms: 5, max_backoff_ms: 20 }, ...over.config },
  });
  return { p, sink, dlq, attr };
}

function endOffsets(src: MemorySource): Map<string, bigint> {
  return new Map([...src.partitions].map(([p, m]) => [p, BigInt(m.length)]));
}

describe("Pipeline", () => {
  it("processes everything: results for sampled records, dead letters for malformed ones, every offset committed", async () => {
    const src = MemorySource.of(lines(300, { malformedEvery: 20 }), 3);
    const sampler = new RecordSampler({ rate: 0.3 });
    const { p, sink, dlq } = pipeline({ source: src, sampler, config: { concurrency: 4 } });
    const summary = await p.run();
    expect(summary.reason).toBe("end_of_input");
    expect(src.committed).toEqual(endOffsets(src));
    const valid = lines(300, { malformedEvery: 20 }).filter((l) => !l.startsWith('{"broken'));
    const expected = valid.map((l) => (JSON.parse(l) as { id: string }).id).filter((id) => sampler.hashSampled({ id } as LlmLogRecord, 0.3));
    expect(sink.results.map((r) => r.context.record_id).sort()).toEqual(expected.sort());
    expect(dlq.letters).toHaveLength(15);
    for (const l of dlq.letters) {
      expect(l.stage).toBe("parse");
      expect(l.code).toBe("record_invalid");
      expect(l.message.value.toString()).toMatch(/^\{"broken/);
      expect(l.message.headers.origin).toBe("test");
    }
    const s = summary.stats;
    expect(s.consumed).toBe(300);
    expect(s.decisions.sampled + s.decisions.skipped).toBe(285);
    expect(s.decisions.sampled).toBe(expected.length);
    expect(s.deadLettered).toEqual({ parse: 15 });
  });

  it("commits monotonically and only past finished records when attributions finish out of order", async () => {
    const src = MemorySource.of(lines(60), 2);
    const attr = new FakeAttributor(undefined, (r) => (Number(r.id.slice(2)) % 7) * 3);
    const { p } = pipeline({ source: src, attributor: attr, config: { concurrency: 8 } });
    await p.run();
    for (const part of ["p0", "p1"]) {
      const seq = src.commits.map((c) => c.get(part)).filter((x): x is bigint => x !== undefined);
      for (let i = 1; i < seq.length; i++) expect(seq[i]! > seq[i - 1]!).toBe(true);
    }
    expect(src.committed).toEqual(endOffsets(src));
    expect(attr.maxConcurrent).toBeGreaterThan(1);
    expect(attr.maxConcurrent).toBeLessThanOrEqual(8);
  });

  it("retries failed attributions and dead-letters after max_attempts (at once for errors retrying cannot fix)", async () => {
    const src = MemorySource.of(lines(10));
    const attr = new FakeAttributor((r, n) => {
      if (r.id === "r-3") return new ScoringError({ what: "scoring", why: "boom" });
      if (r.id === "r-5") return new InputRejectedError({ what: "preparing the input", why: "too long" });
      // The code decides, never the message: this one reads like an input problem but is retried.
      if (r.id === "r-8" && n < 2) return new AttributionError({ what: "preparing the input", why: "flaky" });
      if (r.id === "r-7" && n < 3) return new ScoringError({ what: "scoring", why: "flaky" });
      return undefined;
    });
    const exporter = new RecordingExporter();
    const { p, sink, dlq } = pipeline({ source: src, attributor: attr, exporters: [exporter] });
    const summary = await p.run();
    expect(attr.attempts.get("r-3")).toBe(3);
    expect(attr.attempts.get("r-5")).toBe(1);
    expect(attr.attempts.get("r-7")).toBe(3);
    expect(attr.attempts.get("r-8")).toBe(2);
    expect(sink.results.map((r) => r.context.record_id)).toContain("r-7");
    const byId = new Map(dlq.letters.map((l) => [l.recordId, l]));
    expect(byId.get("r-3")).toMatchObject({ stage: "attribute", code: "scoring_failed", attempts: 3 });
    expect(byId.get("r-5")).toMatchObject({ stage: "attribute", code: "input_rejected", attempts: 1 });
    expect(exporter.failed.map((f) => f.context.record_id).sort()).toEqual(["r-3", "r-5"]);
    expect(exporter.ok).toHaveLength(8);
    expect(sink.results.map((r) => r.context.record_id)).toContain("r-8");
    expect(src.committed.get("p0")).toBe(10n);
    expect(summary.stats.failed).toEqual({ "attribute:scoring_failed": 5, "attribute:input_rejected": 1, "attribute:attribution_failed": 1 });
  });

  it("treats a circuit-open scorer as 'retry later': pauses, does not fail or dead-letter the record", async () => {
    const src = MemorySource.of(lines(5));
    let opened = 0;
    const attr = new FakeAttributor((r) => {
      if (r.id === "r-2" && opened < 2) {
        opened++;
        return new CircuitOpenError({ what: "scoring", why: "breaker open", retryInMs: 30 });
      }
      return undefined;
    });
    const { p, sink, dlq } = pipeline({ source: src, attributor: attr });
    const summary = await p.run();
    expect(dlq.letters).toHaveLength(0);
    expect(sink.results).toHaveLength(5);
    expect(summary.stats.failed).toEqual({});
    expect(attr.attempts.get("r-2")).toBe(3);
    expect(src.committed.get("p0")).toBe(5n);
  });

  it("holds the commit while a sink is down (retryable) and commits once it recovers", async () => {
    const src = MemorySource.of(lines(4));
    const sink = new MemorySink();
    const downUntil = Date.now() + 150;
    let failures = 0;
    sink.failIf = (r) => {
      if (r.context.record_id !== "r-0" || Date.now() > downUntil) return undefined;
      failures++;
      return new SinkError({ what: "inserting", why: "connection refused", sink: "memory", retryable: true });
    };
    const { p } = pipeline({ source: src, sinks: [sink], config: { sink_retries: { max_attempts: 2, initial_backoff_ms: 10, max_backoff_ms: 10 } } });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 100));
    // r-0 is still being retried: nothing at or past it may be committed.
    expect(src.committed.get("p0") ?? 0n).toBe(0n);
    await running;
    expect(failures).toBeGreaterThan(2); // retried past max_attempts: the error is retryable
    expect(sink.results).toHaveLength(4);
    expect(src.committed.get("p0")).toBe(4n);
  });

  it("dead-letters (stage sink) a result a sink rejects for good", async () => {
    const src = MemorySource.of(lines(3));
    const sink = new MemorySink();
    sink.failIf = (r) => (r.context.record_id === "r-0" ? new SinkError({ what: "inserting", why: "bad row", sink: "memory", retryable: false }) : undefined);
    const { p, dlq } = pipeline({ source: src, sinks: [sink], config: { concurrency: 1 } });
    await p.run();
    expect(dlq.letters.map((l) => [l.recordId, l.stage, l.code])).toEqual([["r-0", "sink", "sink_failed"]]);
    expect(src.committed.get("p0")).toBe(3n);
  });

  it("never commits a record whose dead letter is not durable yet", async () => {
    const src = MemorySource.of(["not json", ...lines(2)]);
    const dlq = new MemoryDeadLetters();
    dlq.failNext = 3;
    const { p } = pipeline({ source: src, deadLetters: dlq });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 100));
    expect(src.committed.get("p0") ?? 0n).toBe(0n);
    await running;
    expect(dlq.letters).toHaveLength(1);
    expect(src.committed.get("p0")).toBe(3n);
  }, 15_000);

  it("pauses a partition at max_in_flight_per_partition and resumes it when it drains", async () => {
    const src = MemorySource.of(lines(40));
    const attr = new FakeAttributor(undefined, () => 2);
    let refused = 0;
    const { p } = pipeline({ source: src, attributor: attr, config: { max_in_flight_per_partition: 4, concurrency: 2 } });
    const realOffer = src.start.bind(src);
    src.start = (h) =>
      realOffer({
        ...h,
        offer: (m) => {
          const ok = h.offer(m);
          if (!ok) refused++;
          return ok;
        },
      });
    await p.run();
    expect(refused).toBeGreaterThan(0);
    expect(src.committed.get("p0")).toBe(40n);
    expect(p.stats().partitions[0]?.inFlight).toBe(0);
  });

  it("stop(): drains until the deadline, then abandons work in flight, which stays uncommitted", async () => {
    const src = new MemorySource(MemorySource.of(lines(6)).partitions, false);
    const attr = new FakeAttributor(undefined, (r) => (r.id === "r-2" ? 60_000 : 1));
    const { p, sink } = pipeline({ source: src, attributor: attr, config: { drain_timeout_ms: 150 } });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 80));
    p.stop();
    const summary = await running;
    expect(summary.reason).toBe("stopped");
    expect(summary.abandoned).toBe(4); // r-2 in attribution, r-3..r-5 queued behind it
    expect(attr.aborted).toContain("r-2");
    expect(src.committed.get("p0")).toBe(2n);
    expect(sink.results.map((r) => r.context.record_id)).toEqual(["r-0", "r-1"]);
  });

  it("stop(): with enough time, finishes everything in flight before committing", async () => {
    const src = new MemorySource(MemorySource.of(lines(6)).partitions, false);
    const attr = new FakeAttributor(undefined, () => 20);
    const { p, sink } = pipeline({ source: src, attributor: attr, config: { drain_timeout_ms: 5000 } });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 30));
    p.stop();
    const summary = await running;
    expect(summary.abandoned).toBe(0);
    expect(sink.results).toHaveLength(6);
    expect(src.committed.get("p0")).toBe(6n);
  });

  it("revocation: stops work for the partition and never commits it again; other partitions carry on", async () => {
    const src = new MemorySource(MemorySource.of(lines(8), 2).partitions, false);
    const attr = new FakeAttributor(undefined, (r) => (r.id === "r-2" ? 60_000 : 1));
    const { p, sink } = pipeline({ source: src, attributor: attr, config: { concurrency: 2, drain_timeout_ms: 2000 } });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 60));
    const committedP0 = src.committed.get("p0");
    src.handler!.revoked(["p0"]);
    await new Promise((r) => setTimeout(r, 60));
    expect(attr.aborted).toContain("r-2");
    p.stop();
    const summary = await running;
    expect(src.committed.get("p0")).toBe(committedP0);
    expect(src.commits.every((c) => !c.has("p0") || c.get("p0")! <= committedP0!)).toBe(true);
    expect(src.committed.get("p1")).toBe(4n);
    expect(summary.abandoned).toBe(0);
    expect(sink.results.map((r) => r.context.record_id)).not.toContain("r-2");
  });

  it("budget: skips records the budget cannot take (reason budget) and still commits them", async () => {
    const src = MemorySource.of(lines(30));
    const { p, sink } = pipeline({ source: src, sampler: new RecordSampler({ rate: 1, budget: { attributions_per_minute: 60, burst_seconds: 1, max_queue: 2 } }) });
    const summary = await p.run();
    expect(summary.stats.decisions.byReason["skipped:budget"]).toBeGreaterThan(20);
    expect(sink.results.length + (summary.stats.decisions.byReason["skipped:budget"] ?? 0)).toBe(30);
    expect(src.committed.get("p0")).toBe(30n);
  });

  it("attribution off: samples and commits without attributing", async () => {
    const src = MemorySource.of(lines(50));
    const { p, sink } = pipeline({ source: src, attributor: null, sampler: new RecordSampler({ rate: 0.5 }), config: { attribution: "off" } });
    const summary = await p.run();
    expect(sink.results).toHaveLength(0);
    expect(summary.stats.decisions.sampled + summary.stats.decisions.skipped).toBe(50);
    expect(src.committed.get("p0")).toBe(50n);
  });

  it("ignores redelivered messages (refetch after a rebalance)", async () => {
    const base = MemorySource.of(lines(5)).partitions.get("p0")!;
    const src = new MemorySource(new Map([["p0", [...base, ...base.slice(1, 4)]]]));
    const { p, sink } = pipeline({ source: src });
    const summary = await p.run();
    expect(sink.results).toHaveLength(5);
    expect(summary.stats.duplicatesIgnored).toBe(3);
  });
});

describe("Pipeline: an unhealthy endpoint pauses attribution, not the stream (issue 16, item 2)", () => {
  /** 200 records arriving over time, half sampled; the scorer's breaker stays open until `open` is cleared. */
  function outage(config: PipelineDeps["config"]) {
    const src = MemorySource.of(lines(200));
    src.perTick = 4;
    const state = { open: true };
    const attr = new FakeAttributor(() => (state.open ? new CircuitOpenError({ what: "scoring", why: "breaker open", retryInMs: 1500 }) : undefined));
    const sampler = new RecordSampler({ rate: 0.5 });
    const { p, sink, dlq } = pipeline({ source: src, attributor: attr, sampler, config });
    const sampled = lines(200).map((l) => (JSON.parse(l) as { id: string }).id).filter((id) => sampler.hashSampled({ id } as LlmLogRecord, 0.5));
    return { src, state, p, sink, dlq, sampled };
  }
  async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("buffer (default): the source keeps being read while the breaker is open; sampled records wait and are attributed after", async () => {
    const o = outage({});
    const running = o.p.run();
    await until("every record was read although the breaker is open", () => o.p.stats().consumed === 200);
    expect(o.sink.results).toHaveLength(0);
    expect(o.p.stats().queued).toBe(o.sampled.length);
    o.state.open = false;
    const summary = await running;
    expect(o.sink.results.map((r) => r.context.record_id).sort()).toEqual([...o.sampled].sort());
    expect(o.dlq.letters).toHaveLength(0);
    expect(summary.stats.failed).toEqual({});
    expect(o.src.committed.get("p0")).toBe(200n);
  });

  it("buffer: past max_buffered, further sampled records are dead-lettered with code endpoint_unavailable", async () => {
    const o = outage({ endpoint_unavailable: { action: "buffer", max_buffered: 10 } });
    const running = o.p.run();
    await until("every record was read", () => o.p.stats().consumed === 200);
    await until("the overflow is dead-lettered", () => o.dlq.letters.length === o.sampled.length - 10);
    o.state.open = false;
    await running;
    expect(o.sink.results).toHaveLength(10);
    expect(new Set(o.dlq.letters.map((l) => l.code))).toEqual(new Set(["endpoint_unavailable"]));
    expect(o.dlq.letters.every((l) => l.stage === "attribute")).toBe(true);
    expect(o.src.committed.get("p0")).toBe(200n);
  });

  it("dead_letter: sampled records are dead-lettered at once and skipped records keep committing during the outage", async () => {
    const o = outage({ endpoint_unavailable: { action: "dead_letter" } });
    const running = o.p.run();
    await until("every offset is committed while the breaker is still open", () => o.src.committed.get("p0") === 200n);
    expect(o.dlq.letters.map((l) => l.recordId).sort()).toEqual([...o.sampled].sort());
    expect(o.dlq.letters.every((l) => l.code === "endpoint_unavailable")).toBe(true);
    o.state.open = false;
    const summary = await running;
    expect(summary.stats.decisions.sampled).toBe(o.sampled.length);
  });

  it("pause: the old behaviour, on request: the source is paused with attribution", async () => {
    const o = outage({ endpoint_unavailable: { action: "pause" } });
    const running = o.p.run();
    await new Promise((r) => setTimeout(r, 300));
    expect(o.p.stats().consumed).toBeLessThan(200);
    o.state.open = false;
    await running;
    expect(o.sink.results).toHaveLength(o.sampled.length);
    expect(o.src.committed.get("p0")).toBe(200n);
  });
});

describe("Pipeline: the endpoint back, its breaker half-open (chaos finding: dead letters right after recovery)", () => {
  /** A scorer behind the real RequestGuard: every attribution is one call that fails with 503 while `state.up` is false. */
  class GuardedAttributor extends FakeAttributor {
    readonly guard: RequestGuard;
    closedAt: number | undefined;
    constructor(readonly state: { up: boolean }) {
      super();
      this.guard = new RequestGuard(
        { endpoint: "http://server", maxConcurrency: 4, timeoutMs: 5_000, retry: { max_attempts: 1, initial_backoff_ms: 1, max_backoff_ms: 1 }, maxRetryAfterMs: 0, breaker: { failureThreshold: 1, coolDownMs: 150 } },
        { onEvent: (e) => (e.type === "breaker" && e.to === "closed" ? (this.closedAt = Date.now()) : undefined) },
      );
    }
    override async attribute(r: LlmLogRecord, signal: AbortSignal): Promise<AttributionResult> {
      await this.guard.run({ path: "/score", sequences: 1, promptTokens: 1, signal }, async () => {
        await new Promise((res) => setTimeout(res, 30)); // the probe stays in flight while more records arrive
        if (!this.state.up) throw new ScorerHttpError({ what: "scoring", why: "503", endpoint: "http://server", status: 503, retryable: true });
      });
      return super.attribute(r, signal);
    }
  }

  it("dead_letter: once the probe call succeeds, no sampled record is dead-lettered (calls waiting for the probe are not an outage)", async () => {
    const src = new MemorySource(MemorySource.of(lines(240)).partitions, false);
    src.perTick = 2;
    const state = { up: false };
    const attr = new GuardedAttributor(state);
    const dlq = new MemoryDeadLetters();
    const lettered: { id: string | null | undefined; at: number }[] = [];
    const write = dlq.write.bind(dlq);
    dlq.write = (l) => (lettered.push({ id: l.recordId, at: Date.now() }), write(l));
    const { p, sink } = pipeline({ source: src, attributor: attr, deadLetters: dlq, sampler: new RecordSampler({ rate: 0.5 }), config: { concurrency: 2, endpoint_unavailable: { action: "dead_letter" } } });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 100));
    state.up = true;
    const deadline = Date.now() + 4000;
    while (p.stats().consumed < 240 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    p.stop();
    await running;
    expect(attr.closedAt).toBeDefined();
    // Some were dead-lettered while the breaker was open: the outage really happened.
    expect(lettered.filter((l) => l.at < (attr.closedAt as number)).length).toBeGreaterThan(0);
    expect(lettered.filter((l) => l.at >= (attr.closedAt as number))).toEqual([]);
    expect(sink.results.length + lettered.length).toBe(p.stats().decisions.sampled);
  });
});

describe("Pipeline: shutdown always ends (issue 16, item 3)", () => {
  it("the drain returns as soon as nothing is in flight, not after drain_timeout_ms", async () => {
    const src = new MemorySource(MemorySource.of(lines(3)).partitions, false);
    const { p } = pipeline({ source: src, config: { drain_timeout_ms: 25_000 } });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    p.stop();
    const summary = await running;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(summary.abandoned).toBe(0);
    expect(src.committed.get("p0")).toBe(3n);
  });

  it("a second stop() ends a drain that waits on unfinished work at once, committing what is done", async () => {
    const src = new MemorySource(MemorySource.of(lines(4)).partitions, false);
    const attr = new FakeAttributor(undefined, (r) => (r.id === "r-2" ? 60_000 : 1));
    const { p } = pipeline({ source: src, attributor: attr, config: { drain_timeout_ms: 25_000 } });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 100));
    p.stop();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    p.stop();
    const summary = await running;
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(summary.abandoned).toBe(2);
    expect(src.committed.get("p0")).toBe(2n);
  });

  it("a source that cannot deliver again (stdin) is never said to redeliver", async () => {
    const src = Object.assign(new MemorySource(MemorySource.of(lines(3)).partitions, false), { redelivers: false });
    const attr = new FakeAttributor(undefined, (r) => (r.id === "r-1" ? 60_000 : 1));
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_o: Record<string, unknown>, m: string) => warnings.push(m) };
    const { p } = pipeline({ source: src, attributor: attr, logger, config: { drain_timeout_ms: 50 } });
    const running = p.run();
    await new Promise((r) => setTimeout(r, 100));
    p.stop();
    const summary = await running;
    expect(summary.redelivers).toBe(false);
    expect(summary.abandoned).toBe(2);
    expect(warnings.join("\n")).toMatch(/stdin cannot deliver them again/);
    expect(warnings.join("\n")).not.toMatch(/will be redelivered/);
    expect(formatSummary(summary)).toMatch(/stdin cannot deliver them again/);
    expect(formatSummary(summary)).not.toMatch(/will be redelivered/);
    expect(formatSummary({ ...summary, redelivers: true })).toMatch(/will be redelivered/);
  });
});

describe("Pipeline: odd input is counted and explained (issue 16, item 6)", () => {
  it("counts blank lines (skipped, reason blank) instead of dropping them silently", async () => {
    const dir = mkdtempSync(join(tmpdir(), "reagent-blank-"));
    try {
      const path = join(dir, "in.jsonl");
      writeFileSync(path, `${lines(2).join("\n\n")}\n   \n\r\n`);
      const src = createFileSource(fileSourceConfigSchema.parse({ type: "file", path, progress: "off" }));
      const { p, sink, dlq } = pipeline({ source: src as unknown as MemorySource });
      const summary = await p.run();
      expect(sink.results).toHaveLength(2);
      expect(dlq.letters).toHaveLength(0);
      expect(summary.stats.consumed).toBe(5);
      expect(summary.stats.decisions.byReason["skipped:blank"]).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("dead-letters very deep JSON with a clear reason (not a stack overflow)", async () => {
    const deep = `{"id":"deep","prompt":"p","completion":" c","metadata":{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`;
    const src = MemorySource.of([deep, lines(1)[0]!]);
    const { p, dlq, sink } = pipeline({ source: src });
    await p.run();
    expect(sink.results).toHaveLength(1);
    expect(dlq.letters).toHaveLength(1);
    expect(dlq.letters[0]).toMatchObject({ stage: "parse", code: "record_invalid" });
    expect(dlq.letters[0]!.reason).toMatch(/nested deeper than 64 levels \(mapping\.max_depth\)/);
  });
});
