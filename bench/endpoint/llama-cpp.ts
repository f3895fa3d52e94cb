/**
 * Cost of scoring through llama-cpp-python (a server nobody here wrote) against in-process ONNX
 * on the same GGUF-derived model, and one attribution through both.
 *
 *   node --import tsx bench/endpoint/llama-cpp.ts [--local smollm2] [--lengths 32,64,128,256] [--repeats 3] [--probes 2] [--steps 10]
 *
 * Starts `deploy/llama-cpp/serve.sh` (llama-cpp-python 0.3.36 serving SmolLM2-135M-Instruct Q4_1
 * on 127.0.0.1; builds it on first use) as a separate process. `--local` is the in-process side:
 * a model directory or name (`smollm2` is the smollm2 build's ONNX export of the same GGUF,
 * found under $REAGENT_MODELS_DIR); `--local none` measures the server alone.
 *
 * Per-sequence cost: BOS-first sequences of each length scored one at a time (one scored
 * position, the last), median of `--repeats`. The server's cost is dominated by Python work per
 * echoed token (a sort of the whole vocabulary and detokenisation per position), so it grows
 * with the sequence length whatever positions are asked for.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, mkdtempSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer, type AddressInfo } from "node:net";
import { AttributionEngine, type AttributionModel, type AttributeRequest } from "../../src/attribution/engine.js";
import { createSampler } from "../../src/attribution/samplers/index.js";
import type { AttributionResult } from "../../schemas/attribution-result.js";
import { loadAttributionModel } from "../../src/models/endpoint.js";
import { loadLocalModel, resolveModelDir } from "../../src/models/local-model.js";

const ROOT = resolve(import.meta.dirname, "../..");
function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : def;
}
const LOCAL = arg("local", "smollm2");
const LENGTHS = arg("lengths", "32,64,128,256").split(",").map(Number);
const REPEATS = Number(arg("repeats", "3"));
const PROBES = Number(arg("probes", "2"));
const STEPS = Number(arg("steps", "10"));

const TEXT =
  "The river runs past the old mill and under the stone bridge, where the town keeps its market on Saturdays. " +
  "Farmers bring apples, cheese and bread, and the children watch the boats go by while their parents talk about the weather. ";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  console.log(`command: node --import tsx bench/endpoint/llama-cpp.ts ${process.argv.slice(2).join(" ")}`.trim());
  const port = await freePort();
  const log = join(mkdtempSync(join(tmpdir(), "bench-llama-cpp-")), "server.log");
  const child = spawn("bash", [join(ROOT, "deploy/llama-cpp/serve.sh"), String(port)], { cwd: ROOT, stdio: ["ignore", openSync(log, "a"), openSync(log, "a")] });
  const url = `http://127.0.0.1:${port}`;
  try {
    const until = Date.now() + 3_600_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve.sh exited with ${child.exitCode}; see ${log}`);
      if (await fetch(`${url}/v1/models`).then((r) => r.ok, () => false)) break;
      if (Date.now() > until) throw new Error(`no answer from ${url}; see ${log}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const m = /--model llama-cpp-python\+\S+\/(\S+) --tokenizer (\S+)/.exec(readFileSync(log, "utf8"));
    if (!m) throw new Error(`serve.sh printed no scorer settings; see ${log}`);
    const t0 = performance.now();
    const remote = await loadAttributionModel({ type: "llama-cpp-python", url, model: m[1], tokenizer: m[2] as string }, { log: (t) => console.log(t.split("\n").filter((l) => /FAIL|warn|result:/.test(l)).join("\n")) });
    console.log(`self-test: ${Math.round(performance.now() - t0)} ms`);
    const localDir = LOCAL === "none" ? undefined : resolveModelDir(LOCAL);
    const local = localDir !== undefined && existsSync(join(localDir, "model.onnx")) ? await loadLocalModel(localDir, { intraOpThreads: 2 }) : undefined;
    if (LOCAL !== "none" && !local) console.log(`in-process side skipped: ${localDir} has no model.onnx (bash models/smollm2/build.sh builds it)`);

    const tok = remote.tokenizer;
    const ids = [tok.bosId as number, ...tok.encode(TEXT.repeat(8)).ids];
    console.log("\nper-sequence cost (one sequence per call, last position scored, top-5; median of", REPEATS, "):");
    console.log("tokens  llama-cpp-python ms  ms/token  in-process ms  ratio");
    for (const n of LENGTHS) {
      const seq = { ids: ids.slice(0, n), positions: [n - 1] };
      const times = async (score: (b: (typeof seq)[]) => Promise<unknown>): Promise<number> => {
        const xs: number[] = [];
        for (let r = 0; r < REPEATS; r++) {
          // A different last token each repeat, so the server's prefix cache cannot answer from memory.
          const s = { ids: [...seq.ids.slice(0, -1), ids[n + r] as number], positions: seq.positions };
          const a = performance.now();
          await score([s]);
          xs.push(performance.now() - a);
        }
        return median(xs);
      };
      const server = await times((b) => remote.scorer.score(b, { topK: 5 }));
      const inproc = local ? await times((b) => local.scorer.score(b, { topK: 5 })) : undefined;
      console.log(
        `${String(n).padStart(6)}  ${server.toFixed(0).padStart(19)}  ${(server / n).toFixed(1).padStart(8)}  ${inproc === undefined ? "-".padStart(13) : inproc.toFixed(0).padStart(13)}  ${inproc === undefined ? "-" : `${(server / inproc).toFixed(0)}x`}`,
      );
    }

    const record: AttributeRequest = {
      prompt: [
        { role: "system", content: "Answer in one word." },
        { role: "user", content: "What is the capital of France?" },
      ],
      completion: "Paris",
      context: { record_id: "bench-llama-cpp" },
    };
    const settings = { sampler: "uniform" as const, num_probes: PROBES, max_steps: STEPS, max_targets: 1, seed: 7 };
    const attribute = async (model: AttributionModel): Promise<{ r: AttributionResult; ms: number }> => {
      const engine = new AttributionEngine(model, createSampler("uniform", { tokenizer: model.tokenizer, vocabSize: model.tokenizer.size }), settings);
      const a = performance.now();
      const r = await engine.attribute(record);
      return { r, ms: performance.now() - a };
    };
    const show = (name: string, x: { r: AttributionResult; ms: number }): void => {
      const t = x.r.targets[0];
      console.log(
        `${name}: p_original ${t?.p_original.toFixed(4)}, ${x.r.cost.sequences_evaluated} sequences in ${(x.ms / 1000).toFixed(1)} s (${(x.ms / Math.max(1, x.r.cost.sequences_evaluated)).toFixed(0)} ms/sequence), converged ${x.r.convergence.probes_converged}/${x.r.convergence.probes_total}`,
      );
      console.log(`  top spans: ${x.r.spans.slice(0, 5).map((s) => `${JSON.stringify(s.text)} ${(100 * s.score).toFixed(1)}%`).join(", ")}`);
    };
    console.log(`\none attribution (chat record, joint mode, uniform sampler, ${PROBES} probes, ${STEPS} steps, 1 target):`);
    const through = await attribute(remote);
    show("through llama-cpp-python", through);
    if (local) {
      const inproc = await attribute(local);
      show("in-process ONNX         ", inproc);
      const a = through.r.sequence.importance;
      const b = inproc.r.sequence.importance;
      const same = through.r.prompt.tokens.map((t) => t.id).join() === inproc.r.prompt.tokens.map((t) => t.id).join();
      const maxDiff = a.reduce((mx, x, i) => Math.max(mx, Math.abs(x - (b[i] ?? 0))), 0);
      console.log(`  same prompt ids: ${same}; largest per-token importance difference: ${(100 * maxDiff).toFixed(1)} points; p_original ${through.r.targets[0]?.p_original.toFixed(4)} vs ${inproc.r.targets[0]?.p_original.toFixed(4)}`);
      await local.scorer.close();
    }
    await remote.close();
  } finally {
    child.kill("SIGTERM");
  }
}

await main();
