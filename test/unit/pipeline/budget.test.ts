import { describe, expect, it } from "vitest";
import { AttributionQueue, TokenBucket } from "../../../src/pipeline/sampling/budget.js";
import { budgetSchema } from "../../../src/pipeline/sampling/config.js";

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe("TokenBucket", () => {
  it("refills at its rate up to capacity and reports the wait", () => {
    const c = clock();
    const b = new TokenBucket(2, 4, c.now());
    for (let i = 0; i < 4; i++) {
      expect(b.waitMs(1, c.now())).toBe(0);
      b.take(1, c.now());
    }
    expect(b.waitMs(1, c.now())).toBe(500);
    c.advance(500);
    expect(b.waitMs(1, c.now())).toBe(0);
    c.advance(60_000);
    b.waitMs(1, c.now());
    expect(b.available).toBe(4);
  });

  it("admits a cost above capacity once full, and carries the debt", () => {
    const c = clock();
    const b = new TokenBucket(10, 10, c.now());
    expect(b.waitMs(50, c.now())).toBe(0);
    b.take(50, c.now());
    expect(b.available).toBe(-40);
    expect(b.waitMs(1, c.now())).toBe(4100);
  });
});

describe("AttributionQueue", () => {
  it("without a budget: highest priority first, oldest first within a priority, never evicts", () => {
    const q = new AttributionQueue<string>(undefined);
    q.push("a", 0, 10);
    q.push("b", 10, 10);
    q.push("c", 0, 10);
    q.push("d", 10, 10);
    const order: string[] = [];
    for (;;) {
      const n = q.next();
      if (n === undefined) break;
      if ("waitMs" in n) throw new Error("no budget, no wait");
      order.push(n.job.item);
    }
    expect(order).toEqual(["b", "d", "a", "c"]);
  });

  it("when the budget binds, flagged records go first", () => {
    const c = clock();
    const q = new AttributionQueue<string>(budgetSchema.parse({ attributions_per_minute: 60, burst_seconds: 1 }), c.now);
    for (let i = 0; i < 5; i++) q.push(`plain-${i}`, 0, 10);
    q.push("flagged", 10, 10);
    const first = q.next();
    expect(first && "job" in first ? first.job.item : first).toBe("flagged");
    const blocked = q.next();
    expect(blocked).toEqual({ waitMs: 1000 });
    c.advance(1000);
    const second = q.next();
    expect(second && "job" in second ? second.job.item : second).toBe("plain-0");
  });

  it("bounds the queue: the lowest-priority, oldest record is pushed out", () => {
    const q = new AttributionQueue<string>(budgetSchema.parse({ attributions_per_minute: 1, max_queue: 3 }));
    expect(q.push("a", 0, 1)).toEqual([]);
    q.push("f1", 5, 1);
    q.push("b", 0, 1);
    const out = q.push("f2", 5, 1);
    expect(out.map((j) => j.item)).toEqual(["a"]);
    expect(q.push("f3", 5, 1).map((j) => j.item)).toEqual(["b"]);
    expect(q.push("f4", 5, 1).map((j) => j.item)).toEqual(["f1"]);
    expect(q.length).toBe(3);
  });

  it("expires records that waited longer than max_wait_ms", () => {
    const c = clock();
    const q = new AttributionQueue<string>(budgetSchema.parse({ attributions_per_minute: 1, max_wait_ms: 1000 }), c.now);
    q.push("old", 0, 1);
    c.advance(600);
    q.push("new", 0, 1);
    c.advance(500);
    expect(q.expire().map((j) => j.item)).toEqual(["old"]);
    expect(q.length).toBe(1);
  });

  it("endpoint tokens per second: admits on an estimate and corrects with the measured cost", () => {
    const c = clock();
    const q = new AttributionQueue<string>(budgetSchema.parse({ endpoint_tokens_per_second: 100, burst_seconds: 1 }), c.now);
    q.push("a", 0, 100); // estimate 25 tokens (0.25 per character before anything is measured)
    q.push("b", 0, 100);
    const a = q.next();
    if (!a || !("job" in a)) throw new Error("a should start");
    expect(a.estimateTokens).toBe(25);
    // It really cost 400 tokens: the bucket goes into debt and b waits for the refill.
    q.settle(a.job.chars, a.estimateTokens, 400);
    const b = q.next();
    expect(b && "waitMs" in b ? b.waitMs : 0).toBeGreaterThan(3000);
    // …and the estimate learned the ratio.
    expect(q.estimateTokens(100)).toBe(400);
  });

  it("puts a job back in its place (retry later) and refunds its budget", () => {
    const c = clock();
    const q = new AttributionQueue<string>(budgetSchema.parse({ attributions_per_minute: 60, burst_seconds: 1 }), c.now);
    q.push("a", 0, 1);
    q.push("b", 0, 1);
    const a = q.next();
    if (!a || !("job" in a)) throw new Error("a should start");
    q.refund(a.estimateTokens);
    q.putBack(a.job);
    const again = q.next();
    expect(again && "job" in again ? again.job.item : again).toBe("a");
  });
});
