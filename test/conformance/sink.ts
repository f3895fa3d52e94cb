/**
 * The conformance suite every results store runs (test/integration/sink-*.test.ts): migrations
 * from empty and again, a round trip of every column in each text mode, idempotent re-insert,
 * a large batch, acknowledgement only after the store holds the rows, bad results rejected
 * without losing their batch, coverage counters.
 *
 *   runSinkConformance({
 *     name: "duckdb",
 *     newStore: () => path to a fresh file,
 *     newSink: (store, overrides) => new DuckDbSink({ type: "duckdb", path: store, ...overrides }),
 *     readBack: (sink, ids) => sink.readRows(ids),
 *   });
 *
 * `readBack` must read through a path independent of the sink's writes (another connection, a
 * new HTTP request): it is how the suite checks what the store really holds.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { AuditSink } from "../../connectors/sink-common/audit-sink.js";
import type { StoredRows, StoreTextMode } from "../../connectors/sink-common/rows.js";
import { toRows } from "../../connectors/sink-common/rows.js";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { SinkError } from "../../src/errors.js";
import { buildResult, makeResults } from "./attribution-fixtures.js";

export interface SinkOverrides {
  store_text?: StoreTextMode;
  migrate?: boolean;
  max_matrix_cells?: number;
  batch?: { max_rows: number; max_wait_ms: number };
}

export interface SinkConformanceOptions {
  readonly name: string;
  /** A fresh, empty store (a database name, a file path). */
  readonly newStore: () => Promise<string> | string;
  /** A new sink on `store` (not started). */
  readonly newSink: (store: string, overrides: SinkOverrides) => AuditSink;
  /** The stored rows for `ids`, read independently of the sink's write path. */
  readonly readBack: (sink: AuditSink, ids: readonly string[]) => Promise<StoredRows[]>;
  /** Results in the large-batch test (default 10,000). */
  readonly largeBatch?: number;
  /** The store's migration versions, in order. */
  readonly migrationVersions: readonly number[];
}

/** Results that exercise edge cases: empty completion, every context field null, quotes, unicode, tools. */
export function edgeCaseResults(): AttributionResult[] {
  return [
    buildResult({
      id: "edge-nulls",
      tenant: null,
      user_id: null,
      session_id: null,
      trace_id: null,
      response_id: null,
      provider: null,
      logged_model: null,
      record_timestamp: null,
      system: "S",
      user: "U",
      completion: "",
      faithfulness: {},
    }),
    buildResult({
      id: "edge-text'\"\\",
      system: "Quotes ' \" ` and backslashes \\ \\\\ and tabs\tand\nnewlines",
      user: "Ünïcødé ✓ 🙂 日本語 — and a lone ' quote; DROP TABLE attributions; --",
      retrieved: "{x:String} {{attributions}} $1 ? %s",
      tool: "tool said: null NULL \\N",
      completion: "Fine: 'ok' \"ok\" \\ok 🙂",
      converged: false,
      faithfulness: { comprehensiveness: 0, sufficiency: 1e-9 },
      warnings: ["a warning with 'quotes'", ""],
    }),
  ];
}

export function runSinkConformance(opts: SinkConformanceOptions): void {
  const open: AuditSink[] = [];
  const sinkOn = async (store: string, overrides: SinkOverrides = {}): Promise<AuditSink> => {
    const s = opts.newSink(store, { batch: { max_rows: 500, max_wait_ms: 20 }, ...overrides });
    open.push(s);
    await s.start();
    return s;
  };
  const expectRoundTrip = async (sink: AuditSink, results: readonly AttributionResult[]): Promise<void> => {
    const ids = results.map((r) => r.attribution_id);
    const back = await opts.readBack(sink, ids);
    expect(back.map((b) => b.attribution.attribution_id)).toEqual(ids);
    results.forEach((r, i) => {
      expect(back[i], r.attribution_id).toEqual(toRows(r, sink.rowOptions));
    });
  };

  describe(`sink conformance: ${opts.name}`, () => {
    afterAll(async () => {
      for (const s of open) await s.close().catch(() => undefined);
    });

    it("migrates an empty store, and migrating again applies nothing", async () => {
      const store = await opts.newStore();
      const sink = await sinkOn(store, { migrate: false });
      const first = await sink.migrate();
      expect(first.applied.map((m) => m.version)).toEqual(opts.migrationVersions);
      expect(first.alreadyApplied).toEqual([]);
      const second = await sink.migrate();
      expect(second.applied).toEqual([]);
      expect(second.alreadyApplied).toEqual(opts.migrationVersions);
      await sink.close();
      // A worker starting on a migrated store (migrate: true) finds nothing to do and writes.
      const again = await sinkOn(store);
      expect((await again.migrate()).applied).toEqual([]);
      const [r] = makeResults(1, 77);
      await again.write(r!);
      await expectRoundTrip(again, [r!]);
    });

    for (const mode of ["full", "redacted", "none"] as const) {
      it(`round-trips every column (store_text ${mode})`, async () => {
        const sink = await sinkOn(await opts.newStore(), { store_text: mode, max_matrix_cells: 600 });
        const results = [...makeResults(150, 21), ...edgeCaseResults()];
        await Promise.all(results.map((r) => sink.write(r)));
        await expectRoundTrip(sink, results);
      });
    }

    it("re-inserting results (redelivery, retries, duplicates in one batch) keeps one row per attribution id", async () => {
      const sink = await sinkOn(await opts.newStore(), { store_text: "full", batch: { max_rows: 40, max_wait_ms: 20 } });
      const results = makeResults(50, 33);
      await Promise.all(results.map((r) => sink.write(r)));
      // Redelivered later, in other batches, and twice within one batch.
      await Promise.all([...results, ...results.slice(0, 10)].map((r) => sink.write(r)));
      await sink.flush();
      await expectRoundTrip(sink, results);
      // Queries see each attribution once.
      const summary = await sink.runQuery("attribution_summary");
      expect(summary.rows.reduce((n, r) => n + Number(r.attributions), 0)).toBe(50);
      const spans = await sink.runQuery("spans_for_response", { response_id: results[0]!.context.response_id! });
      expect(spans.rows.map((r) => Number(r.rank))).toEqual(results[0]!.spans.map((s) => s.rank));
    });

    it(`writes a large batch (${opts.largeBatch ?? 10_000} results) and reads every one back equal`, async () => {
      const n = opts.largeBatch ?? 10_000;
      const sink = await sinkOn(await opts.newStore(), { store_text: "redacted", batch: { max_rows: 5000, max_wait_ms: 50 } });
      const results = makeResults(n, 44);
      await Promise.all(results.map((r) => sink.write(r)));
      await expectRoundTrip(sink, results);
    });

    it("acknowledges a write only once the store holds it", async () => {
      const sink = await sinkOn(await opts.newStore(), { batch: { max_rows: 1000, max_wait_ms: 60_000 } });
      const results = makeResults(20, 55);
      let resolved = 0;
      const writes = results.map((r) => sink.write(r).then(() => (resolved += 1)));
      await new Promise((r) => setTimeout(r, 300));
      // The batch is still buffered: nothing acknowledged, nothing stored.
      expect(resolved).toBe(0);
      expect(await opts.readBack(sink, results.map((r) => r.attribution_id))).toEqual([]);
      await sink.flush();
      expect(resolved).toBe(20);
      await Promise.all(writes);
      await expectRoundTrip(sink, results);

      // With small batches, every acknowledged write is already readable.
      const sink2 = await sinkOn(await opts.newStore(), { batch: { max_rows: 3, max_wait_ms: 5 } });
      const more = makeResults(12, 56);
      await Promise.all(
        more.map(async (r) => {
          await sink2.write(r);
          const [back] = await opts.readBack(sink2, [r.attribution_id]);
          expect(back?.attribution.attribution_id).toBe(r.attribution_id);
        }),
      );
    });

    it("rejects a result it cannot store (not retryable) and still writes the rest", async () => {
      const sink = await sinkOn(await opts.newStore());
      const good = makeResults(3, 66);
      const bad = { ...good[0]!, attribution_id: "bad-time", created_at: "not a time" };
      const outcomes = await Promise.allSettled([sink.write(bad), ...good.map((r) => sink.write(r))]);
      expect(outcomes[0]?.status).toBe("rejected");
      const err = (outcomes[0] as PromiseRejectedResult).reason as SinkError;
      expect(err).toBeInstanceOf(SinkError);
      expect(err.retryable).toBe(false);
      expect(err.sink).toBe(opts.name);
      expect(outcomes.slice(1).every((o) => o.status === "fulfilled")).toBe(true);
      await expectRoundTrip(sink, good);
    });

    it("records coverage counters; repeated reports of a window count once", async () => {
      const sink = await sinkOn(await opts.newStore());
      await sink.recordCoverage({ source: "topic-a", partition: 0, consumed: 100, sampled: 10, window_start: "2024-05-01T10:00:00Z" });
      await sink.recordCoverage({ source: "topic-a", partition: 0, consumed: 150, sampled: 12, window_start: "2024-05-01T10:00:00Z" });
      await sink.recordCoverage({ source: "topic-a", partition: 1, consumed: 50, sampled: 5, window_start: "2024-05-01T10:00:00Z" });
      await sink.recordCoverage({ source: "topic-b", consumed: 10, sampled: 10, window_start: new Date("2024-05-02T00:00:00Z") });
      const { rows } = await sink.runQuery("coverage");
      expect(rows).toEqual([
        { day: "2024-05-01", source: "topic-a", consumed: 200, sampled: 17, sample_rate: 0.085 },
        { day: "2024-05-02", source: "topic-b", consumed: 10, sampled: 10, sample_rate: 1 },
      ]);
      await expect(sink.recordCoverage({ source: "x", consumed: 1, sampled: 2, window_start: "2024-05-01T00:00:00Z" })).rejects.toThrow(/larger than consumed/);
    });

    it("refuses writes after close", async () => {
      const sink = await sinkOn(await opts.newStore());
      await sink.close();
      await expect(sink.write(makeResults(1, 88)[0]!)).rejects.toBeInstanceOf(SinkError);
    });
  });
}
