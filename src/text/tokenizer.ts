/**
 * Hugging Face `tokenizer.json` loading, with character offsets.
 *
 * `@huggingface/tokenizers` (pure JS) encodes and decodes but reports no offsets, and offsets
 * are what let importance land on characters of the original prompt. We recover them by
 * incremental decoding over a short window of previous tokens (the same trick servers use for
 * streaming detokenisation: exact for byte-level BPE and Metaspace, linear time) and aligning
 * the decoded pieces to the input text.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import * as hfTokenizers from "@huggingface/tokenizers";
import { z } from "zod";
import { describeIssues } from "../config-issues.js";
import { TokenizerError, errorMessage } from "../errors.js";

export interface TokenOffset {
  /** Character (UTF-16 code unit) range in the encoded text; [s, s] for tokens with no text (BOS). */
  readonly start: number;
  readonly end: number;
}

export interface EncodedText {
  readonly ids: number[];
  readonly offsets: TokenOffset[];
  /** Per token: true for special/added-special tokens (BOS, EOS, template markers that are registered as special). */
  readonly special: boolean[];
}

export interface EncodeOptions {
  /** Apply the tokenizer's post-processor (e.g. prepend BOS). Default false: callers add what their model needs. */
  readonly addSpecialTokens?: boolean;
}

/** What every part of the project needs from a tokenizer. */
export interface TextTokenizer {
  /** Content hash of tokenizer.json: caches (POS tables) and provenance key on it. */
  readonly id: string;
  /** Number of ids, added tokens included (the POS table is sized by this, not the base vocab). */
  readonly size: number;
  readonly specialIds: ReadonlySet<number>;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly unkId: number | undefined;
  readonly maskId: number | undefined;
  encode(text: string, opts?: EncodeOptions): EncodedText;
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The text a single token contributes when decoded in isolation (whitespace kept). */
  tokenText(id: number): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

const tokenizerConfigSchema = z
  .object({
    bos_token: z.union([z.string(), z.object({ content: z.string() }).loose()]).nullish(),
    eos_token: z.union([z.string(), z.object({ content: z.string() }).loose()]).nullish(),
    pad_token: z.union([z.string(), z.object({ content: z.string() }).loose()]).nullish(),
    unk_token: z.union([z.string(), z.object({ content: z.string() }).loose()]).nullish(),
    mask_token: z.union([z.string(), z.object({ content: z.string() }).loose()]).nullish(),
    chat_template: z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]).nullish(),
    add_bos_token: z.boolean().nullish(),
  })
  .loose();

export type TokenizerConfig = z.infer<typeof tokenizerConfigSchema>;

const specialItemSchema = z.object({ SpecialToken: z.object({ id: z.string() }).loose() }).loose();
const templateItemSchema = z.record(z.string(), z.unknown());
const postProcessorSchema = z
  .object({
    type: z.string(),
    single: z.array(templateItemSchema).optional(),
    processors: z.array(z.object({ type: z.string(), single: z.array(templateItemSchema).optional() }).loose()).optional(),
  })
  .loose();

const tokenizerJsonSchema = z
  .object({
    model: z.object({ type: z.string().optional() }).loose(),
    post_processor: postProcessorSchema.nullish().catch(null),
    added_tokens: z
      .array(z.object({ id: z.number().int(), content: z.string(), special: z.boolean().optional() }).loose())
      .optional(),
  })
  .loose();

/** The special token a TemplateProcessing post-processor puts first in a single sequence, if any. */
function templateLeadingSpecial(pp: z.infer<typeof postProcessorSchema> | null | undefined): string | undefined {
  const template = pp?.type === "TemplateProcessing" ? pp.single : pp?.processors?.find((p) => p.type === "TemplateProcessing")?.single;
  const first = specialItemSchema.safeParse(template?.[0]);
  return first.success ? first.data.SpecialToken.id : undefined;
}

function tokenName(v: TokenizerConfig["bos_token"]): string | undefined {
  if (v == null) return undefined;
  return typeof v === "string" ? v : v.content;
}

/**
 * The slice of @huggingface/tokenizers we use. Its published .d.ts files use extension-less
 * relative imports that NodeNext resolution cannot follow, so we type the API ourselves.
 */
interface HfTokenizerApi {
  encode(text: string, opts: { add_special_tokens: boolean }): { ids: number[] };
  decode(ids: number[], opts: { skip_special_tokens: boolean; clean_up_tokenization_spaces: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens: boolean): Map<string, number>;
}
const HfTokenizer = (hfTokenizers as unknown as { Tokenizer: new (json: object, config: object) => HfTokenizerApi }).Tokenizer;

/** Incremental-decoding window: enough previous tokens to settle leading-space and byte-merge rules. */
const WINDOW = 6;

export class HfTextTokenizer implements TextTokenizer {
  readonly id: string;
  readonly size: number;
  readonly specialIds: ReadonlySet<number>;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly unkId: number | undefined;
  readonly maskId: number | undefined;
  readonly config: TokenizerConfig;
  /**
   * Whether the tokenizer's own encode puts BOS first (we encode without special tokens, so the
   * caller prepends it): tokenizer_config's add_bos_token, else a TemplateProcessing post-processor
   * that starts with the BOS token (Llama 3 style), else false.
   */
  readonly addsBos: boolean;
  private readonly tok: HfTokenizerApi;
  private readonly pieceCache = new Map<number, string>();

  constructor(tokenizerJson: unknown, config: TokenizerConfig, contentHash: string) {
    const parsed = tokenizerJsonSchema.safeParse(tokenizerJson);
    if (!parsed.success) {
      throw new TokenizerError({ what: "reading tokenizer.json", why: `it is not a Hugging Face tokenizer file: ${describeIssues(parsed.error.issues.slice(0, 3))}` });
    }
    try {
      this.tok = new HfTokenizer(tokenizerJson as object, config);
    } catch (err) {
      throw new TokenizerError({ what: "building tokenizer", why: errorMessage(err), cause: err });
    }
    this.id = contentHash;
    this.config = config;
    const vocab = this.tok.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.size = maxId + 1;
    const special = new Set<number>();
    for (const t of parsed.data.added_tokens ?? []) if (t.special) special.add(t.id);
    const lookup = (name: string | undefined): number | undefined => {
      if (name === undefined) return undefined;
      const id = this.tok.token_to_id(name);
      if (id !== undefined) special.add(id);
      return id;
    };
    this.bosId = lookup(tokenName(config.bos_token));
    this.eosId = lookup(tokenName(config.eos_token));
    this.padId = lookup(tokenName(config.pad_token));
    this.unkId = lookup(tokenName(config.unk_token));
    this.maskId = lookup(tokenName(config.mask_token));
    const leading = templateLeadingSpecial(parsed.data.post_processor);
    this.addsBos = config.add_bos_token ?? (leading !== undefined && leading === tokenName(config.bos_token));
    this.specialIds = special;
  }

  /** Load `tokenizer.json` (+ optional `tokenizer_config.json`) from a model directory. */
  static fromDir(dir: string): HfTextTokenizer {
    const jsonPath = join(dir, "tokenizer.json");
    if (!existsSync(jsonPath)) {
      throw new TokenizerError({ what: `loading tokenizer from ${dir}`, why: "tokenizer.json is missing; export it with the model (tokenizer.save_pretrained)" });
    }
    const raw = readFileSync(jsonPath, "utf8");
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      throw new TokenizerError({ what: `parsing ${jsonPath}`, why: "it is not valid JSON", cause: err });
    }
    const cfgPath = join(dir, "tokenizer_config.json");
    let cfg: TokenizerConfig = {};
    if (existsSync(cfgPath)) {
      const res = tokenizerConfigSchema.safeParse(JSON.parse(readFileSync(cfgPath, "utf8")));
      if (!res.success) throw new TokenizerError({ what: `reading ${cfgPath}`, why: describeIssues(res.error.issues) });
      cfg = res.data;
    }
    const hash = createHash("sha256").update(raw).digest("hex").slice(0, 16);
    return new HfTextTokenizer(json, cfg, hash);
  }

  encode(text: string, opts: EncodeOptions = {}): EncodedText {
    let ids: number[];
    try {
      ids = this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
    } catch (err) {
      throw new TokenizerError({ what: "encoding text", why: errorMessage(err), cause: err });
    }
    const special = ids.map((id) => this.specialIds.has(id));
    return { ids, offsets: this.alignOffsets(text, ids, special), special };
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return "";
    return this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false, clean_up_tokenization_spaces: false });
  }

  tokenText(id: number): string {
    let s = this.pieceCache.get(id);
    if (s === undefined) {
      s = this.decode([id]);
      this.pieceCache.set(id, s);
    }
    return s;
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** Decoded text of each token in context (window diff), aligned to `text`. */
  private alignOffsets(text: string, ids: readonly number[], special: readonly boolean[]): TokenOffset[] {
    const pieces = this.pieces(ids);
    const offsets: TokenOffset[] = [];
    let cursor = 0;
    for (let i = 0; i < ids.length; i++) {
      const piece = pieces[i] ?? "";
      if (piece.length === 0) {
        offsets.push({ start: cursor, end: cursor });
        continue;
      }
      if (special[i] && text.startsWith(piece, cursor) === false) {
        // Special tokens added by the post-processor (BOS) are not in the text.
        offsets.push({ start: cursor, end: cursor });
        continue;
      }
      const found = findPiece(text, piece, cursor);
      if (found === undefined) {
        offsets.push({ start: cursor, end: cursor });
        continue;
      }
      offsets.push({ start: found.start, end: found.end });
      cursor = found.end;
    }
    return offsets;
  }

  private pieces(ids: readonly number[]): string[] {
    const out: string[] = [];
    let settled = 0; // tokens before this index have had their text assigned
    for (let i = 0; i < ids.length; i++) {
      const w = Math.max(0, settled - WINDOW);
      const after = this.decode(ids.slice(w, i + 1));
      if (after.endsWith("\uFFFD") && i + 1 < ids.length) {
        // A multi-byte character split across tokens: its text goes to the token that completes it.
        out.push("");
        continue;
      }
      const before = this.decode(ids.slice(w, settled));
      out.push(after.startsWith(before) ? after.slice(before.length) : this.tokenText(ids[i] as number));
      settled = i + 1;
    }
    return out;
  }
}

/** Locate `piece` at or after `from`, tolerating whitespace and case normalisation by the tokenizer. */
function findPiece(text: string, piece: string, from: number): { start: number; end: number } | undefined {
  if (text.startsWith(piece, from)) return { start: from, end: from + piece.length };
  const trimmed = piece.trim();
  if (trimmed.length === 0) {
    // A whitespace-only piece that the text writes differently (e.g. "▁"): consume following whitespace.
    let e = from;
    while (e < text.length && /\s/.test(text[e] as string)) e++;
    return { start: from, end: e };
  }
  const limit = Math.min(text.length, from + piece.length + 64);
  const window = text.slice(from, limit);
  let at = window.indexOf(trimmed);
  if (at < 0) at = window.toLowerCase().indexOf(trimmed.toLowerCase());
  if (at < 0) return undefined;
  return { start: from + at, end: from + at + trimmed.length };
}
