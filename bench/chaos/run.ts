/**
 * The standing fault suite: numbered messages through real workers on a real broker and ClickHouse,
 * faults injected, then every number counted (docs/reliability.md has the figures of a full run).
 *
 *   nice -n 10 node --import tsx bench/chaos/run.ts [--scenarios sigkill,bad-input,scale-out,broker,clickhouse,endpoint]
 *       [--records 2000] [--kills 20] [--rate 0.1] [--partitions 4] [--outage-s 20] [--seed 1] [--json FILE] [--keep]
 *
 * Non-destructive scenarios use the shared services (REAGENT_SERVICES_DIR, REAGENT_*_PORT: docs/services.md)
 * with their own topics and databases; broker and ClickHouse outages start private servers on free ports.
 * Exits 1 when any scenario lost or duplicated a row, or a worker took more than 2 s to exit on SIGTERM.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { serviceEndpoints } from "../../deploy/services/index.js";
import { badInput, brokerOutage, clickhouseOutage, endpointOutage, scaleOut, sigkill, summaryLine, type Result, type Size } from "./scenarios.js";

const ALL = ["sigkill", "bad-input", "scale-out", "broker", "clickhouse", "endpoint"] as const;
const { values } = parseArgs({
  options: {
    scenarios: { type: "string", default: ALL.join(",") },
    records: { type: "string", default: "2000" },
    kills: { type: "string", default: "20" },
    rate: { type: "string", default: "0.1" },
    partitions: { type: "string", default: "4" },
    "outage-s": { type: "string", default: "20" },
    seed: { type: "string", default: "1" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});

const size: Size = {
  records: Number(values.records),
  kills: Number(values.kills),
  rate: Number(values.rate),
  partitions: Number(values.partitions),
  outageMs: Number(values["outage-s"]) * 1000,
  seed: Number(values.seed),
};
const chosen = values.scenarios.split(",").map((s) => s.trim());
for (const s of chosen) if (!(ALL as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}; choose from ${ALL.join(", ")}`);

const endpoints = serviceEndpoints();
const shared = { brokers: endpoints.kafkaBrokers, clickhouseUrl: endpoints.clickhouseUrl };
const dir = mkdtempSync(join(tmpdir(), "reagent-chaos-"));
const command = `node --import tsx bench/chaos/run.ts ${process.argv.slice(2).join(" ")}`.trim();
console.log(`# ${command}`);
console.log(`# records ${size.records}, partitions ${size.partitions}, sampling rate ${size.rate}, kills ${size.kills}, outages ${size.outageMs / 1000} s, seed ${size.seed}; toy model, random method`);

const results: Result[] = [];
let failed = false;
for (const name of chosen) {
  const run = {
    sigkill: () => sigkill(shared, dir, size),
    "bad-input": () => badInput(shared, dir, size),
    "scale-out": () => scaleOut(shared, dir, size),
    broker: () => brokerOutage(dir, shared.clickhouseUrl, size),
    clickhouse: () => clickhouseOutage(dir, shared.brokers, size),
    endpoint: () => endpointOutage(shared, dir, size),
  }[name as (typeof ALL)[number]];
  try {
    const r = await run();
    results.push(r);
    console.log(summaryLine(r));
    if (r.count.lost > 0 || r.count.duplicated > 0 || r.sigtermExitMs > 2000) failed = true;
  } catch (err) {
    failed = true;
    console.log(`${name}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  }
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ command, size, results }, null, 1));
if (failed || values.keep) console.log(`# logs kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
