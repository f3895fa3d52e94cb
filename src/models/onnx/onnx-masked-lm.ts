/**
 * A masked LM in ONNX (e.g. a RoBERTa export) behind the engine's MaskedLm interface, with its
 * own tokenizer: the `mlm` sampler's source of in-context replacements.
 */
import { join } from "node:path";
import { z } from "zod";
import type { MaskedLm } from "../../attribution/samplers/mlm.js";
import { describeIssues } from "../../config-issues.js";
import { OnnxModelError } from "../../errors.js";
import { HfTextTokenizer } from "../../text/tokenizer.js";
import { loadSession, readJsonFile, runLogits, topKRow, type LoadedSession, type SessionOptions } from "./session.js";

const mlmConfigSchema = z
  .object({
    vocab_size: z.number().int().positive(),
    max_position: z.number().int().positive().optional(),
    max_position_embeddings: z.number().int().positive().optional(),
    pad_token_id: z.number().int().nullish(),
  })
  .loose();

export class OnnxMaskedLm implements MaskedLm {
  readonly id: string;
  readonly maxLength: number;
  readonly clsId: number | undefined;
  readonly sepId: number | undefined;
  readonly maskId: number;
  readonly specialIds: ReadonlySet<number>;

  private constructor(
    private readonly loaded: LoadedSession,
    private readonly tokenizer: HfTextTokenizer,
    private readonly padId: number,
    maxLength: number,
    name: string,
  ) {
    const mask = tokenizer.maskId;
    if (mask === undefined) {
      throw new OnnxModelError({ what: `loading masked LM ${name}`, why: "its tokenizer_config.json names no mask_token", modelPath: loaded.path });
    }
    this.maskId = mask;
    this.clsId = tokenizer.bosId;
    this.sepId = tokenizer.eosId;
    this.specialIds = tokenizer.specialIds;
    // RoBERTa-style learned positions often reserve two slots; stay safely inside.
    this.maxLength = maxLength;
    this.id = `onnx-mlm:${name}@${loaded.hash}`;
  }

  static async load(dir: string, opts: SessionOptions = {}): Promise<OnnxMaskedLm> {
    const cfgRes = mlmConfigSchema.safeParse(readJsonFile(join(dir, "config.json")));
    if (!cfgRes.success) {
      throw new OnnxModelError({ what: `reading ${join(dir, "config.json")}`, why: describeIssues(cfgRes.error.issues), modelPath: dir });
    }
    const cfg = cfgRes.data;
    const tokenizer = HfTextTokenizer.fromDir(dir);
    const loaded = await loadSession(join(dir, "model.onnx"), opts);
    const maxLen = cfg.max_position ?? cfg.max_position_embeddings ?? 512;
    return new OnnxMaskedLm(loaded, tokenizer, cfg.pad_token_id ?? 0, maxLen, dir.replace(/\/+$/, "").split("/").pop() ?? dir);
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  async predict(batch: readonly (readonly number[])[], maskPositions: readonly (readonly number[])[], topK: number): Promise<number[][][]> {
    if (batch.length === 0) return [];
    const { logits, vocab, at } = await runLogits(this.loaded, batch, this.padId, maskPositions);
    return maskPositions.map((positions, b) =>
      positions.map((pos) => topKRow(logits, at(b, pos), vocab, topK, this.specialIds)),
    );
  }

  async close(): Promise<void> {
    await this.loaded.session.release();
  }
}
