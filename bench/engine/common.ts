/** Shared pieces of the engine benchmarks: held-out items, engines per method, small stats. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import type { EngineConfigInput } from "../../src/attribution/config.js";
import { buildEngine, BUNDLED_LM_DIR, type BuiltEngine } from "../../src/app/engine.js";
import type { LocalModel } from "../../src/models/local-model.js";
import { loadLocalModel } from "../../src/models/local-model.js";

export const heldoutItemSchema = z
  .object({
    id: z.string(),
    task: z.string(),
    prompt: z.string(),
    completion: z.string(),
    causal: z.array(z.object({ start: z.number().int(), end: z.number().int(), text: z.string().optional() }).loose()).min(1),
  })
  .loose();

export type HeldoutItem = z.infer<typeof heldoutItemSchema>;

export function loadHeldout(path = resolve(import.meta.dirname, "../../models/eval/heldout.jsonl")): HeldoutItem[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => heldoutItemSchema.parse(JSON.parse(l)));
}

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

/** `--threads N` pins onnxruntime's intra-op threads, so parallel bench processes do not oversubscribe cores. */
export async function sharedModel(): Promise<LocalModel> {
  const threads = arg("threads", "");
  return loadLocalModel(arg("model", BUNDLED_LM_DIR), threads ? { intraOpThreads: Number(threads) } : {});
}

export async function engineFor(model: LocalModel, cfg: EngineConfigInput): Promise<BuiltEngine> {
  return buildEngine({ model, engine: cfg });
}

export function mean(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

export function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** The exact command line, printed next to every figure. */
export function commandLine(): string {
  return `node --import tsx ${process.argv.slice(1).map((a) => a.replace(process.cwd() + "/", "")).join(" ")}`;
}
