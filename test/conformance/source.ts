/**
 * The source conformance suite: what every Source (Kafka, file, stdin) must do for the
 * pipeline's at-least-once guarantee. Run it with `sourceConformance(name, harness)` from an
 * integration test; skipped cases must say why (`skip: [{ reason, tests }]`), and a skip that
 * names no existing case fails.
 *
 * Cases:
 * - delivery: every message once per partition, in offset order, with its original bytes;
 * - restart without commits: everything is delivered again;
 * - restart after partial commits: delivery resumes exactly at the committed offsets, so what
 *   was acknowledged is not redelivered and nothing unacknowledged is lost;
 * - pause: a refused message is offered again after resume, nothing skipped;
 * - with the real pipeline, a record whose sink write never acknowledged is not committed (nor
 *   anything after it), and a restarted pipeline delivers it and completes the input.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import type { LlmLogRecord } from "../../schemas/llm-log-record.js";
import type { RecordAttributor } from "../../src/pipeline/attributor.js";
import type { DeadLetter, DeadLetterSink, Sink, Source, SourceHandler, SourceMessage } from "../../src/pipeline/contracts.js";
import { RecordMapper } from "../../src/pipeline/mapping/mapper.js";
import { RecordSampler } from "../../src/pipeline/sampling/sampler.js";
import { Pipeline } from "../../src/pipeline/worker.js";

export interface SourceHarness {
  /** Creates a fresh input holding `values` (a new topic, file, stdin stream). */
  setup(values: readonly Buffer[]): Promise<void>;
  /** A new source over that input, as a restarted worker would create it. */
  newSource(): Source;
  /** Finite sources report the end of their input. */
  readonly finite: boolean;
  /** What is durably committed, per partition (next offset to read). */
  committed(): Promise<Map<string, bigint>>;
  teardown(): Promise<void>;
}

export const SOURCE_CASES = ["delivers every message once, in order", "restart without commits redelivers everything", "restart resumes at the committed offsets", "pause and resume lose nothing", "pipeline commits only acknowledged records"] as const;

export interface SourceConformanceOptions {
  readonly skip?: readonly { readonly reason: string; readonly tests: readonly (typeof SOURCE_CASES)[number][] }[];
  /** Messages per case. */
  readonly size?: number;
  /** Longest wait for deliveries. */
  readonly timeoutMs?: number;
}

function values(n: number, tag: string): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(JSON.stringify({ id: `${tag}-${String(i).padStart(4, "0")}`, prompt: `prompt ${i}`, completion: ` completion ${i}` })));
}

/** A handler that collects what the source offers; `refuse` decides which offers to turn down. */
class Collector implements SourceHandler {
  readonly got: SourceMessage[] = [];
  readonly seen = new Map<string, bigint>();
  done = false;
  failure: unknown;
  refuse: (m: SourceMessage) => boolean = () => false;
  offer(m: SourceMessage): boolean {
    if (this.refuse(m)) return false;
    const last = this.seen.get(m.partition);
    if (last !== undefined && m.offset <= last) return true; // a redelivery (a rejoin): the pipeline ignores these too
    this.seen.set(m.partition, m.offset);
    this.got.push(m);
    return true;
  }
  skipped(): void {}
  assigned(): void {}
  revoked(): void {}
  ended(): void {
    this.done = true;
  }
  failed(err: unknown): void {
    this.failure = err;
  }
}

function collector(): Collector {
  return new Collector();
}

async function until(what: string, timeoutMs: number, ok: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

class NullDeadLetters implements DeadLetterSink {
  readonly name = "null";
  readonly letters: DeadLetter[] = [];
  start(): Promise<void> {
    return Promise.resolve();
  }
  write(l: DeadLetter): Promise<void> {
    this.letters.push(l);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A sink that never acknowledges the records `hold` names. */
class HoldingSink implements Sink {
  readonly name = "holding";
  readonly stored: string[] = [];
  constructor(private readonly hold: (id: string) => boolean) {}
  start(): Promise<void> {
    return Promise.resolve();
  }
  write(r: AttributionResult): Promise<void> {
    const id = r.context.record_id ?? "";
    if (this.hold(id)) return new Promise(() => undefined);
    this.stored.push(id);
    return Promise.resolve();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const echoAttributor: RecordAttributor = {
  model: "echo",
  attributionId: (r: LlmLogRecord) => `a-${r.id}`,
  attribute: (r: LlmLogRecord) =>
    Promise.resolve({ attribution_id: `a-${r.id}`, context: { record_id: r.id }, cost: { model_calls: 0, sequences_evaluated: 0, tokens_processed: 0 } } as unknown as AttributionResult),
};

function idOf(m: SourceMessage): string {
  return (JSON.parse(m.value.toString()) as { id: string }).id;
}

export function sourceConformance(name: string, makeHarness: () => SourceHarness, opts: SourceConformanceOptions = {}): void {
  const skipped = new Map<string, string>();
  for (const s of opts.skip ?? []) {
    for (const t of s.tests) {
      if (!(SOURCE_CASES as readonly string[]).includes(t)) throw new Error(`skip names an unknown case: ${t}`);
      skipped.set(t, s.reason);
    }
  }
  const n = opts.size ?? 60;
  const timeout = opts.timeoutMs ?? 60_000;

  describe(`source conformance: ${name}`, () => {
    let h: SourceHarness;
    let sources: Source[] = [];
    beforeEach(() => {
      h = makeHarness();
      sources = [];
    });
    afterEach(async () => {
      for (const s of sources) await s.stop().catch(() => undefined);
      await h.teardown();
    });
    const start = async (handler: SourceHandler): Promise<Source> => {
      const s = h.newSource();
      sources.push(s);
      await s.start(handler);
      return s;
    };
    const stop = async (s: Source): Promise<void> => {
      sources = sources.filter((x) => x !== s);
      await s.stop();
    };
    const test = (title: (typeof SOURCE_CASES)[number], fn: () => Promise<void>): void => {
      const reason = skipped.get(title);
      if (reason !== undefined) it.skip(`${title} (skipped: ${reason})`, fn);
      else it(title, fn, timeout + 30_000);
    };

    test("delivers every message once, in order", async () => {
      const vals = values(n, "d");
      await h.setup(vals);
      const c = collector();
      await start(c);
      await until(`${n} messages arrive`, timeout, () => c.got.length >= n);
      if (h.finite) await until("the input ends", timeout, () => c.done);
      expect(c.failure).toBeUndefined();
      expect(c.got.map((m) => m.value.toString()).sort()).toEqual(vals.map((v) => v.toString()).sort());
      const byPart = new Map<string, bigint[]>();
      for (const m of c.got) byPart.set(m.partition, [...(byPart.get(m.partition) ?? []), m.offset]);
      for (const offs of byPart.values()) for (let i = 1; i < offs.length; i++) expect(offs[i]! > offs[i - 1]!).toBe(true);
    });

    test("restart without commits redelivers everything", async () => {
      await h.setup(values(n, "r"));
      const a = collector();
      const s1 = await start(a);
      await until("the first delivery", timeout, () => a.got.length >= n);
      await stop(s1);
      const b = collector();
      await start(b);
      await until("the redelivery", timeout, () => b.got.length >= n);
      expect(new Set(b.got.map(idOf))).toEqual(new Set(a.got.map(idOf)));
    });

    test("restart resumes at the committed offsets", async () => {
      await h.setup(values(n, "c"));
      const a = collector();
      const s1 = await start(a);
      await until("the first delivery", timeout, () => a.got.length >= n);
      // Acknowledge about half of each partition.
      const byPart = new Map<string, SourceMessage[]>();
      for (const m of a.got) byPart.set(m.partition, [...(byPart.get(m.partition) ?? []), m]);
      const commit = new Map<string, bigint>();
      const acked = new Set<string>();
      for (const [p, ms] of byPart) {
        const k = Math.floor(ms.length / 2);
        if (k === 0) continue;
        commit.set(p, ms[k - 1]!.offset + 1n);
        for (const m of ms.slice(0, k)) acked.add(idOf(m));
      }
      await s1.commit(commit);
      const stored = await h.committed();
      for (const [p, o] of commit) expect(stored.get(p)).toBe(o);
      await stop(s1);

      const b = collector();
      await start(b);
      const expected = a.got.filter((m) => !acked.has(idOf(m))).length;
      await until("the redelivery", timeout, () => b.got.length >= expected);
      await new Promise((r) => setTimeout(r, 300));
      const again = b.got.map(idOf);
      // Nothing acknowledged comes back; everything unacknowledged does.
      expect(again.filter((id) => acked.has(id))).toEqual([]);
      expect(new Set([...acked, ...again])).toEqual(new Set(a.got.map(idOf)));
      for (const [p, o] of commit) expect(b.got.find((m) => m.partition === p)?.offset).toBe(o);
    });

    test("pause and resume lose nothing", async () => {
      const vals = values(n, "p");
      await h.setup(vals);
      const c = collector();
      let refusals = 0;
      const ref: { src?: Source } = {};
      const refused = new Set<string>();
      c.refuse = (m) => {
        // Turn down every 7th message once, like a full partition, and resume a moment later.
        const key = `${m.partition}@${m.offset}`;
        if (Number(m.offset % 7n) === 3 && refusals < 5 && !refused.has(key)) {
          refused.add(key);
          refusals++;
          setTimeout(() => ref.src?.resume([m.partition]), 50);
          return true;
        }
        return false;
      };
      ref.src = await start(c);
      await until(`${n} messages arrive`, timeout, () => c.got.length >= n);
      expect(refusals).toBeGreaterThan(0);
      expect(c.got.map((m) => m.value.toString()).sort()).toEqual(vals.map((v) => v.toString()).sort());
    });

    test("pipeline commits only acknowledged records", async () => {
      const vals = values(n, "k");
      await h.setup(vals);
      const held = "k-0007";
      const src1 = h.newSource();
      let heldAt: { partition: string; offset: bigint } | undefined;
      const start1 = src1.start.bind(src1);
      src1.start = (handler) =>
        start1({
          ...handler,
          offer: (m) => {
            if (m.value.toString().includes(`"${held}"`)) heldAt = { partition: m.partition, offset: m.offset };
            return handler.offer(m);
          },
        });
      const run1 = new Pipeline({
        source: src1,
        mapper: new RecordMapper(),
        sampler: new RecordSampler({ rate: 1 }),
        attributor: echoAttributor,
        sinks: [new HoldingSink((id) => id === held)],
        deadLetters: new NullDeadLetters(),
        config: { commit_interval_ms: 50, drain_timeout_ms: 500 },
      });
      const p1 = run1.run();
      await until("everything but the held record is stored", timeout, () => run1.stats().consumed >= n && run1.stats().partitions.reduce((s, p) => s + p.inFlight, 0) === 1);
      await run1.commitNow();
      run1.stop();
      const sum1 = await p1;
      expect(sum1.abandoned).toBe(1);
      // The held record's offset (and everything after it in its partition) is not committed.
      const committed = await h.committed();
      expect(heldAt).toBeDefined();
      expect(committed.get(heldAt!.partition) ?? 0n).toBe(heldAt!.offset);

      const sink2 = new HoldingSink(() => false);
      const run2 = new Pipeline({
        source: h.newSource(),
        mapper: new RecordMapper(),
        sampler: new RecordSampler({ rate: 1 }),
        attributor: echoAttributor,
        sinks: [sink2],
        deadLetters: new NullDeadLetters(),
        config: { commit_interval_ms: 50, drain_timeout_ms: 2000 },
      });
      const p2 = run2.run();
      await until("the held record is delivered again and stored", timeout, () => sink2.stored.includes(held));
      if (!h.finite) {
        await until("everything is committed", timeout, async () => {
          await run2.commitNow();
          return [...(await h.committed()).values()].reduce((s, o) => s + o, 0n) === BigInt(n);
        });
        run2.stop();
      }
      await p2;
      const end = await h.committed();
      const total = [...end.values()].reduce((s, o) => s + o, 0n);
      expect(total).toBe(BigInt(n));
      // What the first run committed was not delivered again.
      for (const [p, o] of committed) expect(end.get(p)! >= o).toBe(true);
      expect(sink2.stored.length).toBeLessThan(n);
    });
  });
}
