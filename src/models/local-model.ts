/**
 * A local model directory as an AttributionModel: `model.onnx` + `config.json` +
 * `tokenizer.json` (+ `tokenizer_config.json`, optional chat template). The layout is what the
 * bundled models in models/ use and what Hugging Face Optimum exports (without past key values).
 */
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { AttributionModel } from "../attribution/engine.js";
import { describeIssues } from "../config-issues.js";
import { OnnxModelError } from "../errors.js";
import { PACKAGE_ROOT } from "../package-root.js";
import { jinjaChatTemplate, loadChatTemplate, simpleChatTemplate, type ChatTemplate } from "../text/chat-template.js";
import { HfTextTokenizer } from "../text/tokenizer.js";
import { OnnxScorer, onnxLmConfigSchema, type OnnxScorerOptions } from "./onnx/onnx-scorer.js";
import { readJsonFile } from "./onnx/session.js";

export interface LocalModel extends AttributionModel {
  readonly scorer: OnnxScorer;
  readonly tokenizer: HfTextTokenizer;
  readonly dir: string;
}

/** Chat template lookup order: chat_template.json (simple form), chat_template.jinja, tokenizer_config's chat_template, the default. */
export function findChatTemplate(dir: string, tok: HfTextTokenizer): ChatTemplate {
  const simple = join(dir, "chat_template.json");
  if (existsSync(simple)) return loadChatTemplate(simple);
  const jinja = join(dir, "chat_template.jinja");
  const extra = { bos_token: tok.bosId === undefined ? "" : (tok.idToToken(tok.bosId) ?? ""), eos_token: tok.eosId === undefined ? "" : (tok.idToToken(tok.eosId) ?? "") };
  if (existsSync(jinja)) return loadChatTemplate(jinja, extra);
  const fromConfig = tok.config.chat_template;
  if (typeof fromConfig === "string") return jinjaChatTemplate(`${basename(dir)}/tokenizer_config.json`, fromConfig, extra);
  return simpleChatTemplate();
}


/**
 * Models known by name. `tiny-lm` ships in the package; the others are built by a script
 * (models/<name>/build.sh) into `$REAGENT_MODELS_DIR` (default <package>/.cache/models).
 */
export const namedModels: Readonly<Record<string, { readonly dir: () => string; readonly build?: string }>> = {
  "tiny-lm": { dir: () => join(PACKAGE_ROOT, "models/tiny-lm") },
  smollm2: { dir: () => join(builtModelsDir(), "smollm2"), build: "bash models/smollm2/build.sh" },
  "smollm2-int8": { dir: () => join(builtModelsDir(), "smollm2-int8"), build: "bash models/smollm2/build.sh --int8" },
};

function builtModelsDir(): string {
  return resolve(process.env.REAGENT_MODELS_DIR ?? join(PACKAGE_ROOT, ".cache/models"));
}

/** A `--model` path or model name → the directory to load (an existing path always wins over a name). */
export function resolveModelDir(dirOrName: string): string {
  const named = namedModels[dirOrName];
  if (named === undefined || existsSync(join(resolve(dirOrName), "model.onnx"))) return resolve(dirOrName);
  return named.dir();
}

export async function loadLocalModel(dir: string, opts: OnnxScorerOptions = {}): Promise<LocalModel> {
  const abs = resolveModelDir(dir);
  const modelPath = join(abs, "model.onnx");
  if (!existsSync(modelPath)) {
    const build = namedModels[dir]?.build;
    throw new OnnxModelError({
      what: `loading model ${build ? `"${dir}" from ${abs}` : `directory ${dir}`}`,
      why: build
        ? `it is not built yet; run \`${build}\` (or set REAGENT_MODELS_DIR to where it was built)`
        : "it has no model.onnx; pass a directory with model.onnx, config.json and tokenizer.json (see docs/models.md), or an endpoint URL such as vllm+http://host:8000/model",
      modelPath: abs,
    });
  }
  const cfgRes = onnxLmConfigSchema.safeParse(readJsonFile(join(abs, "config.json")));
  if (!cfgRes.success) {
    throw new OnnxModelError({ what: `reading ${join(dir, "config.json")}`, why: describeIssues(cfgRes.error.issues), modelPath: abs });
  }
  const tokenizer = HfTextTokenizer.fromDir(abs);
  const scorer = await OnnxScorer.load(modelPath, cfgRes.data, { name: basename(abs), ...opts });
  return {
    dir: abs,
    scorer,
    tokenizer,
    chatTemplate: findChatTemplate(abs, tokenizer),
    // config.json's prepend_bos (this project's key) wins; else what the tokenizer itself does.
    addBos: cfgRes.data.prepend_bos ?? tokenizer.addsBos,
  };
}
