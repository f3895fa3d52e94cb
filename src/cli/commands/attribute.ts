/**
 * `reagent-stream attribute`: attribute one completion to its prompt, printing a heatmap and the
 * top spans (or the full result as JSON).
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { parseConfig } from "../../config-issues.js";
import { flagTable, inFlagTerms, settingsFromFlags, tableOptions } from "../schema-flags.js";
import { ENGINE_DEPRECATED_FIELDS, defaultStopping, engineSettingsObject, engineSettingsSchema } from "../../attribution/config.js";
import { methodSchema } from "../../attribution/settings/method.js";
import { unitsSchema } from "../../attribution/settings/units.js";
import { ConfigError } from "../../errors.js";
import { readAttributeInput } from "../../app/attribute-input.js";
import { presetIds, type PresetId } from "../../pipeline/mapping/mapper.js";
import type { SegmentRule } from "../../text/segments.js";
import { loadAttributionModel, parseModelSpec, scorerConfigFromSpec, scorerConfigSchema, serverKinds } from "../../models/endpoint.js";
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

/** `--segment docs=<doc>..</doc>`: a named segment between two literal markers. */
function segmentArg(v: string, prev: SegmentRule[] = []): SegmentRule[] {
  const m = /^([^=]+)=(.+)\.\.(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected name=START..END, e.g. context="<doc>..</doc>"');
  return [...prev, { name: m[1] as string, start: m[2] as string, end: m[3] as string, include_markers: false }];
}

interface AttributeFlags {
  model: string;
  prompt?: string;
  promptFile?: string;
  messages?: string;
  record?: string;
  mapping: PresetId;
  completion?: string;
  generate?: number;
  mlmModel?: string;
  segment?: SegmentRule[];
  json?: boolean;
  out?: string;
  html?: string;
  /** Engine and scorer settings, by the flags generated from their schemas. */
  readonly [setting: string]: unknown;
}

/** The flags this command defines by hand; generated ones that would clash get a section prefix. */
const OWN_FLAGS = ["--model", "--prompt", "--prompt-file", "--messages", "--record", "--mapping", "--completion", "--generate", "--mlm-model", "--segment", "--json", "--out", "--html"];

/** Engine settings as flags, generated from the engine schema (the flat 0.1 names stay config-only aliases). */
const ENGINE_FLAGS = flagTable(engineSettingsObject, { exclude: Object.keys(ENGINE_DEPRECATED_FIELDS), reserved: OWN_FLAGS });
/** Scorer settings as flags; `--model` gives the type, path, url and served model name. */
const SCORER_FLAGS = flagTable(scorerConfigSchema, {
  exclude: ["path", "url", "model", "api_key"],
  rename: { intra_op_threads: "--threads" },
  reserved: [...OWN_FLAGS, ...ENGINE_FLAGS.flags.map((f) => f.flag), ...ENGINE_FLAGS.sections.flatMap((x) => (x.flag ? [x.flag] : []))],
});
const scorerScope = (types: readonly string[]): string | undefined => (types.length === serverKinds.length && !types.includes("local") ? "endpoints" : undefined);

export function registerAttribute(program: Command): void {
  const cmd = program
    .command("attribute")
    .description("Attribute one completion to its prompt tokens and show which spans drove it")
    .option("--model <dir|name|kind+url>", "local ONNX model directory, a model name (tiny-lm; smollm2 once built: docs/models.md), or an endpoint such as vllm+http://host:8000/model (see docs/endpoints.md)", BUNDLED_LM_DIR)
    .option("--prompt <text>", "the prompt text")
    .option("--prompt-file <path>", "read the prompt text from a file")
    .option("--messages <file>", "an OpenAI chat transcript: a JSON array of messages (string or content-part content, tool messages) or a chat.completions request object; rendered with the model's chat template")
    .option("--record <file.jsonl[:N]>", "re-attribute logged record N (1-based, default 1) of a JSONL log, mapped as the pipeline maps it (its completion unless --completion/--generate)")
    .addOption(new Option("--mapping <preset>", "mapping preset for --record").choices(presetIds).default("auto"))
    .option("--completion <text>", "the completion the model produced")
    .option("--generate <n>", "generate n tokens greedily with the model instead of --completion", intArg("--generate", 1))
    .option("--mlm-model <dir>", "masked LM directory for --sampler mlm (default: bundled models/tiny-mlm)")
    .option("--segment <name=START..END>", "name a segment between two markers (repeatable)", segmentArg)
    .option("--json", "print the full result as JSON")
    .option("--out <file>", "also write the JSON result to a file")
    .option("--html <file>", "also write a self-contained HTML report (heatmap, token matrix, top spans, shares)")
    .action(async (flags: AttributeFlags) => {
      await runAttribute(flags);
    });
  for (const o of [...tableOptions(ENGINE_FLAGS), ...tableOptions(SCORER_FLAGS, scorerScope)]) cmd.addOption(o);
}

/** The engine settings the flags give, checked against the engine schema in flag terms. */
export function engineSettingsFromFlags(flags: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const settings = settingsFromFlags(ENGINE_FLAGS, flags, {
    // Without --stopping, the sub-flags refine the rule the method runs by default.
    sectionDefault: {
      stopping: (s) =>
        defaultStopping(parseConfig(methodSchema.prefault("reagent"), s.method, { what: "reading --method" }), parseConfig(unitsSchema.prefault("token"), s.units, { what: "reading --units" })).type,
    },
  });
  try {
    parseConfig(engineSettingsSchema, settings, { what: "reading the engine flags" });
  } catch (err) {
    if (err instanceof ConfigError) throw inFlagTerms(err, ENGINE_FLAGS, "reading the engine flags");
    throw err;
  }
  return settings;
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
  const engineCfg = engineSettingsFromFlags(flags);
  const spec = parseModelSpec(flags.model);
  let scorerExtras: Record<string, unknown>;
  try {
    scorerExtras = settingsFromFlags(SCORER_FLAGS, flags, { rootType: spec.type });
  } catch (err) {
    if (err instanceof ConfigError && spec.type === "local") throw new ConfigError({ what: err.what, why: `${err.why.replace(/, not local$/, "")}; --model is a local directory`, path: err.path });
    throw err;
  }
  let scorer: ReturnType<typeof scorerConfigFromSpec>;
  try {
    scorer = scorerConfigFromSpec(flags.model, scorerExtras);
  } catch (err) {
    if (err instanceof ConfigError) throw inFlagTerms(err, SCORER_FLAGS, "reading the scorer flags");
    throw err;
  }
  const model = await loadAttributionModel(scorer, { log: (text) => process.stderr.write(`${text}\n`) });
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
