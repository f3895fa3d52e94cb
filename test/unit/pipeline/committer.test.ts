/** Commit alone: what the tracker releases is stored; failures are retried on the next tick; no overlap. */
import { describe, expect, it } from "vitest";
import { Committer } from "../../../src/pipeline/committer.js";
import { RateLimitedLog, silentLogger } from "../../../src/pipeline/logger.js";
import { CommitTracker } from "../../../src/pipeline/offsets.js";

describe("Committer", () => {
  it("commits the released offsets once, joins a commit in flight, and retries a failed one later", async () => {
    const tracker = new CommitTracker(10);
    const t = tracker.track("p", 0n);
    if (typeof t === "string") throw new Error("no ticket");
    const calls: Map<string, bigint>[] = [];
    let fail = true;
    let release: () => void = () => undefined;
    const source = {
      commit: (o: ReadonlyMap<string, bigint>): Promise<void> => {
        calls.push(new Map(o));
        if (fail) return Promise.reject(new Error("broker down"));
        return new Promise<void>((r) => (release = r));
      },
    };
    const c = new Committer(source, tracker, new RateLimitedLog(silentLogger), 10_000);
    await c.commitNow();
    expect(calls).toHaveLength(0); // nothing released yet
    tracker.complete(t);
    await c.commitNow();
    expect(calls).toEqual([new Map([["p", 1n]])]);
    expect(c.commits).toBe(0);
    fail = false;
    const a = c.commitNow();
    const b = c.commitNow();
    expect(calls).toHaveLength(2); // the second call joined the first
    release();
    await Promise.all([a, b]);
    expect(c.commits).toBe(1);
    await c.commitNow();
    expect(calls).toHaveLength(2); // nothing new since
  });

  it("commits on its interval until stopped", async () => {
    const tracker = new CommitTracker(10);
    const committed: bigint[] = [];
    const c = new Committer({ commit: (o) => (committed.push(o.get("p")!), Promise.resolve()) }, tracker, new RateLimitedLog(silentLogger), 10);
    c.start();
    const t = tracker.track("p", 5n);
    if (typeof t !== "string") tracker.complete(t);
    await new Promise((r) => setTimeout(r, 40));
    c.stop();
    expect(committed).toEqual([6n]);
  });
});
