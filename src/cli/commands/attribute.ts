/**
 * `reagent-stream attribute`: attribute one completion to its prompt, printing a heatmap and the
 * top spans (or the full result as JSON).
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { methodIds, modeIds, samplerIds, type EngineConfigInput } from "../../attribution/config.js";
import { ConfigError } from "../../errors.js";
import { readAttributeInput } from "../../app/attribute-input.js";
import { presetIds, type PresetId } from "../../pipeline/mapping/mapper.js";
import type { SegmentRule } from "../../text/segments.js";
import { loadAttributionModel, scorerConfigFromSpec } from "../../models/endpoint.js";
import { BUNDLED_LM_DIR, buildEngine } from "../../app/engine.js";
import { renderReport } from "../../report/html.js";
import { progressLine, renderResult, shouldColor } from "../render.js";
import { prepareOutputFile, writeOutputFile } from "./report.js";

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function floatArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
    return n;
  };
}

/** `--segment docs=<doc>..</doc>`: a named segment between two literal markers. */
function segmentArg(v: string, prev: SegmentRule[] = []): SegmentRule[] {
  const m = /^([^=]+)=(.+)\.\.(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected name=START..END, e.g. context="<doc>..</doc>"');
  return [...prev, { name: m[1] as string, start: m[2] as string, end: m[3] as string, include_markers: false }];
}

interface AttributeFlags {
  model: string;
  tokenizer?: string;
  prompt?: string;
  promptFile?: string;
  messages?: string;
  record?: string;
  mapping: PresetId;
  completion?: string;
  generate?: number;
  method: (typeof methodIds)[number];
  mode: (typeof modeIds)[number];
  sampler: (typeof samplerIds)[number];
  seed: number;
  numProbes?: number;
  maxSteps?: number;
  keepTopN?: number;
  stoppingTopK?: number;
  replacingRatio?: number;
  maxTargets?: number;
  checkEvery?: number;
  stopping?: "probe" | "ensemble";
  minSteps?: number;
  patience?: number;
  aggregation?: "probes" | "pooled";
  mlmModel?: string;
  segment?: SegmentRule[];
  json?: boolean;
  out?: string;
  html?: string;
  threads?: number;
}

export function registerAttribute(program: Command): void {
  program
    .command("attribute")
    .description("Attribute one completion to its prompt tokens and show which spans drove it")
    .option("--model <dir|name|kind+url>", "local ONNX model directory, a model name (tiny-lm; smollm2 once built: docs/models.md), or an endpoint such as vllm+http://host:8000/model (see docs/endpoints.md)", BUNDLED_LM_DIR)
    .option("--tokenizer <dir>", "directory with the endpoint model's tokenizer.json (required for endpoints)")
    .option("--prompt <text>", "the prompt text")
    .option("--prompt-file <path>", "read the prompt text from a file")
    .option("--messages <file>", "an OpenAI chat transcript: a JSON array of messages (string or content-part content, tool messages) or a chat.completions request object; rendered with the model's chat template")
    .option("--record <file.jsonl[:N]>", "re-attribute logged record N (1-based, default 1) of a JSONL log, mapped as the pipeline maps it (its completion unless --completion/--generate)")
    .addOption(new Option("--mapping <preset>", "mapping preset for --record").choices(presetIds).default("auto"))
    .option("--completion <text>", "the completion the model produced")
    .option("--generate <n>", "generate n tokens greedily with the model instead of --completion", intArg("--generate", 1))
    .addOption(new Option("--method <method>", "attribution method").choices(methodIds).default("reagent"))
    .addOption(new Option("--mode <mode>", "ReAGent mode").choices(modeIds).default("joint"))
    .addOption(new Option("--sampler <sampler>", "replacement token sampler").choices(samplerIds).default("pos"))
    .option("--seed <n>", "random seed", intArg("--seed", 0), 42)
    .option("--num-probes <n>", "B: probes per target (default 16)", intArg("--num-probes", 1))
    .option("--max-steps <n>", "T_max: step cap per probe (default 3000)", intArg("--max-steps", 1))
    .option("--keep-top-n <n>", "n: tokens kept in the stopping check (default 5)", intArg("--keep-top-n", 1))
    .option("--stopping-top-k <n>", "k: stop when the target is in the top-k (default 3)", intArg("--stopping-top-k", 1))
    .option("--replacing-ratio <r>", "r: replacement probability per update (default 0.3)", floatArg("--replacing-ratio"))
    .option("--max-targets <n>", "attribute at most this many completion tokens (default 64)", intArg("--max-targets", 1))
    .option("--check-every <n>", "joint mode: stopping-check interval (default 1)", intArg("--check-every", 1))
    .addOption(
      new Option("--stopping <how>", "joint mode: check each target's probe ensemble (default) or each probe on its own (as published)").choices(["probe", "ensemble"]),
    )
    .option("--min-steps <n>", "joint mode: no stopping check before n updates (default 50 with ensemble stopping, else 0)", intArg("--min-steps", 0))
    .option("--patience <n>", "joint mode: give a target up after n steps without a converged probe (default twice --min-steps; 0: only --max-steps)", intArg("--patience", 0))
    .addOption(
      new Option("--aggregation <how>", "joint mode: average the converged probes' softmax (default, as published) or pool their scores (softmax of the mean)").choices([
        "probes",
        "pooled",
      ]),
    )
    .option("--mlm-model <dir>", "masked LM directory for --sampler mlm (default: bundled models/tiny-mlm)")
    .option("--segment <name=START..END>", "name a segment between two markers (repeatable)", segmentArg)
    .option("--threads <n>", "onnxruntime intra-op threads", intArg("--threads", 1))
    .option("--json", "print the full result as JSON")
    .option("--out <file>", "also write the JSON result to a file")
    .option("--html <file>", "also write a self-contained HTML report (heatmap, token matrix, top spans, shares)")
    .action(async (flags: AttributeFlags) => {
      await runAttribute(flags);
    });
}

async function runAttribute(flags: AttributeFlags): Promise<void> {
  const input = readAttributeInput(flags);
  if (flags.out !== undefined) prepareOutputFile(flags.out, "--out");
  if (flags.html !== undefined) prepareOutputFile(flags.html, "--html");
  const prompt = input.prompt;
  if (flags.completion !== undefined && flags.generate !== undefined) {
    throw new ConfigError({ what: "reading the completion", why: "give either --completion or --generate, not both", path: "--completion" });
  }
  if (flags.completion === undefined && flags.generate === undefined && input.completion === undefined) {
    throw new ConfigError({ what: "reading the completion", why: "give --completion TEXT (the logged answer) or --generate N (let the model answer)", path: "--completion" });
  }
  if (flags.completion !== undefined && flags.completion === "") {
    throw new ConfigError({ what: "reading the completion", why: "--completion is empty; there is nothing to attribute", path: "--completion" });
  }
  const engineCfg: EngineConfigInput = {
    method: flags.method,
    mode: flags.mode,
    sampler: flags.sampler,
    seed: flags.seed,
    ...(flags.numProbes === undefined ? {} : { num_probes: flags.numProbes }),
    ...(flags.maxSteps === undefined ? {} : { max_steps: flags.maxSteps }),
    ...(flags.keepTopN === undefined ? {} : { keep_top_n: flags.keepTopN }),
    ...(flags.stoppingTopK === undefined ? {} : { stopping_top_k: flags.stoppingTopK }),
    ...(flags.replacingRatio === undefined ? {} : { replacing_ratio: flags.replacingRatio }),
    ...(flags.maxTargets === undefined ? {} : { max_targets: flags.maxTargets }),
    ...(flags.checkEvery === undefined ? {} : { check_every: flags.checkEvery }),
    ...(flags.stopping === undefined ? {} : { stopping: flags.stopping }),
    ...(flags.minSteps === undefined ? {} : { min_steps: flags.minSteps }),
    ...(flags.patience === undefined ? {} : { patience: flags.patience }),
    ...(flags.aggregation === undefined ? {} : { aggregation: flags.aggregation }),
  };
  const model = await loadAttributionModel(
    scorerConfigFromSpec(flags.model, {
      ...(flags.tokenizer === undefined ? {} : { tokenizer: flags.tokenizer }),
      ...(flags.threads === undefined ? {} : { intra_op_threads: flags.threads }),
    }),
    { log: (text) => process.stderr.write(`${text}\n`) },
  );
  const built = await buildEngine({
    model,
    engine: engineCfg,
    ...(flags.mlmModel ? { mlmModel: flags.mlmModel } : {}),
    ...(flags.segment ? { segments: flags.segment } : {}),
  });
  const progress = progressLine(process.stderr);
  try {
    let completion = flags.completion ?? input.completion ?? "";
    let completionIds: number[] | undefined;
    if (flags.generate !== undefined) {
      const scorer = built.model.scorer;
      if (!scorer.generate) throw new ConfigError({ what: "generating a completion", why: "this model cannot generate; pass --completion", path: "--generate" });
      progress.update("generating…");
      const prepared = built.engine.prepare({ prompt, completion: " " });
      const promptIds = prepared.input.ids.slice(0, prepared.input.promptLength);
      const stop = new Set([built.model.tokenizer.eosId, built.model.tokenizer.padId].filter((x): x is number => x !== undefined));
      completionIds = await scorer.generate(promptIds, flags.generate, stop);
      if (completionIds.length === 0) throw new ConfigError({ what: "generating a completion", why: "the model produced end-of-text at once; pass --completion instead", path: "--generate" });
      completion = built.model.tokenizer.decode(completionIds);
    }
    const result = await built.engine.attribute(
      { prompt, completion, ...(completionIds ? { completionIds } : {}), ...(input.context ? { context: input.context } : {}) },
      {
        onProgress: (e) =>
          progress.update(`attributing: ${e.targetsDone}/${e.targetsTotal} target tokens done · step ${e.step} · ${e.liveProbes} probes running`),
      },
    );
    progress.done();
    const json = JSON.stringify(result, null, 2);
    if (flags.out) writeOutputFile(flags.out, `${json}\n`, "--out");
    if (flags.html) process.stderr.write(`HTML report: ${writeOutputFile(flags.html, renderReport([result], { generatedBy: "reagent-stream attribute" }), "--html")}\n`);
    process.stdout.write(flags.json ? `${json}\n` : `${renderResult(result, { color: shouldColor(process.stdout) })}\n`);
  } finally {
    progress.done();
    await built.close();
    await model.close();
  }
}
