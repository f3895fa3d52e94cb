/** Intake and ordering alone: tickets, parse/validate dead letters, sampling, flow control. */
import { describe, expect, it } from "vitest";
import type { DeadLetterStage, SourceMessage } from "../../../src/pipeline/contracts.js";
import { noopMetrics } from "../../../src/pipeline/contracts.js";
import { Intake, type Job } from "../../../src/pipeline/intake.js";
import { RecordMapper } from "../../../src/pipeline/mapping/mapper.js";
import { CommitTracker, type OffsetTicket } from "../../../src/pipeline/offsets.js";
import { RecordSampler } from "../../../src/pipeline/sampling/sampler.js";
import { StatsMetrics } from "../../../src/pipeline/stats.js";

function msg(offset: number, value: string, partition = "p0"): SourceMessage {
  return { partition, offset: BigInt(offset), key: null, value: Buffer.from(value), headers: {}, timestamp: null };
}
const good = (id: string): string => JSON.stringify({ id, prompt: "a prompt", completion: " a completion" });

function setup(over: { rate?: number; max?: number; attributes?: boolean; accepting?: () => boolean } = {}) {
  const tracker = new CommitTracker(over.max ?? 100);
  const invalid: { offset: bigint; stage: DeadLetterStage; ticket: OffsetTicket }[] = [];
  const sampled: Job[] = [];
  const resumed: string[][] = [];
  let completed = 0;
  const intake = new Intake({
    tracker,
    mapper: new RecordMapper(),
    sampler: new RecordSampler({ rate: over.rate ?? 1 }),
    metrics: new StatsMetrics(noopMetrics),
    source: { name: "test", resume: (ps) => resumed.push([...ps]) },
    maxInFlightPerPartition: over.max ?? 100,
    accepting: over.accepting ?? (() => true),
    attributes: over.attributes ?? true,
    invalid: (m, ticket, stage) => invalid.push({ offset: m.offset, stage, ticket }),
    sampled: (job) => sampled.push(job),
    completed: () => completed++,
  });
  return { tracker, intake, invalid, sampled, resumed, completed: () => completed };
}

describe("Intake", () => {
  it("routes each message: parse and validate failures to dead letters (typed stage), skipped done at once, sampled to attribution", () => {
    const s = setup({ rate: 0 });
    expect(s.intake.offer(msg(0, "not json"))).toBe(true);
    expect(s.intake.offer(msg(1, JSON.stringify({ id: "x" })))).toBe(true);
    expect(s.intake.offer(msg(2, good("a")))).toBe(true);
    expect(s.invalid.map((i) => [i.offset, i.stage])).toEqual([
      [0n, "parse"],
      [1n, "validate"],
    ]);
    expect(s.sampled).toHaveLength(0);
    // The skipped record is done, but the two dead letters are not durable yet: nothing to commit.
    expect(s.tracker.pending().size).toBe(0);
    for (const i of s.invalid) s.intake.complete(i.ticket);
    expect(s.tracker.pending().get("p0")).toBe(3n);
  });

  it("hands sampled records to attribution with their ticket; with attribution off they complete at once", () => {
    const on = setup();
    on.intake.offer(msg(0, good("a")));
    expect(on.sampled.map((j) => [j.record.id, j.ticket.offset, j.attempts])).toEqual([["a", 0n, 0]]);
    expect(on.tracker.inFlight("p0")).toBe(1);
    const off = setup({ attributes: false });
    off.intake.offer(msg(0, good("a")));
    expect(off.sampled).toHaveLength(0);
    expect(off.tracker.pending().get("p0")).toBe(1n);
  });

  it("ignores redeliveries and refuses everything while not accepting", () => {
    let accepting = true;
    const s = setup({ accepting: () => accepting });
    s.intake.offer(msg(0, good("a")));
    expect(s.intake.offer(msg(0, good("a")))).toBe(true);
    expect(s.intake.duplicatesIgnored).toBe(1);
    accepting = false;
    expect(s.intake.offer(msg(1, good("b")))).toBe(false);
    expect(s.sampled).toHaveLength(1);
  });

  it("refuses a full partition and resumes it once half of its records are done", () => {
    const s = setup({ max: 4 });
    for (let i = 0; i < 4; i++) expect(s.intake.offer(msg(i, good(`r${i}`)))).toBe(true);
    expect(s.intake.offer(msg(4, good("r4")))).toBe(false);
    expect(s.intake.offer(msg(0, good("q"), "p1"))).toBe(true); // other partitions are not affected
    s.intake.complete(s.sampled[0]!.ticket);
    expect(s.resumed).toEqual([]);
    s.intake.complete(s.sampled[1]!.ticket);
    expect(s.resumed).toEqual([["p0"]]);
    expect(s.intake.resumable()).toContain("p0");
  });

  it("completes nothing for a revoked partition's tickets", () => {
    const s = setup();
    s.intake.offer(msg(0, good("a")));
    expect(s.intake.revoke("p0")).toBe(1);
    s.intake.complete(s.sampled[0]!.ticket);
    expect(s.completed()).toBe(0);
    expect(s.tracker.pending().size).toBe(0);
  });
});
