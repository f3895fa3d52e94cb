/**
 * Attribution wall time through serve-model (HTTP) against in-process ONNX scoring, on the same
 * records, model and settings, for each protocol serve-model speaks.
 *
 *   node --import tsx bench/endpoint/run.ts [--records 20] [--rounds 2] [--probes 4] [--steps 30] [--kinds sglang,vllm]
 *
 * serve-model runs as a separate process (`reagent-stream serve-model --port 0`), as it would in
 * production; both sides use the same onnxruntime thread count. Within a round the paths
 * alternate record by record (so load from elsewhere hits them alike); per-round totals and
 * their medians are reported, with the HTTP/in-process ratio and a check that all paths
 * produced the same importance vectors.
 *
 * Why the protocols differ: vLLM's `prompt_logprobs` returns every prompt position, so the
 * server must log-softmax all of them (a full pass over the vocabulary per position) even when
 * the engine needs one; SGLang's `logprob_start_len` lets it compute only from the first
 * position asked for. On a GPU that work is small next to the forward pass; on this CPU it is not.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { AttributionEngine, type AttributionModel, type AttributeRequest } from "../../src/attribution/engine.js";
import { createSampler } from "../../src/attribution/samplers/index.js";
import { createRng } from "../../src/attribution/rng.js";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { loadAttributionModel, type LoadedModel } from "../../src/models/endpoint.js";
import { loadLocalModel } from "../../src/models/local-model.js";

const MODEL_DIR = "models/tiny-lm";

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
function sflag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
}

const N = flag("records", 20);
const ROUNDS = flag("rounds", 2);
const PROBES = flag("probes", 4);
const STEPS = flag("steps", 30);
const KINDS = sflag("kinds", "sglang,vllm").split(",") as ("vllm" | "vllm-echo" | "sglang")[];
const THREADS = flag("threads", Math.max(1, availableParallelism()));

const WORDS = (
  "the a model river city night market data paper window answer question story light garden music " +
  "teacher student engine signal winter summer quiet bright small large old new early late under over " +
  "near far between after before because while when where which people water stone road field house"
).split(" ");

/** Deterministic prompts of roughly 40-60 tokens. */
function prompts(n: number): string[] {
  const rng = createRng(1234, "bench-endpoint");
  return Array.from({ length: n }, () => {
    const words = 28 + rng.int(14);
    const out: string[] = [];
    for (let i = 0; i < words; i++) out.push(WORDS[rng.int(WORDS.length)] as string);
    return `${out.join(" ")}. Answer:`;
  });
}

async function startServeModel(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve-model", "--model", MODEL_DIR, "--port", "0", "--threads", String(THREADS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`serve-model exited with ${code}`)));
    lines.on("line", (line) => {
      const m = /on (http:\/\/\S+)$/.exec(line);
      if (m) resolve(m[1] as string);
    });
  });
  return { url, child };
}

function engineFor(model: AttributionModel): AttributionEngine {
  const vocabSize = Math.min(model.tokenizer.size, model.scorer.capabilities.vocabSize ?? model.tokenizer.size);
  const sampler = createSampler("uniform", { tokenizer: model.tokenizer, vocabSize });
  return new AttributionEngine(model, sampler, { sampler: "uniform", mode: "joint", stopping: "probe", num_probes: PROBES, max_steps: STEPS, seed: 11 });
}

async function runAll(engine: AttributionEngine, records: readonly AttributeRequest[]): Promise<{ ms: number; results: AttributionResult[] }> {
  const t0 = performance.now();
  const results: AttributionResult[] = [];
  for (const r of records) results.push(await engine.attribute(r));
  return { ms: performance.now() - t0, results };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function main(): Promise<void> {
  const local = await loadLocalModel(MODEL_DIR, { intraOpThreads: THREADS });
  const tok = local.tokenizer;
  // Records: prompt + 1-5 completion tokens the model itself generates greedily.
  const records: AttributeRequest[] = [];
  const texts = prompts(N);
  for (let i = 0; i < N; i++) {
    const prompt = texts[i] as string;
    const ids = [...(local.addBos && tok.bosId !== undefined ? [tok.bosId] : []), ...tok.encode(prompt).ids];
    const want = 1 + (i % 5);
    let completionIds = await local.scorer.generate(ids, want, new Set([tok.eosId ?? -1]));
    if (completionIds.length === 0) completionIds = [tok.encode(" the").ids[0] as number];
    records.push({ prompt, completion: tok.decode(completionIds), completionIds, context: { record_id: `bench-${i}` } });
  }
  const promptLens = records.map((r) => tok.encode(r.prompt as string).ids.length);

  const { url, child } = await startServeModel();
  const remotes: LoadedModel[] = [];
  try {
    const inproc = engineFor(local);
    const http = new Map<string, AttributionEngine>();
    for (const kind of KINDS) {
      const m = await loadAttributionModel({ type: kind, url, tokenizer: MODEL_DIR, max_batch: 64, max_concurrency: 2 });
      remotes.push(m);
      http.set(kind, engineFor(m));
    }
    // Warm-up: one record each (JIT, session, connection).
    await inproc.attribute(records[0] as AttributeRequest);
    for (const e of http.values()) await e.attribute(records[0] as AttributeRequest);

    // Paths alternate record by record, so load from elsewhere on the machine hits them alike.
    const times = new Map<string, number[]>([["in-process", []], ...KINDS.map((k) => [k, []] as [string, number[]])]);
    const last = new Map<string, AttributionResult[]>();
    const engines: [string, AttributionEngine][] = [["in-process", inproc], ...http];
    for (let round = 0; round < ROUNDS; round++) {
      const total = new Map(engines.map(([name]) => [name, 0]));
      const results = new Map(engines.map(([name]) => [name, [] as AttributionResult[]]));
      for (const rec of records) {
        for (const [name, e] of engines) {
          const x = await runAll(e, [rec]);
          total.set(name, (total.get(name) ?? 0) + x.ms);
          results.get(name)?.push(...x.results);
        }
      }
      for (const [name] of engines) {
        times.get(name)?.push(total.get(name) ?? 0);
        last.set(name, results.get(name) ?? []);
      }
    }
    const base = last.get("in-process") as AttributionResult[];
    const seqs = base.reduce((s, r) => s + r.cost.sequences_evaluated, 0);
    const targets = base.reduce((s, r) => s + r.targets.length, 0);
    const mi = median(times.get("in-process") as number[]);
    console.log(`command: node --import tsx bench/endpoint/run.ts ${process.argv.slice(2).join(" ")}`.trim());
    console.log(`records: ${N} (prompt tokens ${Math.min(...promptLens)}-${Math.max(...promptLens)}, ${targets} completion tokens in total, 1-5 per record)`);
    console.log(`settings: reagent joint (stopping: probe), sampler uniform, num_probes ${PROBES}, max_steps ${STEPS}, seed 11; onnxruntime threads ${THREADS}; ${seqs} sequences scored per pass; ${ROUNDS} rounds`);
    console.log(`endpoint: serve-model in a separate process; scorer max_batch 64 sequences/request, max_concurrency 2`);
    const fmt = (xs: readonly number[]): string => xs.map((t) => (t / 1000).toFixed(2)).join(", ");
    console.log(`in-process ONNX        : ${fmt(times.get("in-process") as number[])} s (median ${(mi / 1000).toFixed(2)} s)`);
    KINDS.forEach((kind, i) => {
      const xs = times.get(kind) as number[];
      const mh = median(xs);
      const stats = (remotes[i] as LoadedModel).scorer as unknown as { stats: { requests: number; retries: number; latencyMs: { total: number; count: number } } };
      let maxDiff = 0;
      (last.get(kind) as AttributionResult[]).forEach((r, j) =>
        r.targets.forEach((t, q) =>
          t.importance.forEach((v, m) => {
            maxDiff = Math.max(maxDiff, Math.abs(v - ((base[j] as AttributionResult).targets[q]?.importance[m] ?? NaN)));
          }),
        ),
      );
      console.log(
        `HTTP ${kind.padEnd(18)}: ${fmt(xs)} s (median ${(mh / 1000).toFixed(2)} s) -> ratio ${(mh / mi).toFixed(2)}x; ` +
          `${stats.stats.requests} requests, mean latency ${(stats.stats.latencyMs.total / Math.max(1, stats.stats.latencyMs.count)).toFixed(1)} ms; ` +
          `same importance: ${maxDiff <= 1e-9 ? "yes" : "NO"} (max |diff| ${maxDiff.toExponential(1)})`,
      );
    });
  } finally {
    for (const m of remotes) await m.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await local.scorer.close();
  }
}

await main();
