/**
 * Every query of the audit pack on a small, hand-made dataset, on the real ClickHouse server and
 * on DuckDB: each answer is checked against what the dataset says it must be — written out for
 * the simple queries, computed from the stored rows in plain TypeScript for the aggregates — and
 * the two stores must agree row for row.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseSink } from "../../connectors/clickhouse/sink.js";
import { DuckDbSink } from "../../connectors/duckdb/sink.js";
import type { AuditSink } from "../../connectors/sink-common/audit-sink.js";
import type { SegmentRow, SpanRow, StoredRows } from "../../connectors/sink-common/rows.js";
import { toRows } from "../../connectors/sink-common/rows.js";
import { loadQueryPack } from "../../connectors/sink-common/query-pack.js";
import { QUERY_DATASET } from "../conformance/query-dataset.js";
import { dropTestDatabase, testClickHouse, testEndpoints, uniqueName } from "./services.js";

const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const byKey = <T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> => {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
};
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

describe("audit query pack on both stores", () => {
  const stored: StoredRows[] = QUERY_DATASET.map((r) => toRows(r, { storeText: "full", maxMatrixCells: 4096, timePrecision: "s" }));
  const spans: SpanRow[] = stored.flatMap((s) => s.spans);
  const segments: SegmentRow[] = stored.flatMap((s) => s.segments).filter((g) => g.kind === "rule" || g.kind === "role");
  const top = (id: string): SpanRow => spans.find((s) => s.attribution_id === id && s.rank === 1)!;

  let admin: ClickHouseClient;
  let db = "";
  let dir = "";
  const sinks: Record<"clickhouse" | "duckdb", AuditSink> = {} as never;

  beforeAll(async () => {
    admin = testClickHouse();
    db = uniqueName("sink_queries");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "reagent-queries-"));
    sinks.clickhouse = new ClickHouseSink({ type: "clickhouse", url: testEndpoints().clickhouseUrl, database: db, store_text: "full", batch: { max_rows: 2, max_wait_ms: 5, concurrency: 2 } });
    sinks.duckdb = new DuckDbSink({ type: "duckdb", path: path.join(dir, "q.duckdb"), store_text: "full", batch: { max_rows: 2, max_wait_ms: 5, concurrency: 2 } });
    for (const s of Object.values(sinks)) {
      await s.start();
      // q01 is delivered twice: queries must count it once.
      await Promise.all([...QUERY_DATASET, QUERY_DATASET[0]!].map((r) => s.write(r)));
      await s.flush();
      await s.write(QUERY_DATASET[0]!);
      await s.recordCoverage({ source: "llm-logs", partition: 0, consumed: 1000, sampled: 40, window_start: "2024-05-01T09:00:00Z" });
      await s.recordCoverage({ source: "llm-logs", partition: 0, consumed: 1200, sampled: 50, window_start: "2024-05-01T09:00:00Z" });
      await s.recordCoverage({ source: "llm-logs", partition: 1, consumed: 800, sampled: 30, window_start: "2024-05-01T10:00:00Z" });
      await s.recordCoverage({ source: "llm-logs", partition: 0, consumed: 500, sampled: 0, window_start: "2024-05-02T00:00:00Z" });
    }
  });

  afterAll(async () => {
    for (const s of Object.values(sinks)) await s.close().catch(() => undefined);
    if (db !== "") await dropTestDatabase(admin, db).catch(() => undefined);
    await admin.close();
    if (dir !== "") fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The expected rows of each query with the given parameters. */
  const cases: { name: string; params?: Record<string, string | number>; expected: () => Record<string, unknown>[] }[] = [
    {
      name: "attributions_list",
      params: { converged: "yes", min_faithfulness: 0 },
      expected: () =>
        stored
          .map((s) => s.attribution)
          .filter((a) => a.converged === 1 && a.faithfulness_names.includes("comprehensiveness"))
          .sort((a, b) => cmp(b.event_time, a.event_time) || cmp(a.attribution_id, b.attribution_id))
          .map((a) => ({
            attribution_id: a.attribution_id,
            event_time: a.event_time.slice(0, 19).replace("T", " "),
            tenant_id: a.tenant_id,
            model: a.logged_model ?? a.model,
            record_id: a.record_id,
            trace_id: a.trace_id,
            converged: 1,
            targets: `${a.targets_converged}/${a.targets_total}`,
            faithfulness: a.faithfulness_values[a.faithfulness_names.indexOf("comprehensiveness")],
            top_span: top(a.attribution_id).text ?? "",
            top_share: r4(top(a.attribution_id).score),
            duration_ms: a.duration_ms,
          })),
    },
    {
      name: "attribution_summary",
      expected: () => [
        { day: "2024-05-01", tenant_id: "acme", model: "m-a", attributions: 2, converged_rate: 0.5, with_faithfulness: 1, avg_duration_ms: 2000 },
        { day: "2024-05-02", tenant_id: "globex", model: "m-b", attributions: 2, converged_rate: 1, with_faithfulness: 2, avg_duration_ms: 3000 },
        { day: "2024-05-03", tenant_id: "", model: "m-a", attributions: 1, converged_rate: 1, with_faithfulness: 0, avg_duration_ms: 500 },
      ],
    },
    {
      name: "cost_by_model",
      expected: () => [
        { day: "2024-05-01", model: "m-a", attributions: 2, model_calls: 40, sequences_evaluated: 160, tokens_processed: 4000, tokens_per_attribution: 2000, avg_duration_ms: 2000, max_duration_ms: 3000 },
        { day: "2024-05-02", model: "m-b", attributions: 2, model_calls: 60, sequences_evaluated: 240, tokens_processed: 6000, tokens_per_attribution: 3000, avg_duration_ms: 3000, max_duration_ms: 4000 },
        { day: "2024-05-03", model: "m-a", attributions: 1, model_calls: 5, sequences_evaluated: 20, tokens_processed: 500, tokens_per_attribution: 500, avg_duration_ms: 500, max_duration_ms: 500 },
      ],
    },
    {
      name: "spans_for_response",
      params: { response_id: "chatcmpl-q01" },
      expected: () =>
        QUERY_DATASET[0]!.spans.map((s) => ({
          attribution_id: "q01", model: "m-a", response_id: "chatcmpl-q01", trace_id: "trace-q01", rank: s.rank, segment: s.segment, role: s.role, score: r4(s.score), text: s.text, pii: [],
        })),
    },
    {
      name: "spans_for_response",
      params: { trace_id: "trace-q02", limit: 1 },
      expected: () => [{ attribution_id: "q02", model: "m-a", response_id: "chatcmpl-q02", trace_id: "trace-q02", rank: 1, segment: "user", role: "user", score: r4(top("q02").score), text: "bob@example.com about", pii: ["email"] }],
    },
    {
      name: "segment_share_by_day",
      params: { from: "2024-05-01", to: "2024-05-02" },
      expected: () => [
        { day: "2024-05-01", model: "m-a", kind: "role", segment: "system", attributions: 2, avg_share: 0.175, max_share: 0.25 },
        { day: "2024-05-01", model: "m-a", kind: "role", segment: "user", attributions: 2, avg_share: 0.825, max_share: 0.9 },
        { day: "2024-05-02", model: "m-b", kind: "role", segment: "system", attributions: 2, avg_share: 0.35, max_share: 0.5 },
        { day: "2024-05-02", model: "m-b", kind: "role", segment: "tool", attributions: 1, avg_share: 0.2, max_share: 0.2 },
        { day: "2024-05-02", model: "m-b", kind: "role", segment: "user", attributions: 2, avg_share: 0.55, max_share: 0.8 },
        { day: "2024-05-02", model: "m-b", kind: "rule", segment: "retrieved_context", attributions: 1, avg_share: 0.6, max_share: 0.6 },
      ],
    },
    {
      name: "user_dominated_completions",
      expected: () =>
        [
          ["q05", "2024-05-03", "", "m-a", 0.95],
          ["q02", "2024-05-01", "acme", "m-a", 0.9],
          ["q03", "2024-05-02", "globex", "m-b", 0.8],
          ["q01", "2024-05-01", "acme", "m-a", 0.75],
        ].map(([id, day, tenant, model, s]) => ({ attribution_id: id, day, tenant_id: tenant, model, segment: "user", share: s, top_span: top(id as string).text })),
    },
    {
      name: "user_dominated_completions",
      params: { segment: "retrieved_context", min_share: 0.5 },
      expected: () => [{ attribution_id: "q03", day: "2024-05-02", tenant_id: "globex", model: "m-b", segment: "retrieved_context", share: 0.6, top_span: top("q03").text }],
    },
    {
      name: "unconverged_or_unfaithful",
      params: { metric: "comprehensiveness", min_score: 0.2 },
      expected: () => [
        { attribution_id: "q02", day: "2024-05-01", model: "m-a", converged: 0, targets_converged: QUERY_DATASET[1]!.convergence.targets_converged, targets_total: QUERY_DATASET[1]!.convergence.targets_total, faithfulness: null, unit_level: "token", stopping_rule: "ensemble" },
        { attribution_id: "q03", day: "2024-05-02", model: "m-b", converged: 1, targets_converged: 2, targets_total: 2, faithfulness: 0.1, unit_level: "token", stopping_rule: "ensemble" },
      ],
    },
    {
      name: "unconverged_or_unfaithful",
      // Default metric: the engine's comprehensiveness_ln_ratio, which this dataset does not carry.
      expected: () => [
        { attribution_id: "q02", day: "2024-05-01", model: "m-a", converged: 0, targets_converged: QUERY_DATASET[1]!.convergence.targets_converged, targets_total: QUERY_DATASET[1]!.convergence.targets_total, faithfulness: null, unit_level: "token", stopping_rule: "ensemble" },
      ],
    },
    {
      name: "spans_matching_pattern",
      expected: () => [{ attribution_id: "q02", day: "2024-05-01", tenant_id: "acme", user_id: "u2", session_id: "s2", rank: 1, score: r4(top("q02").score), text: "bob@example.com about" }],
    },
    {
      name: "spans_matching_pattern",
      // Not (?i): ClickHouse 18.16's match() prefilters on a case-sensitive literal and misses it (docs/queries.md).
      params: { pattern: "^[Ii]gnore previous", max_rank: 3 },
      expected: () => [{ attribution_id: "q05", day: "2024-05-03", tenant_id: "", user_id: null, session_id: "s5", rank: 1, score: r4(top("q05").score), text: "Ignore previous" }],
    },
    {
      name: "sensitive_spans",
      expected: () => [{ tenant_id: "acme", user_id: "u2", session_id: "s2", attributions: 1, first_day: "2024-05-01", last_day: "2024-05-01" }],
    },
    {
      name: "sensitive_spans",
      params: { kind: "number", max_rank: 3 },
      expected: () => {
        const hits = spans.filter((s) => s.pii.includes("number") && s.rank <= 3);
        expect(hits.map((h) => h.attribution_id)).toEqual(["q04"]); // "eta=2024-05-03" in the tool output span
        return [{ tenant_id: "globex", user_id: "u4", session_id: "s4", attributions: 1, first_day: "2024-05-02", last_day: "2024-05-02" }];
      },
    },
    {
      name: "coverage",
      expected: () => [
        { day: "2024-05-01", source: "llm-logs", consumed: 2000, sampled: 80, sample_rate: 0.04 },
        { day: "2024-05-02", source: "llm-logs", consumed: 500, sampled: 0, sample_rate: 0 },
      ],
    },
    {
      name: "drift_before_after",
      params: { change_day: "2024-05-02" },
      expected: () => {
        const out: Record<string, unknown>[] = [];
        for (const [key, gs] of [...byKey(segments, (g) => `${g.kind}\u0000${g.name}`)].sort(([a], [b]) => cmp(a, b))) {
          const [kind, segment] = key.split("\u0000") as [string, string];
          const before = gs.filter((g) => g.day < "2024-05-02");
          const after = gs.filter((g) => g.day >= "2024-05-02");
          const avg = (xs: SegmentRow[]): number => xs.reduce((s, g) => s + g.share, 0) / xs.length;
          out.push({
            kind,
            segment,
            before_n: before.length,
            before_avg: before.length === 0 ? null : r4(avg(before)),
            after_n: after.length,
            after_avg: after.length === 0 ? null : r4(avg(after)),
            delta: before.length === 0 || after.length === 0 ? null : r4(avg(after) - avg(before)),
          });
        }
        return out;
      },
    },
    {
      name: "drift_by_version",
      expected: () =>
        [...byKey(segments, (g) => `${g.name}\u0000${g.engine_version}`)]
          .sort(([a], [b]) => cmp(a, b))
          .map(([key, gs]) => {
            const [segment, version] = key.split("\u0000");
            return { segment, version, attributions: gs.length, avg_share: r4(gs.reduce((s, g) => s + g.share, 0) / gs.length) };
          }),
    },
    {
      name: "drift_by_version",
      params: { dimension: "logged_model", model: "m-a" },
      expected: () =>
        [...byKey(segments.filter((g) => g.model === "m-a"), (g) => `${g.name}\u0000${g.logged_model ?? ""}`)]
          .sort(([a], [b]) => cmp(a, b))
          .map(([key, gs]) => {
            const [segment, version] = key.split("\u0000");
            return { segment, version, attributions: gs.length, avg_share: r4(gs.reduce((s, g) => s + g.share, 0) / gs.length) };
          }),
    },
    {
      name: "top_phrases_by_model",
      params: { top_n: 2 },
      expected: () => {
        const out: Record<string, unknown>[] = [];
        for (const [model, ss] of [...byKey(spans.filter((s) => s.rank <= 3), (s) => s.model)].sort(([a], [b]) => cmp(a, b))) {
          const groups = [...byKey(ss, (s) => (s.text ?? "").toLowerCase())].map(([phrase, g]) => ({
            model,
            phrase,
            occurrences: g.length,
            total: g.reduce((a, s) => a + s.score, 0),
          }));
          groups.sort((a, b) => r4(b.total) - r4(a.total) || cmp(a.phrase, b.phrase));
          for (const g of groups.slice(0, 2)) out.push({ model, phrase: g.phrase, occurrences: g.occurrences, total_score: r4(g.total), avg_score: r4(g.total / g.occurrences) });
        }
        return out;
      },
    },
    {
      name: "top_tokens_by_model",
      params: { top_n: 3 },
      expected: () => {
        const out: Record<string, unknown>[] = [];
        for (const [model, rows] of [...byKey(stored, (s) => s.attribution.model)].sort(([a], [b]) => cmp(a, b))) {
          const toks = rows.flatMap((s) =>
            s.attribution.prompt_token_text.flatMap((t, i) => (s.attribution.prompt_token_protected[i] === 0 ? [{ token: t.toLowerCase(), w: s.attribution.importance[i]! }] : [])),
          );
          const groups = [...byKey(toks, (t) => t.token)].map(([token, g]) => ({ token, n: g.length, total: g.reduce((a, t) => a + t.w, 0) }));
          groups.sort((a, b) => b.total - a.total || cmp(a.token, b.token));
          for (const g of groups.slice(0, 3)) out.push({ model, token: g.token, occurrences: g.n, total_importance: r4(g.total), avg_importance: r4(g.total / g.n) });
        }
        return out;
      },
    },
  ];

  it("the cases cover every query in the pack", () => {
    expect(new Set(cases.map((c) => c.name))).toEqual(new Set(loadQueryPack().map((q) => q.name)));
  });

  for (const c of cases) {
    it(`${c.name} ${JSON.stringify(c.params ?? {})} returns the expected rows on ClickHouse and DuckDB`, async () => {
      const expected = c.expected();
      expect(expected.length, "a case must expect at least one row").toBeGreaterThan(0);
      const ch = await sinks.clickhouse.runQuery(c.name, c.params ?? {});
      const duck = await sinks.duckdb.runQuery(c.name, c.params ?? {});
      expect(ch.rows, "clickhouse").toEqual(expected);
      expect(duck.rows, "duckdb").toEqual(expected);
      expect(ch.columns).toEqual(Object.keys(expected[0]!));
      expect(duck.columns).toEqual(ch.columns);
    });
  }

  it("with store_text redacted the pattern query finds nothing, and sensitive_spans still finds the e-mail", async () => {
    const redacted = new DuckDbSink({ type: "duckdb", path: path.join(dir, "redacted.duckdb"), store_text: "redacted", batch: { max_rows: 10, max_wait_ms: 5, concurrency: 1 } });
    await redacted.start();
    try {
      await Promise.all(QUERY_DATASET.map((r) => redacted.write(r)));
      expect((await redacted.runQuery("spans_matching_pattern")).rows).toEqual([]);
      expect((await redacted.runQuery("sensitive_spans")).rows).toEqual([{ tenant_id: "acme", user_id: "u2", session_id: "s2", attributions: 1, first_day: "2024-05-01", last_day: "2024-05-01" }]);
      const spansBack = (await redacted.runQuery("spans_for_response", { response_id: "chatcmpl-q02", limit: 1 })).rows;
      expect(spansBack[0]?.text).toBe("*************** about");
    } finally {
      await redacted.close();
    }
  });
});
