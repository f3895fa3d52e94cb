import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRng } from "../../../src/attribution/rng.js";
import { createSampler, listSamplers, type TokenSampler } from "../../../src/attribution/samplers/index.js";
import { buildPosTable, loadOrBuildPosTable } from "../../../src/attribution/samplers/pos.js";
import { OnnxMaskedLm } from "../../../src/models/onnx/onnx-masked-lm.js";
import { HfTextTokenizer } from "../../../src/text/tokenizer.js";
import { ConfigError, UnknownComponentError } from "../../../src/errors.js";

const tok = HfTextTokenizer.fromDir("models/tiny-lm");
const cacheDir = mkdtempSync(join(tmpdir(), "samplers-"));
let mlm: OnnxMaskedLm;
const samplers = new Map<string, TokenSampler>();

beforeAll(async () => {
  mlm = await OnnxMaskedLm.load("models/tiny-mlm", { intraOpThreads: 1 });
  for (const id of listSamplers()) samplers.set(id, createSampler(id, { tokenizer: tok, vocabSize: tok.size, cacheDir, maskedLm: mlm }));
});
afterAll(async () => {
  await mlm.close();
});

const text = "<|endoftext|>When my flight landed in Greece, I converted my currency. I was staying in the capital,";
const ids = tok.encode(text).ids;
const special = ids.map((id) => tok.specialIds.has(id));

/** The self sampler's table: a plausible top-k per position (any valid ids). */
const topKByPosition = ids.map((_, i) => (i === 0 ? [] : [ids[(i + 1) % ids.length]!, ids[(i + 2) % ids.length]!, 100, 200, 300]));

describe.each(listSamplers())("sampler %s keeps the sampler contract", (id) => {
  const ctx = { originalIds: ids, topKByPosition };

  it("changes only positions marked for replacement and keeps the length", async () => {
    const s = samplers.get(id)!;
    const rng = createRng(7);
    const replace = ids.map((_, i) => i % 3 === 1);
    const [out] = await s.sample([{ ids, replace }], rng, ctx);
    expect(out!.length).toBe(ids.length);
    out!.forEach((v, i) => {
      if (!replace[i]) expect(v).toBe(ids[i]);
    });
    expect(out!.filter((v, i) => replace[i] && v !== ids[i]).length).toBeGreaterThan(0);
  });

  it("never replaces a special token and never draws one", async () => {
    const s = samplers.get(id)!;
    const rng = createRng(11);
    const replace = ids.map(() => true);
    const outs = await s.sample(Array.from({ length: 20 }, () => ({ ids, replace })), rng, ctx);
    for (const out of outs) {
      out.forEach((v, i) => {
        if (special[i]) expect(v).toBe(ids[i]);
        else expect(tok.specialIds.has(v)).toBe(false);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThan(tok.size);
      });
    }
  });

  it("is reproducible from the seed", async () => {
    const s = samplers.get(id)!;
    const replace = ids.map((_, i) => i % 2 === 0);
    const a = await s.sample([{ ids, replace }], createRng(3), ctx);
    const b = await s.sample([{ ids, replace }], createRng(3), ctx);
    expect(a).toEqual(b);
  });

  it("describes itself for provenance", () => {
    expect(samplers.get(id)!.description).toMatch(new RegExp(`^${id}`));
  });
});

describe("pos sampler", () => {
  it("draws a replacement with the same tag as the original", async () => {
    const table = buildPosTable(tok);
    const s = samplers.get("pos")!;
    const replace = ids.map(() => true);
    const [out] = await s.sample([{ ids, replace }], createRng(5), { originalIds: ids });
    out!.forEach((v, i) => {
      if (!special[i]) expect(table.tags[table.tagOf[v]!]).toBe(table.tags[table.tagOf[ids[i]!]!]);
    });
  });

  it("sizes its table by the whole tokenizer and caches it on disk", () => {
    const a = loadOrBuildPosTable(tok, cacheDir);
    expect(a.size).toBe(tok.size);
    expect(a.tagOf.length).toBe(tok.size);
    for (const sid of tok.specialIds) expect(a.tagOf[sid]).toBe(-1);
    const b = loadOrBuildPosTable(tok, cacheDir);
    expect(b).toEqual(a);
  });
});

describe("mlm sampler", () => {
  it("maps predictions from the masked LM's vocabulary back into the target vocabulary", async () => {
    // The masked LM's tokenizer differs from the target's: ids must still be valid target ids.
    const mlmTok = HfTextTokenizer.fromDir("models/tiny-mlm");
    expect(mlmTok.id).not.toBe(tok.id);
    const s = samplers.get("mlm")!;
    const replace = ids.map((_, i) => i === 6);
    const [out] = await s.sample([{ ids, replace }], createRng(1), { originalIds: ids });
    expect(out![6]).toBeLessThan(tok.size);
    expect(tok.decode([out![6]!]).startsWith(" ")).toBe(tok.tokenText(ids[6]!).startsWith(" "));
  });
});

describe("sampler registry", () => {
  it("lists the registered ids in errors for an unknown sampler", () => {
    expect(() => createSampler("roberta", { tokenizer: tok, vocabSize: tok.size })).toThrow(UnknownComponentError);
    expect(() => createSampler("roberta", { tokenizer: tok, vocabSize: tok.size })).toThrow(/uniform, pos, mlm, self/);
  });

  it("explains what to configure when mlm has no masked LM", () => {
    expect(() => createSampler("mlm", { tokenizer: tok, vocabSize: tok.size })).toThrow(ConfigError);
  });
});
