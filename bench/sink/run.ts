/**
 * Write throughput of the results stores: attribution rows per second into ClickHouse and DuckDB,
 * through the sinks' public `write()` (row mapping, batching, encoding, insert, confirmation).
 *
 *   node --import tsx bench/sink/run.ts [--rows N] [--batch N] [--store clickhouse|duckdb|both]
 *                                       [--clickhouse-url URL] [--store-text full|redacted|none] [--checkpoint-threshold 16MB]
 *
 * A pool of varied results is generated first (not timed); the N rows written are the pool's
 * results under N distinct attribution ids (the heap holds what a worker would hold, not N
 * results at once). They are written as a stream: at most `--in-flight` unacknowledged writes, as
 * the pipeline would keep. The clock stops when the last write resolved, i.e. when the store
 * confirmed the last batch. Each store runs `--repeat` times on a
 * fresh database / file; the best and the median run are printed. ClickHouse defaults to the
 * local test server (`npm run services:up`); a store that cannot be reached is reported and skipped.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "@clickhouse/client";
import { ClickHouseSink } from "../../connectors/clickhouse/sink.js";
import { DuckDbSink } from "../../connectors/duckdb/sink.js";
import type { AuditSink } from "../../connectors/sink-common/audit-sink.js";
import type { StoreTextMode } from "../../connectors/sink-common/rows.js";
import { REPO_ROOT } from "../../deploy/services/config.js";
import { serviceEndpoints } from "../../deploy/services/index.js";
import { errorMessage } from "../../src/errors.js";
import { makeResults } from "../../test/conformance/attribution-fixtures.js";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "20000" },
    batch: { type: "string", default: "5000" },
    "in-flight": { type: "string", default: "10000" },
    repeat: { type: "string", default: "3" },
    store: { type: "string", default: "both" },
    "clickhouse-url": { type: "string" },
    "store-text": { type: "string", default: "redacted" },
    "checkpoint-threshold": { type: "string" },
  },
});

const N = Number(args.rows);
const batch = Number(args.batch);
const inFlight = Number(args["in-flight"]);
const repeat = Number(args.repeat);
const storeText = args["store-text"] as StoreTextMode;
const chUrl = args["clickhouse-url"] ?? serviceEndpoints().clickhouseUrl;

type Results = ReturnType<typeof makeResults>;

async function writeAll(sink: AuditSink, pool: Results, run: number): Promise<number> {
  const began = performance.now();
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < N; i++) {
    const base = pool[i % pool.length]!;
    const r = { ...base, attribution_id: `${base.attribution_id.slice(0, 16)}-${run}-${i}` };
    const p: Promise<void> = sink.write(r).then(() => {
      pending.delete(p);
    });
    pending.add(p);
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
  return performance.now() - began;
}

interface Run {
  ms: number;
  rowsPerSec: number;
  /** CPU seconds this process used (DuckDB's threads included). */
  cpuS: number;
  /** CPU seconds the local ClickHouse server used, when its pid is known. */
  serverCpuS: number | undefined;
  /** close() after the last acknowledgement: DuckDB's final checkpoint, work a long-running writer pays along the way. */
  closeMs: number;
}

/** utime + stime of a local process, in seconds (Linux /proc), or undefined. */
function procCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** The pid of the test ClickHouse server started by `npm run services:up`, if it runs here. */
function localClickHousePid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(REPO_ROOT, ".services", "clickhouse", "pid"), "utf8").trim());
    return Number.isInteger(pid) && fs.existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function bench(
  name: string,
  open: (i: number) => Promise<{ sink: AuditSink; cleanup: () => Promise<void> }>,
  pool: Results,
  serverPid?: number,
): Promise<Run[]> {
  const runs: Run[] = [];
  for (let i = 0; i < repeat; i++) {
    const { sink, cleanup } = await open(i);
    try {
      await sink.start();
      const cpu0 = process.cpuUsage();
      const server0 = procCpuSeconds(serverPid);
      const ms = await writeAll(sink, pool, i);
      const cpu = process.cpuUsage(cpu0);
      const cpuS = (cpu.user + cpu.system) / 1e6;
      const server1 = procCpuSeconds(serverPid);
      const serverCpuS = server0 === undefined || server1 === undefined ? undefined : server1 - server0;
      const server = serverCpuS === undefined ? "" : ` + server ${serverCpuS.toFixed(1)} s`;
      const c0 = performance.now();
      await sink.close();
      const closeMs = performance.now() - c0;
      runs.push({ ms, rowsPerSec: (N / ms) * 1000, cpuS, serverCpuS, closeMs });
      console.log(
        `  ${name} run ${i + 1}: ${N} rows in ${(ms / 1000).toFixed(2)} s = ${Math.round((N / ms) * 1000)} rows/s (CPU: writer ${cpuS.toFixed(1)} s${server}); close ${(closeMs / 1000).toFixed(2)} s`,
      );
    } finally {
      await sink.close().catch(() => undefined);
      await cleanup();
    }
  }
  return runs;
}

function summary(name: string, runs: Run[]): string {
  const sorted = [...runs].sort((a, b) => b.rowsPerSec - a.rowsPerSec);
  const best = sorted[0]!;
  const median = sorted[Math.floor(sorted.length / 2)]!;
  // Rows per CPU-second of everything that worked on the writes (writer process + local server):
  // what the write path costs, independent of how busy the machine was.
  const perCpu = Math.round(N / (median.cpuS + (median.serverCpuS ?? 0)));
  // Counting close() too charges the run with the checkpoint a larger checkpoint_threshold defers.
  const withClose = Math.round((N / (median.ms + median.closeMs)) * 1000);
  return `${name.padEnd(10)} best ${Math.round(best.rowsPerSec)} rows/s, median ${Math.round(median.rowsPerSec)} rows/s wall clock (${withClose} rows/s counting close); ${perCpu} rows per CPU-second (${runs.length} runs of ${N} rows)`;
}

console.log(`bench/sink: ${N} attribution results (+ spans and segments), batch max_rows ${batch}, store_text ${storeText}, up to ${inFlight} writes in flight`);
console.log(`machine: ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}, node ${process.version}`);
const t0 = performance.now();
const results = makeResults(Math.min(N, 2000), 2024);
const per = (f: (r: Results[number]) => number): string => (results.reduce((s, r) => s + f(r), 0) / results.length).toFixed(1);
console.log(
  `pool of ${results.length} results generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; per result: ${per((r) => r.spans.length)} span rows, ${per((r) => r.segments.length)} segment rows, ${per((r) => r.prompt.tokens.length)} prompt tokens, ${per((r) => r.targets.reduce((s, t) => s + t.importance.length, 0))} matrix cells`,
);

const lines: string[] = [];
const cfg = { store_text: storeText, batch: { max_rows: batch, max_wait_ms: 200 } };

if (args.store === "both" || args.store === "clickhouse") {
  const admin = createClient({ url: chUrl });
  try {
    const rs = await admin.query({ query: "SELECT version() AS v", format: "JSONEachRow" });
    const [{ v }] = (await rs.json<{ v: string }>()) as [{ v: string }];
    console.log(`ClickHouse ${v} at ${chUrl}`);
    const runs = await bench(
      "clickhouse",
      (i) => {
        const db = `bench_sink_${process.pid}_${i}`;
        return Promise.resolve({
          sink: new ClickHouseSink({ type: "clickhouse", url: chUrl, database: db, ...cfg }),
          cleanup: async () => void (await admin.command({ query: `DROP DATABASE IF EXISTS ${db}` })),
        });
      },
      results,
      chUrl === serviceEndpoints().clickhouseUrl ? localClickHousePid() : undefined,
    );
    lines.push(`${summary("clickhouse", runs)} — ClickHouse ${v}`);
  } catch (err) {
    lines.push(`clickhouse skipped: ${errorMessage(err)} (start it with npm run services:up, or pass --clickhouse-url)`);
  } finally {
    await admin.close();
  }
}

if (args.store === "both" || args.store === "duckdb") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-sink-"));
  try {
    const runs = await bench(
      "duckdb",
      (i) => {
        const file = path.join(dir, `bench-${i}.duckdb`);
        const ckpt = args["checkpoint-threshold"] !== undefined ? { checkpoint_threshold: args["checkpoint-threshold"] } : {};
        return Promise.resolve({ sink: new DuckDbSink({ type: "duckdb", path: file, ...cfg, ...ckpt }), cleanup: () => Promise.resolve() });
      },
      results,
    );
    lines.push(summary("duckdb", runs));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`\ncommand: node --import tsx bench/sink/run.ts ${process.argv.slice(2).join(" ")}`.trimEnd());
for (const l of lines) console.log(l);
