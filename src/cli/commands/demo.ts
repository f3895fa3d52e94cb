/**
 * `reagent-stream demo` (`npm run demo`): attribute the bundled sample logs with the bundled
 * models and print a readable summary; results go to demo-output/results.jsonl.
 * (The pipeline issue turns this into the full source -> sampler -> sink run.)
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import type { AttributionResult } from "../../../schemas/attribution-result.js";
import { RecordValidationError } from "../../errors.js";
import { chatRoles } from "../../text/chat-template.js";
import { BUNDLED_LM_DIR, buildEngine } from "../engine-factory.js";
import { renderHeatmap, shouldColor } from "../render.js";

export const DEMO_RECORDS = resolve(import.meta.dirname, "../../../deploy/samples/demo-records.jsonl");

const demoRecordSchema = z
  .object({
    id: z.string(),
    prompt: z.union([z.string(), z.array(z.object({ role: z.enum(chatRoles), content: z.string() }).strict())]),
    completion: z.string(),
    segments: z.array(z.object({ name: z.string(), start: z.string(), end: z.string() }).strict()).optional(),
  })
  .strict();

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("Attribute the bundled sample logs with the bundled models and print a summary")
    .option("--records <file>", "JSONL sample records", DEMO_RECORDS)
    .option("--out <dir>", "where result files go", "demo-output")
    .action(async (flags: { records: string; out: string }) => {
      await runDemo(flags);
    });
}

async function runDemo(flags: { records: string; out: string }): Promise<void> {
  const lines = readFileSync(flags.records, "utf8").split("\n").filter((l) => l.trim().length > 0);
  const records = lines.map((l, i) => {
    const parsed = demoRecordSchema.safeParse(JSON.parse(l));
    if (!parsed.success) {
      throw new RecordValidationError({ what: `reading ${flags.records} line ${i + 1}`, why: parsed.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; ") });
    }
    return parsed.data;
  });
  const built = await buildEngine({
    model: BUNDLED_LM_DIR,
    engine: { mode: "joint", sampler: "pos", num_probes: 8, max_steps: 300, seed: 42 },
    // Each "[doc N] ..." passage up to the next passage or the question is retrieved context.
    segments: [{ name: "retrieved_context", pattern: "\\[doc \\d+\\][^\\[]*?(?=\\s*(?:\\[doc|Question:))", flags: "" }],
  });
  const color = shouldColor(process.stdout);
  const results: AttributionResult[] = [];
  const t0 = performance.now();
  try {
    process.stdout.write(`reagent-stream demo: ${records.length} sample records, model ${built.model.scorer.info.id}, ReAGent joint mode, POS sampler\n\n`);
    for (const r of records) {
      const res = await built.engine.attribute({ prompt: r.prompt, completion: r.completion, context: { record_id: r.id } });
      results.push(res);
      const top = res.spans.slice(0, 3).map((s) => `${JSON.stringify(s.text)} ${(s.score * 100).toFixed(0)}%`).join(", ");
      process.stdout.write(`■ ${r.id}  →  ${JSON.stringify(r.completion)}\n  ${renderHeatmap(res, { color }).replace(/\n/g, "\n  ")}\n  top spans: ${top}\n`);
      const seg = res.segments.filter((s) => s.kind === "rule" || s.kind === "role");
      if (seg.length > 0) process.stdout.write(`  shares: ${seg.map((s) => `${s.name} ${(s.share * 100).toFixed(0)}%`).join(", ")}\n`);
      process.stdout.write(`  ${res.convergence.targets_converged}/${res.convergence.targets_total} targets converged · ${res.cost.sequences_evaluated} sequences · ${(res.timings.duration_ms / 1000).toFixed(2)} s\n\n`);
    }
  } finally {
    await built.close();
  }
  mkdirSync(flags.out, { recursive: true });
  const file = join(flags.out, "results.jsonl");
  writeFileSync(file, results.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const secs = (performance.now() - t0) / 1000;
  const seqs = results.reduce((s, r) => s + r.cost.sequences_evaluated, 0);
  process.stdout.write(`${results.length} attributions in ${secs.toFixed(1)} s (${seqs} model sequences); results: ${file}\n`);
}
