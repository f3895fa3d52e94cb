/**
 * Model directory loading rules: BOS from config.json / tokenizer_config / the tokenizer's
 * post-processor, and model names (`--model smollm2`) resolved to their build directories.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OnnxModelError } from "../../../src/errors.js";
import { loadLocalModel, resolveModelDir } from "../../../src/models/local-model.js";
import { HfTextTokenizer } from "../../../src/text/tokenizer.js";

const json = JSON.parse(readFileSync("models/tiny-lm/tokenizer.json", "utf8")) as Record<string, unknown>;
const bos = "<|endoftext|>";
const template = (first: string) => ({
  type: "TemplateProcessing",
  single: [{ SpecialToken: { id: first, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
  pair: [],
  special_tokens: {},
});

describe("HfTextTokenizer.addsBos", () => {
  it("follows tokenizer_config's add_bos_token when it is set", () => {
    expect(new HfTextTokenizer(json, { bos_token: bos, add_bos_token: true }, "h").addsBos).toBe(true);
    expect(new HfTextTokenizer({ ...json, post_processor: template(bos) }, { bos_token: bos, add_bos_token: false }, "h").addsBos).toBe(false);
  });
  it("else reads a TemplateProcessing post-processor that starts with the BOS token (Llama 3 style), also inside a Sequence", () => {
    expect(new HfTextTokenizer({ ...json, post_processor: template(bos) }, { bos_token: bos }, "h").addsBos).toBe(true);
    expect(new HfTextTokenizer({ ...json, post_processor: { type: "Sequence", processors: [{ type: "ByteLevel" }, template(bos)] } }, { bos_token: bos }, "h").addsBos).toBe(true);
    expect(new HfTextTokenizer({ ...json, post_processor: template("<|pad|>") }, { bos_token: bos }, "h").addsBos).toBe(false);
  });
  it("is false with neither", () => {
    expect(new HfTextTokenizer(json, { bos_token: bos }, "h").addsBos).toBe(false);
  });
});

describe("model names", () => {
  const saved = process.env.REAGENT_MODELS_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.REAGENT_MODELS_DIR;
    else process.env.REAGENT_MODELS_DIR = saved;
  });

  it("resolves tiny-lm to the bundled model and smollm2 under REAGENT_MODELS_DIR; paths stay paths", () => {
    expect(resolveModelDir("tiny-lm")).toBe(resolve("models/tiny-lm"));
    process.env.REAGENT_MODELS_DIR = "/opt/reagent-models";
    expect(resolveModelDir("smollm2")).toBe("/opt/reagent-models/smollm2");
    expect(resolveModelDir("smollm2-int8")).toBe("/opt/reagent-models/smollm2-int8");
    expect(resolveModelDir("models/tiny-lm")).toBe(resolve("models/tiny-lm"));
  });

  it("a named model that is not built fails with the command that builds it", async () => {
    process.env.REAGENT_MODELS_DIR = mkdtempSync(join(tmpdir(), "reagent-models-"));
    const err = await loadLocalModel("smollm2").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxModelError);
    expect((err as Error).message).toMatch(/bash models\/smollm2\/build\.sh/);
  });

  it("the bundled toy keeps its BOS (config.json prepend_bos)", async () => {
    const m = await loadLocalModel("tiny-lm", { intraOpThreads: 1 });
    expect(m.addBos).toBe(true);
    await m.scorer.close();
  });
});
