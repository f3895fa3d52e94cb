/**
 * `reagent-stream report`: a self-contained HTML report of attributions, from a results file
 * (the jsonl sink's output, `attribute --out`) or from a DuckDB / ClickHouse store by id.
 *
 *   reagent-stream report --results demo-output/results.jsonl --out report.html
 *   reagent-stream report --file demo-output/reagent-stream.duckdb --id 3f2a… --out report.html
 */
import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { readResultsFile, readStoredResults } from "../../app/results-input.js";
import { ConfigError } from "../../errors.js";
import { renderReport } from "../../report/html.js";
import { addStoreOptions, openStore, type StoreFlags } from "../store-options.js";

interface ReportFlags extends StoreFlags {
  results?: string;
  id?: string[];
  out: string;
  traceUrl?: string;
}

/**
 * Check an output path before any work is done: create its directory and make sure it can be
 * written, so that a bad --out fails in a second, not after the whole attribution ran.
 */
export function prepareOutputFile(path: string, flag: string): void {
  const abs = resolve(path);
  try {
    mkdirSync(dirname(abs), { recursive: true });
    accessSync(dirname(abs), constants.W_OK);
    if (existsSync(abs) && statSync(abs).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError({
      what: `preparing ${flag} ${path}`,
      why: `${code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : code === "ENOTDIR" || code === "EEXIST" ? "a part of the path is a file" : (code ?? String(err))}; choose another path`,
      path: flag,
      cause: err,
    });
  }
}

/** Write a file, creating its directory (a user mistake in the path is one line, not a stack). */
export function writeOutputFile(path: string, text: string, flag: string): string {
  const abs = resolve(path);
  try {
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, text);
  } catch (err) {
    throw new ConfigError({ what: `writing ${path}`, why: (err as NodeJS.ErrnoException).code ?? String(err), path: flag, cause: err });
  }
  return abs;
}

export function registerReport(program: Command): void {
  const cmd = program
    .command("report")
    .description("Write a self-contained HTML report (heatmap, token matrix, top spans, shares, convergence, faithfulness, cost) of stored or saved attributions")
    .option("--results <file>", "attribution results as JSONL (the jsonl sink) or one JSON (attribute --out)")
    .option("--id <attribution_id...>", "attribution ids to read from the store (with --file or --url); default with --results: all")
    .option("-o, --out <file.html>", "where the report goes", "reagent-report.html")
    .option("--trace-url <template>", "link trace ids, e.g. http://phoenix:6006/redirects/traces/{trace_id}");
  addStoreOptions(cmd);
  cmd.action(async (flags: ReportFlags) => {
    prepareOutputFile(flags.out, "--out");
    let results;
    if (flags.results !== undefined) {
      results = readResultsFile(flags.results);
      if (flags.id !== undefined) results = results.filter((r) => flags.id?.includes(r.attribution_id));
    } else {
      if (flags.id === undefined) throw new ConfigError({ what: "making a report", why: "give --results FILE, or --id ID with a store (--file x.duckdb, or --store clickhouse --url …)", path: "--id" });
      const store = await openStore(flags, { forQuery: true });
      try {
        results = await readStoredResults(store, flags.id);
      } finally {
        await store.close();
      }
    }
    if (results.length === 0) throw new ConfigError({ what: "making a report", why: "no attribution matched (check --id, or the results file is empty)", path: "--id" });
    const template = flags.traceUrl;
    const html = renderReport(results, {
      ...(template === undefined ? {} : { traceUrl: (id: string) => template.replaceAll("{trace_id}", encodeURIComponent(id)) }),
      generatedBy: "reagent-stream report",
    });
    const file = writeOutputFile(flags.out, html, "--out");
    process.stdout.write(`wrote ${results.length} attribution${results.length === 1 ? "" : "s"} to ${file}\n`);
  });
}
