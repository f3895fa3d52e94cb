/**
 * `reagent-stream demo` (`npm run demo`): the whole pipeline on embedded defaults. The bundled
 * sample logs (deploy/samples/) go through the file source, the mapper and the sampler, are
 * attributed with the bundled toy model (models/tiny-lm), and land in the embedded DuckDB store
 * and a JSONL file; then a terminal summary: each record's prompt as a heatmap, its top spans
 * and segment shares, and the pipeline's counters. The settings are deploy/config/demo.yaml.
 */
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { PACKAGE_ROOT } from "../../package-root.js";
import type { Command } from "commander";
import type { AttributionResult } from "../../../schemas/attribution-result.js";
import { wordAlignedText } from "../../text/words.js";
import { convergenceWarning, renderHeatmap, renderLegend, shouldColor } from "../render.js";
import { loadWorkerConfig } from "../../app/config.js";
import { buildWorker, createLogger } from "../../app/worker.js";
import { formatSummary } from "./run.js";

const ROOT = PACKAGE_ROOT;
export const DEMO_RECORDS = join(ROOT, "deploy/samples/demo-records.jsonl");
export const DEMO_CONFIG = join(ROOT, "deploy/config/demo.yaml");

interface DemoFlags {
  readonly config: string;
  readonly out: string;
  readonly keep?: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("Run the pipeline on the bundled sample logs with the bundled model (file source -> sampler -> attribution -> DuckDB) and print a summary")
    .option("--config <file>", "demo worker config", DEMO_CONFIG)
    .option("--out <dir>", "where the DuckDB store and results.jsonl go (the config's ${DEMO_OUT})", "demo-output")
    .option("--keep", "keep the stores of an earlier run (results are deduplicated by attribution id)")
    .action(async (flags: DemoFlags) => {
      await runDemo(flags);
    });
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const out = resolve(flags.out);
  const env = { ...process.env, DEMO_OUT: out };
  // The config's relative paths resolve against its own directory (deploy/config/).
  const cwd = process.cwd();
  const config = loadWorkerConfig(resolve(flags.config), env);
  if (config.source.type === "file") config.source.progress = "off";
  if (!flags.keep) {
    for (const s of config.sinks) {
      if (!("path" in s)) continue;
      for (const f of [s.path, `${s.path}.wal`]) if (f.startsWith(out) && existsSync(f)) rmSync(f);
    }
    if (config.dead_letter?.type === "jsonl" && config.dead_letter.path.startsWith(out) && existsSync(config.dead_letter.path)) rmSync(config.dead_letter.path);
  }

  const color = shouldColor(process.stdout);
  const results: AttributionResult[] = [];
  const m = config.engine.method;
  const engineDesc = m.type === "reagent" ? `ReAGent ${m.mode} mode, ${config.engine.sampler.type} sampler, ${m.num_probes} probes, ≤${m.max_steps} steps` : m.type;
  process.stdout.write(`reagent-stream demo: ${DEMO_RECORDS.replace(`${ROOT}/`, "")} -> sampler -> ${engineDesc} on ${config.scorer === undefined ? "?" : config.scorer.type === "local" ? config.scorer.path.replace(`${ROOT}/`, "") : config.scorer.url} -> ${config.sinks.map((s) => s.type).join(" + ")}\n\n`);
  const worker = await buildWorker(config, { logger: createLogger(config.logging.level), env, onResult: (r) => results.push(r) });
  const summary = await worker.run();

  for (const res of results) {
    const top = res.spans
      .slice(0, 3)
      .map((s) => `${JSON.stringify(wordAlignedText(res.prompt.text, s.start, s.end))} ${(s.score * 100).toFixed(0)}%`)
      .join(", ");
    process.stdout.write(`■ ${res.context.record_id ?? "?"}  →  ${JSON.stringify(res.completion.text)}\n  ${renderHeatmap(res, { color }).replace(/\n/g, "\n  ")}\n  top spans: ${top}\n`);
    const seg = res.segments.filter((s) => s.kind !== "message" && s.share >= 0.005).sort((a, b) => b.share - a.share);
    if (seg.some((s) => s.kind !== "prompt")) process.stdout.write(`  shares (add up to 100%): ${seg.map((s) => `${s.name} ${(s.share * 100).toFixed(0)}%`).join(", ")}\n`);
    const warn = convergenceWarning(res);
    if (warn !== undefined) process.stdout.write(`  ${color ? `\x1b[1;31m${warn}\x1b[0m` : warn}\n`);
    process.stdout.write(
      `  ${res.convergence.targets_converged}/${res.convergence.targets_total} targets converged · ${res.cost.sequences_evaluated} sequences · ${(res.timings.duration_ms / 1000).toFixed(2)} s · attribution_id ${res.attribution_id}\n\n`,
    );
  }
  process.stdout.write(`${renderLegend({ color })}\n\n`);
  process.stdout.write(`${formatSummary(summary).replace(/^reagent-stream: /, "pipeline: ")}\n`);
  const label = (s: { readonly type: string }): string => ({ duckdb: "DuckDB", jsonl: "JSONL" })[s.type] ?? s.type;
  const stores = config.sinks.map((s) => (s.type === "clickhouse" ? `ClickHouse ${s.url}/${s.database}` : "path" in s ? `${label(s)} ${s.path.replace(`${cwd}/`, "")}` : label(s)));
  process.stdout.write(`stored in: ${stores.join(", ")}${config.dead_letter?.type === "jsonl" ? `; dead letters: ${config.dead_letter.path.replace(`${cwd}/`, "")}` : ""}\n`);
  process.stdout.write(`the same run as a worker: reagent-stream run --config ${flags.config === DEMO_CONFIG ? "deploy/config/demo.yaml" : flags.config}\n`);
}
