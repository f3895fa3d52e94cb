/**
 * The POS-tag sampler of the released ReAGent code (reference/reagent.md §2.8.1): a replacement
 * is a uniformly random vocabulary token with the same part-of-speech tag as the original.
 *
 * Deviation, recorded in every result's sampler description: the original tags tokens with
 * NLTK's averaged perceptron; JavaScript has no NLTK, so we tag each decoded token (stripped,
 * in isolation, exactly as the original does) with pos-js, a Brill tagger with a Penn Treebank
 * lexicon (the same tag set). Groups therefore differ somewhat from NLTK's.
 * Fixes the original's bugs: the table is sized by the full tokenizer (added tokens included,
 * inseq PR #306), and special tokens are in no group, so they are never replaced nor drawn.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import posjs from "pos";
import { z } from "zod";
import type { Rng } from "../rng.js";
import { SamplerError, errorMessage } from "../../errors.js";
import type { SampleRequest, TokenSampler } from "./sampler.js";

/** What the POS table needs from a tokenizer. */
export interface PosTableTokenizer {
  readonly id: string;
  readonly size: number;
  readonly specialIds: ReadonlySet<number>;
  tokenText(id: number): string;
}

const TABLE_VERSION = 1;
const tableSchema = z.object({
  version: z.literal(TABLE_VERSION),
  tokenizer: z.string(),
  size: z.number().int(),
  tags: z.array(z.string()),
  /** Per id: index into `tags`, or -1 for special tokens. */
  tagOf: z.array(z.number().int()),
});

export type PosTable = z.infer<typeof tableSchema>;

/** Tag for one token's text: whitespace-only and empty pieces form their own groups. */
function tagToken(tagger: InstanceType<typeof posjs.Tagger>, text: string): string {
  const w = text.trim();
  if (text.length === 0) return "EMPTY";
  if (w.length === 0) return "WS";
  const tagged = tagger.tag([w]);
  return tagged[0]?.[1] ?? "NN";
}

export function buildPosTable(tok: PosTableTokenizer): PosTable {
  const tagger = new posjs.Tagger();
  const tags: string[] = [];
  const index = new Map<string, number>();
  const tagOf: number[] = new Array<number>(tok.size).fill(-1);
  for (let id = 0; id < tok.size; id++) {
    if (tok.specialIds.has(id)) continue;
    const tag = tagToken(tagger, tok.tokenText(id));
    let t = index.get(tag);
    if (t === undefined) {
      t = tags.length;
      tags.push(tag);
      index.set(tag, t);
    }
    tagOf[id] = t;
  }
  return { version: TABLE_VERSION, tokenizer: tok.id, size: tok.size, tags, tagOf };
}

/** Load the table for this tokenizer from `cacheDir`, building and saving it on a miss. */
export function loadOrBuildPosTable(tok: PosTableTokenizer, cacheDir: string | undefined): PosTable {
  const file = cacheDir ? join(cacheDir, "pos", `${tok.id}-${tok.size}.json`) : undefined;
  if (file && existsSync(file)) {
    try {
      const parsed = tableSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
      if (parsed.success && parsed.data.tokenizer === tok.id && parsed.data.size === tok.size) return parsed.data;
    } catch {
      // A corrupt cache file is rebuilt below.
    }
  }
  const table = buildPosTable(tok);
  if (file && cacheDir) {
    try {
      mkdirSync(join(cacheDir, "pos"), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(table));
      renameSync(tmp, file);
    } catch (err) {
      // The cache only saves time; a read-only disk must not stop attribution.
      process.emitWarning(`reagent-stream: could not cache POS table at ${file}: ${errorMessage(err)}`);
    }
  }
  return table;
}

export class PosSampler implements TokenSampler {
  readonly id = "pos" as const;
  readonly description: string;
  private readonly tagOf: Int32Array;
  private readonly groups: Int32Array[];

  constructor(table: PosTable, vocabLimit = table.size) {
    this.tagOf = Int32Array.from(table.tagOf.slice(0, vocabLimit));
    const members: number[][] = table.tags.map(() => []);
    this.tagOf.forEach((t, id) => {
      if (t >= 0) members[t]?.push(id);
    });
    this.groups = members.map((m) => Int32Array.from(m));
    if (this.groups.every((g) => g.length === 0)) {
      throw new SamplerError({ what: "building POS sampler", why: "no token of the vocabulary got a tag" });
    }
    this.description = `pos (Penn tags via pos-js, not NLTK; ${this.tagOf.length} ids in ${this.groups.filter((g) => g.length > 0).length} groups)`;
  }

  sample(reqs: readonly SampleRequest[], rng: Rng): Promise<number[][]> {
    return Promise.resolve(
      reqs.map(({ ids, replace }) =>
        ids.map((id, i) => {
          if (!replace[i]) return id;
          const t = this.tagOf[id] ?? -1;
          if (t < 0) return id; // special or outside the table: never replaced
          const g = this.groups[t] as Int32Array;
          return g[rng.int(g.length)] as number;
        }),
      ),
    );
  }
}
