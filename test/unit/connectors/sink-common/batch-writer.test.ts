import { describe, expect, it, vi } from "vitest";
import type { Batch } from "../../../../connectors/sink-common/batch-writer.js";
import { BatchWriter } from "../../../../connectors/sink-common/batch-writer.js";
import { backoffMs } from "../../../../src/retry.js";
import { SinkError } from "../../../../src/errors.js";

interface Item {
  id: string;
  v?: number;
}

/** A store whose batches succeed or fail when the test says so. */
function controlledStore() {
  const calls: { seq: number; attempt: number; ids: string[]; batch: Batch<Item> }[] = [];
  const pending: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  return {
    calls,
    pending,
    writeBatch: (b: Batch<Item>): Promise<void> => {
      calls.push({ seq: b.seq, attempt: b.attempt, ids: b.items.map((i) => i.id), batch: b });
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
  };
}

const noSleep = (): Promise<void> => Promise.resolve();
const flushMicrotasks = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function writer(store: { writeBatch: (b: Batch<Item>) => Promise<void> }, over: Partial<ConstructorParameters<typeof BatchWriter<Item>>[0]> = {}) {
  return new BatchWriter<Item>({
    sink: "test",
    maxRows: 3,
    maxWaitMs: 60_000,
    retry: { max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 100 },
    keyOf: (i) => i.id,
    writeBatch: store.writeBatch,
    classify: (e) => ({ retryable: !(e instanceof TypeError) }),
    sleep: noSleep,
    ...over,
  });
}

describe("BatchWriter", () => {
  it("cuts a batch at max_rows and resolves writes only after the store confirmed it", async () => {
    const store = controlledStore();
    const w = writer(store);
    let settled = 0;
    const ps = ["a", "b", "c"].map((id) => w.write({ id }).then(() => (settled += 1)));
    await flushMicrotasks();
    expect(store.calls.map((c) => c.ids)).toEqual([["a", "b", "c"]]);
    expect(settled).toBe(0); // the store has not answered yet
    store.pending[0]!.resolve();
    await Promise.all(ps);
    expect(settled).toBe(3);
  });

  it("cuts a batch max_wait_ms after its first item", async () => {
    vi.useFakeTimers();
    try {
      const store = controlledStore();
      const w = writer(store, { maxWaitMs: 500 });
      const p = w.write({ id: "a" });
      await vi.advanceTimersByTimeAsync(499);
      expect(store.calls).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(store.calls.map((c) => c.ids)).toEqual([["a"]]);
      store.pending[0]!.resolve();
      await p;
    } finally {
      vi.useRealTimers();
    }
  });

  it("writes an item redelivered into the same buffer once, and resolves every caller", async () => {
    const store = controlledStore();
    const w = writer(store, { maxRows: 10 });
    const p1 = w.write({ id: "a", v: 1 });
    const p2 = w.write({ id: "a", v: 2 });
    const p3 = w.write({ id: "b" });
    const f = w.flush();
    await flushMicrotasks();
    expect(store.calls[0]!.batch.items).toEqual([{ id: "a", v: 2 }, { id: "b" }]);
    store.pending[0]!.resolve();
    await Promise.all([p1, p2, p3, f]);
  });

  it("retries a retryable failure with the same batch (same items, same order, kept state)", async () => {
    const store = controlledStore();
    const retries: number[] = [];
    const w = writer(store, { onRetry: (i) => retries.push(i.attempt) });
    const ps = ["a", "b", "c"].map((id) => w.write({ id }));
    await flushMicrotasks();
    store.calls[0]!.batch.done.add("attributions");
    store.pending[0]!.reject(new Error("ECONNRESET"));
    await flushMicrotasks();
    expect(store.calls).toHaveLength(2);
    expect(store.calls[1]!.batch).toBe(store.calls[0]!.batch);
    expect(store.calls[1]!.ids).toEqual(["a", "b", "c"]);
    expect(store.calls[1]!.attempt).toBe(2);
    expect([...store.calls[1]!.batch.done]).toEqual(["attributions"]);
    store.pending[1]!.resolve();
    await Promise.all(ps);
    expect(retries).toEqual([1]);
  });

  it("rejects every write of a batch with a retryable SinkError once attempts are exhausted", async () => {
    const store = controlledStore();
    const w = writer(store);
    const ps = ["a", "b", "c"].map((id) => w.write({ id }).then(() => "resolved", (e: unknown) => e));
    for (let i = 0; i < 3; i++) {
      await flushMicrotasks();
      store.pending[i]!.reject(new Error("socket hang up"));
    }
    const results = await Promise.all(ps);
    expect(store.calls).toHaveLength(3);
    for (const r of results) {
      expect(r).toBeInstanceOf(SinkError);
      expect((r as SinkError).retryable).toBe(true);
      expect((r as SinkError).code).toBe("sink_failed");
      expect((r as SinkError).details).toMatchObject({ attempts: 3, rows: 3 });
    }
  });

  it("does not retry a non-retryable failure", async () => {
    const store = controlledStore();
    const w = writer(store);
    const ps = ["a", "b", "c"].map((id) => w.write({ id }).catch((e: unknown) => e));
    await flushMicrotasks();
    store.pending[0]!.reject(new TypeError("no such column"));
    const [r] = await Promise.all(ps);
    expect(store.calls).toHaveLength(1);
    expect((r as SinkError).retryable).toBe(false);
  });

  it("writes batches one at a time, in order", async () => {
    const store = controlledStore();
    const w = writer(store);
    const ps = ["a", "b", "c", "d", "e", "f"].map((id) => w.write({ id }));
    await flushMicrotasks();
    expect(store.calls).toHaveLength(1); // the second batch waits for the first
    store.pending[0]!.resolve();
    await flushMicrotasks();
    expect(store.calls.map((c) => c.ids)).toEqual([
      ["a", "b", "c"],
      ["d", "e", "f"],
    ]);
    store.pending[1]!.resolve();
    await Promise.all(ps);
  });

  it("with concurrency 2, starts the next batch while the first is in flight, in order, never more", async () => {
    const store = controlledStore();
    const w = writer(store, { concurrency: 2 });
    const ps = ["a", "b", "c", "d", "e", "f", "g", "h", "i"].map((id) => w.write({ id }));
    await flushMicrotasks();
    expect(store.calls.map((c) => c.seq)).toEqual([1, 2]);
    store.pending[1]!.resolve(); // the second finishes first: the third may start
    await flushMicrotasks();
    expect(store.calls.map((c) => c.seq)).toEqual([1, 2, 3]);
    store.pending[0]!.resolve();
    store.pending[2]!.resolve();
    await Promise.all(ps);
  });

  it("a failed batch does not stop the next one; flush rejects when a batch it waited for failed", async () => {
    const store = controlledStore();
    const w = writer(store, { classify: () => ({ retryable: false }) });
    const first = ["a", "b", "c"].map((id) => w.write({ id }).catch((e: unknown) => e));
    const second = w.write({ id: "d" });
    const f = w.flush();
    await flushMicrotasks();
    store.pending[0]!.reject(new Error("bad"));
    await flushMicrotasks();
    store.pending[1]!.resolve();
    await expect(f).rejects.toBeInstanceOf(SinkError);
    await second;
    expect((await first[0]) as SinkError).toBeInstanceOf(SinkError);
  });

  it("close flushes, then refuses writes", async () => {
    const store = controlledStore();
    const w = writer(store);
    const p = w.write({ id: "a" });
    const c = w.close();
    await flushMicrotasks();
    store.pending[0]!.resolve();
    await Promise.all([p, c]);
    await expect(w.write({ id: "b" })).rejects.toMatchObject({ code: "sink_failed", retryable: false });
  });

  it("reports each batch to the pipeline metrics", async () => {
    const store = controlledStore();
    const sinkBatch = vi.fn();
    const metrics = { sinkBatch } as unknown as NonNullable<ConstructorParameters<typeof BatchWriter<Item>>[0]["metrics"]>;
    const w = writer(store, { metrics });
    const ps = ["a", "b", "c"].map((id) => w.write({ id }));
    await flushMicrotasks();
    store.pending[0]!.resolve();
    await Promise.all(ps);
    expect(sinkBatch).toHaveBeenCalledWith("test", 3, expect.any(Number), true);
  });

  it("backs off exponentially with jitter, capped", () => {
    const policy = { max_attempts: 10, initial_backoff_ms: 100, max_backoff_ms: 1000 };
    expect(backoffMs(policy, 1, () => 1)).toBe(100);
    expect(backoffMs(policy, 2, () => 1)).toBe(200);
    expect(backoffMs(policy, 3, () => 0)).toBe(200);
    expect(backoffMs(policy, 9, () => 1)).toBe(1000);
  });
});
