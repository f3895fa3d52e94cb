/**
 * Attribution results for the report and the web view, from a results JSONL file (the jsonl
 * sink, `attribute --out`) or from a store (DuckDB / ClickHouse rows rebuilt as results).
 */
import { readFileSync } from "node:fs";
import { attributionResultSchema, type AttributionResult } from "../../schemas/attribution-result.js";
import type { AuditSink } from "../../connectors/sink-common/audit-sink.js";
import { resultFromRows } from "../../connectors/sink-common/result-from-rows.js";
import { ConfigError } from "../errors.js";

/** Every result in a JSON file (one result) or JSONL file (one per line); a bad line fails with its number. */
export function readResultsFile(path: string): AttributionResult[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError({ what: `reading ${path}`, why: (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(err), path: "--results", cause: err });
  }
  const trimmed = text.trim();
  const chunks = trimmed.startsWith("{") && !trimmed.includes("\n{") ? [trimmed] : trimmed.split("\n");
  const out: AttributionResult[] = [];
  chunks.forEach((line, i) => {
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new ConfigError({ what: `reading ${path}`, why: `line ${i + 1} is not JSON`, path: "--results", expected: "attribution results as written by the jsonl sink or attribute --out" });
    }
    const parsed = attributionResultSchema.safeParse(json);
    if (!parsed.success) {
      throw new ConfigError({ what: `reading ${path}`, why: `line ${i + 1} is not an attribution result (${parsed.error.issues[0]?.path.join(".") ?? ""}: ${parsed.error.issues[0]?.message ?? ""})`, path: "--results" });
    }
    out.push(parsed.data);
  });
  return out;
}

/** Stored attributions by id, rebuilt as results (ids not found are left out). */
export async function readStoredResults(store: AuditSink, ids: readonly string[]): Promise<AttributionResult[]> {
  return (await store.readRows(ids)).map(resultFromRows);
}
