/**
 * Writes deploy/grafana/reagent-stream.json, the Grafana dashboard for reagent-stream:
 *   node --import tsx deploy/grafana/make-dashboard.ts
 * Attributions come from ClickHouse (grafana-clickhouse-datasource; the `attributions`,
 * `attribution_spans` and `attribution_segments` tables of connectors/sink-common/tables.ts, read
 * with FINAL so a redelivered attribution counts once), the worker's health from Prometheus (the
 * names of connectors/otel/metrics.ts as /metrics exposes them). The SQL keeps to functions
 * ClickHouse 18.16 has (time buckets by intDiv, not toStartOfInterval), and the tests run every
 * panel's SQL against the real server and check every metric name against the worker's.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CH = { type: "grafana-clickhouse-datasource", uid: "${ds_clickhouse}" };
const PROM = { type: "prometheus", uid: "${ds_prometheus}" };
const A = "${database}.attributions FINAL";
const S = "${database}.attribution_spans FINAL";
const G = "${database}.attribution_segments FINAL";
/** Time bucket of the panel's interval, as a DateTime named `time` (ClickHouse 18.16 has no toStartOfInterval). */
const BUCKET = "toDateTime(intDiv(toUInt32(event_time), $__interval_s) * $__interval_s) AS time";
// `__all` is the variables' allValue: "All" selects every value without listing them.
const WHERE =
  "WHERE $__timeFilter(event_time) AND (model IN (${model:singlequote}) OR '__all' IN (${model:singlequote}))" +
  " AND (tenant_id IN (${tenant:singlequote}) OR '__all' IN (${tenant:singlequote}))";
/** A faithfulness score of the row by name; NULL when the record has none (indexOf 0 would read 0). */
const faith = (name: string): string => `if(has(faithfulness_names, '${name}'), faithfulness_values[indexOf(faithfulness_names, '${name}')], NULL)`;

type Panel = Record<string, unknown>;
let nextId = 1;
const grid = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });

function chPanel(title: string, type: string, pos: ReturnType<typeof grid>, sql: string, table: boolean, extra: Panel = {}): Panel {
  return {
    id: nextId++,
    title,
    type,
    datasource: CH,
    gridPos: pos,
    targets: [{ refId: "A", datasource: CH, editorType: "sql", queryType: table ? "table" : "timeseries", format: table ? 1 : 0, rawSql: sql.trim() }],
    ...extra,
  };
}

function promPanel(title: string, type: string, pos: ReturnType<typeof grid>, exprs: { expr: string; legend: string }[], unit: string, extra: Panel = {}): Panel {
  return {
    id: nextId++,
    title,
    type,
    datasource: PROM,
    gridPos: pos,
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: exprs.map((e, i) => ({ refId: String.fromCharCode(65 + i), datasource: PROM, expr: e.expr, legendFormat: e.legend })),
    ...extra,
  };
}

const row = (title: string, y: number): Panel => ({ id: nextId++, type: "row", title, collapsed: false, gridPos: grid(0, y, 24, 1), panels: [] });

const panels: Panel[] = [
  row("Attributions (ClickHouse)", 0),
  chPanel("Attributions", "stat", grid(0, 1, 4, 4), `SELECT count() AS attributions FROM ${A} ${WHERE}`, true),
  chPanel(
    "Converged",
    "stat",
    grid(4, 1, 4, 4),
    `SELECT if(count() = 0, 0, countIf(converged = 1) / count()) AS converged FROM ${A} ${WHERE}`,
    true,
    { fieldConfig: { defaults: { unit: "percentunit", min: 0, max: 1 }, overrides: [] } },
  ),
  chPanel(
    "Sequences per attribution (mean)",
    "stat",
    grid(8, 1, 4, 4),
    `SELECT if(count() = 0, 0, sum(sequences_evaluated) / count()) AS sequences FROM ${A} ${WHERE}`,
    true,
  ),
  chPanel(
    "Attribution wall time p95",
    "stat",
    grid(12, 1, 4, 4),
    `SELECT quantile(0.95)(duration_ms) / 1000 AS seconds FROM ${A} ${WHERE}`,
    true,
    { fieldConfig: { defaults: { unit: "s" }, overrides: [] } },
  ),
  chPanel(
    "Comprehensiveness vs random (ln, median)",
    "stat",
    grid(16, 1, 8, 4),
    `SELECT quantile(0.5)(faithfulness_values[indexOf(faithfulness_names, 'comprehensiveness_ln_ratio')]) AS ln_ratio
FROM ${A} ${WHERE} AND has(faithfulness_names, 'comprehensiveness_ln_ratio')`,
    true,
  ),
  chPanel(
    "Attributions by model",
    "timeseries",
    grid(0, 5, 12, 8),
    `SELECT ${BUCKET}, model, count() AS attributions FROM ${A} ${WHERE} GROUP BY time, model ORDER BY time, model`,
    false,
  ),
  chPanel(
    "Converged share by model",
    "timeseries",
    grid(12, 5, 12, 8),
    `SELECT ${BUCKET}, model, countIf(converged = 1) / count() AS converged FROM ${A} ${WHERE} GROUP BY time, model ORDER BY time, model`,
    false,
    { fieldConfig: { defaults: { unit: "percentunit", min: 0, max: 1 }, overrides: [] } },
  ),
  chPanel(
    "Cost per attribution by model",
    "timeseries",
    grid(0, 13, 12, 8),
    `SELECT ${BUCKET}, model, sum(sequences_evaluated) / count() AS sequences_per_attribution FROM ${A} ${WHERE} GROUP BY time, model ORDER BY time, model`,
    false,
  ),
  chPanel(
    "Attributions by tenant",
    "timeseries",
    grid(12, 13, 12, 8),
    `SELECT ${BUCKET}, if(tenant_id = '', '(none)', tenant_id) AS tenant, count() AS attributions FROM ${A} ${WHERE} GROUP BY time, tenant ORDER BY time, tenant`,
    false,
  ),
  chPanel(
    "Faithfulness vs random (ln ratio; > 0 beats random)",
    "histogram",
    grid(0, 21, 12, 8),
    // One row per attribution with a faithfulness score (engine faithfulness: deletion); the panel buckets them.
    `SELECT ${faith("comprehensiveness_ln_ratio")} AS comprehensiveness, ${faith("sufficiency_ln_ratio")} AS sufficiency
FROM ${A} ${WHERE} AND notEmpty(faithfulness_names) ORDER BY event_time DESC LIMIT 10000`,
    true,
    { options: { bucketSize: 0.25, combine: false } },
  ),
  chPanel(
    "Segment shares (mean share of the prompt's importance)",
    "barchart",
    grid(12, 21, 12, 8),
    `SELECT name AS segment, avg(share) AS mean_share, count() AS attributions FROM ${G} ${WHERE} GROUP BY name ORDER BY mean_share DESC LIMIT 20`,
    true,
    { fieldConfig: { defaults: { unit: "percentunit" }, overrides: [] } },
  ),
  chPanel(
    "Top spans (text as stored: store_text)",
    "table",
    grid(0, 29, 12, 9),
    `SELECT text, count() AS attributions, avg(score) AS mean_share, any(segment) AS segment
FROM ${S} ${WHERE} AND rank <= 3 AND text != ''
GROUP BY text ORDER BY attributions DESC, mean_share DESC LIMIT 25`,
    true,
  ),
  chPanel(
    "Unconverged or unfaithful (latest)",
    "table",
    grid(12, 29, 12, 9),
    `SELECT event_time, attribution_id, trace_id, model, converged, targets_converged, targets_total, unit_level, stopping_rule,
       ${faith("comprehensiveness_ln_ratio")} AS comprehensiveness_ln_ratio
FROM ${A} ${WHERE} AND (converged = 0 OR (has(faithfulness_names, 'comprehensiveness_ln_ratio') AND faithfulness_values[indexOf(faithfulness_names, 'comprehensiveness_ln_ratio')] < 0))
ORDER BY event_time DESC LIMIT 50`,
    true,
  ),
  row("Worker (Prometheus)", 38),
  promPanel(
    "Records per second",
    "timeseries",
    grid(0, 39, 12, 8),
    [
      { expr: "sum(rate(reagent_stream_records_consumed_total[$__rate_interval]))", legend: "consumed" },
      { expr: "sum(rate(reagent_stream_records_sampled_total[$__rate_interval]))", legend: "sampled" },
      { expr: "sum(rate(reagent_stream_records_attributed_total[$__rate_interval]))", legend: "attributed" },
      { expr: "sum(rate(reagent_stream_records_skipped_total[$__rate_interval]))", legend: "skipped" },
      { expr: "sum by (reason) (rate(reagent_stream_records_dead_lettered_total[$__rate_interval]))", legend: "dead-lettered {{reason}}" },
    ],
    "reqps",
  ),
  promPanel(
    "Commit lag and records in flight",
    "timeseries",
    grid(12, 39, 12, 8),
    [
      { expr: "sum by (partition) (reagent_stream_commit_lag)", legend: "lag p{{partition}}" },
      { expr: "sum(reagent_stream_records_in_flight)", legend: "in flight" },
    ],
    "short",
  ),
  promPanel(
    "Scoring endpoint latency",
    "timeseries",
    grid(0, 47, 12, 8),
    [
      { expr: "histogram_quantile(0.5, sum by (le) (rate(reagent_stream_endpoint_duration_seconds_bucket[$__rate_interval])))", legend: "p50" },
      { expr: "histogram_quantile(0.95, sum by (le) (rate(reagent_stream_endpoint_duration_seconds_bucket[$__rate_interval])))", legend: "p95" },
    ],
    "s",
  ),
  promPanel(
    "Endpoint errors and failed records",
    "timeseries",
    grid(12, 47, 12, 8),
    [
      { expr: "sum by (outcome) (rate(reagent_stream_endpoint_errors_total[$__rate_interval]))", legend: "endpoint {{outcome}}" },
      { expr: "sum by (stage, code) (rate(reagent_stream_records_failed_total[$__rate_interval]))", legend: "failed {{stage}} {{code}}" },
    ],
    "reqps",
  ),
  promPanel(
    "Attribution wall time",
    "timeseries",
    grid(0, 55, 12, 8),
    [
      { expr: "histogram_quantile(0.5, sum by (le) (rate(reagent_stream_attribution_duration_seconds_bucket[$__rate_interval])))", legend: "p50" },
      { expr: "histogram_quantile(0.95, sum by (le) (rate(reagent_stream_attribution_duration_seconds_bucket[$__rate_interval])))", legend: "p95" },
    ],
    "s",
  ),
  promPanel(
    "Sinks and OTel export",
    "timeseries",
    grid(12, 55, 12, 8),
    [
      { expr: "sum by (sink, outcome) (rate(reagent_stream_sink_rows_total[$__rate_interval]))", legend: "rows {{sink}} {{outcome}}" },
      { expr: "histogram_quantile(0.95, sum by (le, sink) (rate(reagent_stream_sink_batch_duration_seconds_bucket[$__rate_interval])))", legend: "batch p95 {{sink}} (s)" },
      { expr: "sum by (signal, reason) (rate(reagent_stream_otel_dropped_total[$__rate_interval]))", legend: "otel dropped {{signal}} {{reason}}" },
    ],
    "short",
  ),
  promPanel(
    "Scoring endpoint circuit breaker",
    "state-timeline",
    grid(0, 63, 24, 5),
    // 0 closed, 1 half-open, 2 open: one series of reagent_stream_endpoint_breaker_state is 1 at a time.
    [
      {
        expr: 'max by (model) (reagent_stream_endpoint_breaker_state{state="half_open"}) + 2 * max by (model) (reagent_stream_endpoint_breaker_state{state="open"})',
        legend: "{{model}}",
      },
    ],
    "none",
    {
      fieldConfig: {
        defaults: {
          unit: "none",
          mappings: [
            {
              type: "value",
              options: {
                "0": { text: "closed", color: "green" },
                "1": { text: "half-open", color: "orange" },
                "2": { text: "open (attribution paused)", color: "red" },
              },
            },
          ],
          color: { mode: "thresholds" },
          thresholds: { mode: "absolute", steps: [{ color: "green", value: null }, { color: "orange", value: 1 }, { color: "red", value: 2 }] },
        },
        overrides: [],
      },
    },
  ),
];

const dashboard = {
  uid: "reagent-stream",
  title: "reagent-stream",
  description: "Token attributions of production LLM calls (ClickHouse) and the reagent-stream worker (Prometheus). Made by deploy/grafana/make-dashboard.ts.",
  tags: ["reagent-stream", "llm", "attribution"],
  schemaVersion: 39,
  version: 1,
  editable: true,
  time: { from: "now-24h", to: "now" },
  refresh: "1m",
  templating: {
    list: [
      { name: "ds_clickhouse", label: "ClickHouse", type: "datasource", query: "grafana-clickhouse-datasource", current: {}, hide: 0 },
      { name: "ds_prometheus", label: "Prometheus", type: "datasource", query: "prometheus", current: {}, hide: 0 },
      {
        name: "database",
        label: "Database",
        type: "textbox",
        query: "llm_audit",
        current: { text: "llm_audit", value: "llm_audit" },
        description: "The ClickHouse sink's `database`",
        hide: 0,
      },
      {
        name: "model",
        label: "Model",
        type: "query",
        datasource: CH,
        query: "SELECT DISTINCT model FROM ${database}.attributions ORDER BY model",
        definition: "SELECT DISTINCT model FROM ${database}.attributions ORDER BY model",
        includeAll: true,
        allValue: "__all",
        multi: true,
        current: { text: "All", value: "$__all" },
        refresh: 2,
        hide: 0,
      },
      {
        name: "tenant",
        label: "Tenant",
        type: "query",
        datasource: CH,
        query: "SELECT DISTINCT tenant_id FROM ${database}.attributions ORDER BY tenant_id",
        definition: "SELECT DISTINCT tenant_id FROM ${database}.attributions ORDER BY tenant_id",
        includeAll: true,
        allValue: "__all",
        multi: true,
        current: { text: "All", value: "$__all" },
        refresh: 2,
        hide: 0,
      },
    ],
  },
  panels,
};

/** The dashboard as written to reagent-stream.json (the tests compare the two). */
export const DASHBOARD = dashboard;

export const DASHBOARD_FILE = fileURLToPath(new URL("./reagent-stream.json", import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(DASHBOARD_FILE, `${JSON.stringify(dashboard, null, 2)}\n`);
  console.log(`wrote ${DASHBOARD_FILE} (${panels.length} panels)`);
}
