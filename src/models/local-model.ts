/**
 * A local model directory as an AttributionModel: `model.onnx` + `config.json` +
 * `tokenizer.json` (+ `tokenizer_config.json`, optional chat template). The layout is what the
 * bundled models in models/ use and what Hugging Face Optimum exports (without past key values).
 */
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { AttributionModel } from "../attribution/engine.js";
import { OnnxModelError } from "../errors.js";
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

export async function loadLocalModel(dir: string, opts: OnnxScorerOptions = {}): Promise<LocalModel> {
  const abs = resolve(dir);
  const modelPath = join(abs, "model.onnx");
  if (!existsSync(modelPath)) {
    throw new OnnxModelError({
      what: `loading model directory ${dir}`,
      why: "it has no model.onnx; pass a directory with model.onnx, config.json and tokenizer.json (see models/README.md), or an endpoint URL such as vllm+http://host:8000/model",
      modelPath: abs,
    });
  }
  const cfgRes = onnxLmConfigSchema.safeParse(readJsonFile(join(abs, "config.json")));
  if (!cfgRes.success) {
    throw new OnnxModelError({ what: `reading ${join(dir, "config.json")}`, why: cfgRes.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), modelPath: abs });
  }
  const tokenizer = HfTextTokenizer.fromDir(abs);
  const scorer = await OnnxScorer.load(modelPath, cfgRes.data, { name: basename(abs), ...opts });
  return {
    dir: abs,
    scorer,
    tokenizer,
    chatTemplate: findChatTemplate(abs, tokenizer),
    addBos: cfgRes.data.prepend_bos ?? false,
  };
}
