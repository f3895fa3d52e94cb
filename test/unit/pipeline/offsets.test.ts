import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CommitTracker, type OffsetTicket } from "../../../src/pipeline/offsets.js";

function ticket(t: CommitTracker, p: string, o: number): OffsetTicket {
  const r = t.track(p, BigInt(o));
  if (typeof r === "string") throw new Error(`expected a ticket for ${p}@${o}, got ${r}`);
  return r;
}

describe("CommitTracker", () => {
  it("releases only the contiguous done prefix when records complete out of order", () => {
    const t = new CommitTracker(100);
    const [a, b, c, d] = [10, 11, 12, 13].map((o) => ticket(t, "p", o)) as [OffsetTicket, OffsetTicket, OffsetTicket, OffsetTicket];
    expect(t.pending().size).toBe(0);
    t.complete(c);
    t.complete(d);
    expect(t.pending().size).toBe(0); // 10 and 11 unfinished: nothing committable
    t.complete(a);
    expect(t.pending().get("p")).toBe(11n); // everything below 11 is done
    t.markCommitted("p", 11n);
    expect(t.pending().size).toBe(0);
    t.complete(b);
    expect(t.pending().get("p")).toBe(14n);
    expect(t.inFlight("p")).toBe(0);
  });

  it("keeps partitions independent", () => {
    const t = new CommitTracker(100);
    const a = ticket(t, "a", 0);
    ticket(t, "b", 0);
    t.complete(a);
    expect(t.pending()).toEqual(new Map([["a", 1n]]));
  });

  it("ignores redelivered offsets (a refetch after a rebalance) and completing twice", () => {
    const t = new CommitTracker(100);
    const a = ticket(t, "p", 5);
    ticket(t, "p", 6);
    expect(t.track("p", 5n)).toBe("duplicate");
    expect(t.track("p", 6n)).toBe("duplicate");
    expect(t.complete(a)).toBe(true);
    expect(t.complete(a)).toBe(false);
    expect(t.inFlight("p")).toBe(1);
    expect(t.totalInFlight).toBe(1);
  });

  it("says full at max in flight and accepts again once a record completes", () => {
    const t = new CommitTracker(2);
    const a = ticket(t, "p", 0);
    ticket(t, "p", 1);
    expect(t.track("p", 2n)).toBe("full");
    t.complete(a);
    expect(typeof t.track("p", 2n)).toBe("object");
  });

  it("never commits a revoked partition and ignores its late completions", () => {
    const t = new CommitTracker(100);
    const a = ticket(t, "p", 0);
    const b = ticket(t, "p", 1);
    t.complete(a);
    expect(t.revoke("p")).toBe(1);
    expect(t.pending().size).toBe(0);
    expect(t.complete(b)).toBe(false);
    expect(t.pending().size).toBe(0);
    expect(t.totalInFlight).toBe(0);
    // Reassigned later: a new epoch; the old ticket still completes nothing.
    t.assign("p");
    const c = ticket(t, "p", 1);
    expect(t.isCurrent(b)).toBe(false);
    expect(t.complete(b)).toBe(false);
    expect(t.complete(c)).toBe(true);
    expect(t.pending().get("p")).toBe(2n);
  });

  it("moves past offsets the source skipped (transaction markers, gaps) once the records before them are done", () => {
    const t = new CommitTracker(100);
    const a = ticket(t, "p", 0);
    t.skip("p", 3n);
    expect(t.pending().size).toBe(0);
    t.complete(a);
    expect(t.pending().get("p")).toBe(4n);
    // Gaps in offsets (compaction) need nothing special.
    const b = ticket(t, "p", 10);
    t.complete(b);
    expect(t.pending().get("p")).toBe(11n);
  });

  it("shutdown: with records still in flight, the commit stops right below the first unfinished one", () => {
    const t = new CommitTracker(100);
    const ts = Array.from({ length: 10 }, (_, i) => ticket(t, "p", i));
    for (const i of [0, 1, 2, 4, 5, 9]) t.complete(ts[i]!);
    // 3 is unfinished at the deadline: committing 3 means 3 and later are redelivered.
    expect(t.pending().get("p")).toBe(3n);
    expect(t.totalInFlight).toBe(4);
  });

  it("compacts its arrays without losing track (many records)", () => {
    const t = new CommitTracker(100_000);
    const ts = Array.from({ length: 5000 }, (_, i) => ticket(t, "p", i));
    for (let i = 0; i < 4000; i++) t.complete(ts[i]!);
    expect(t.pending().get("p")).toBe(4000n);
    for (let i = 4999; i >= 4000; i--) t.complete(ts[i]!);
    expect(t.pending().get("p")).toBe(5000n);
  });

  it("property: the committable offset never passes an unfinished record, and reaches the end when all are done", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 80 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
        (gaps, order) => {
          const t = new CommitTracker(10_000);
          let off = 0;
          const tickets = gaps.map((g) => {
            off += g;
            return ticket(t, "p", off);
          });
          const remaining = [...tickets];
          for (const k of order) {
            if (remaining.length === 0) break;
            const [tk] = remaining.splice(k % remaining.length, 1);
            t.complete(tk!);
            const c = t.pending().get("p");
            const firstUnfinished = remaining.reduce<bigint | undefined>((m, x) => (m === undefined || x.offset < m ? x.offset : m), undefined);
            if (c !== undefined && firstUnfinished !== undefined) expect(c <= firstUnfinished).toBe(true);
          }
          for (const tk of remaining) t.complete(tk);
          expect(t.pending().get("p")).toBe(BigInt(off) + 1n);
        },
      ),
      { numRuns: 200 },
    );
  });
});
