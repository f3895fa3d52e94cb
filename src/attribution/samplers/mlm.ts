/**
 * The masked-LM sampler, as the ReAGent paper describes it ("replaced with RoBERTa
 * predictions") and as reference/reagent.md §2.8.5 designs it, which the released code never
 * did correctly (its sampler used RoBERTa ids as target ids and never masked):
 *
 * 1. decode each target token to its text; 2. build the masked LM's input with every selected
 * token's text replaced by one mask (its leading whitespace kept outside the mask); 3. run the
 * masked LM once per request (all requests in one batch); 4. take a prediction at each mask
 * (argmax when `topK` is 1, else a random one of the top-k that differs from the original);
 * 5. re-encode the predicted text with the target tokenizer and take its first id, keeping the
 * original when that gives nothing. Positions stay aligned, and the two tokenizers may differ.
 */
import type { Rng } from "../rng.js";
import type { SampleRequest, TokenSampler } from "./sampler.js";

/** What the sampler needs from the target model's tokenizer. */
export interface TargetTokenizerView {
  readonly specialIds: ReadonlySet<number>;
  tokenText(id: number): string;
  encode(text: string): { ids: number[] };
}

/** A masked LM (e.g. a RoBERTa export): its tokenizer and top-k predictions at mask positions. */
export interface MaskedLm {
  readonly id: string;
  readonly maxLength: number;
  readonly clsId: number | undefined;
  readonly sepId: number | undefined;
  readonly maskId: number;
  readonly specialIds: ReadonlySet<number>;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** For each sequence, the top-k ids (best first, specials excluded) at each of its mask positions. */
  predict(batch: readonly (readonly number[])[], maskPositions: readonly (readonly number[])[], topK: number): Promise<number[][][]>;
}

interface Piece {
  /** Target position replaced by this mask. */
  readonly position: number;
  readonly ws: string;
  readonly original: string;
}

interface Window {
  readonly request: number;
  readonly ids: number[];
  readonly masks: number[];
  readonly pieces: Piece[];
}

export class MlmSampler implements TokenSampler {
  readonly id = "mlm" as const;
  readonly description: string;
  private readonly firstIdCache = new Map<string, number | null>();

  constructor(
    private readonly mlm: MaskedLm,
    private readonly target: TargetTokenizerView,
    private readonly topK: number,
  ) {
    this.description = `mlm (${mlm.id}; ${topK === 1 ? "argmax" : `random among top-${topK} differing from the original`}; first target id of the predicted text)`;
  }

  async sample(reqs: readonly SampleRequest[], rng: Rng): Promise<number[][]> {
    const out = reqs.map((r) => [...r.ids]);
    const windows: Window[] = [];
    reqs.forEach((req, r) => windows.push(...this.buildWindows(req, r)));
    const withMasks = windows.filter((w) => w.masks.length > 0);
    if (withMasks.length === 0) return out;
    const preds = await this.mlm.predict(
      withMasks.map((w) => w.ids),
      withMasks.map((w) => w.masks),
      Math.max(this.topK + 1, 2),
    );
    withMasks.forEach((w, wi) => {
      const row = out[w.request] as number[];
      w.pieces.forEach((p, j) => {
        const options = (preds[wi]?.[j] ?? []).filter((id) => !this.mlm.specialIds.has(id));
        const texts = options.map((id) => this.mlm.decode([id]).trim()).filter((t) => t.length > 0 && t.replace(/^##/, "") !== p.original.trim());
        const pool = texts.slice(0, this.topK);
        if (pool.length === 0) return;
        const choice = this.topK === 1 ? (pool[0] as string) : (pool[rng.int(pool.length)] as string);
        const id = this.firstTargetId(p.ws + choice.replace(/^##/, ""));
        if (id !== null) row[p.position] = id;
      });
    });
    return out;
  }

  /** Split one request into masked-LM inputs that fit the masked LM's length limit. */
  private buildWindows(req: SampleRequest, request: number): Window[] {
    const budget = Math.max(8, this.mlm.maxLength - 2);
    const windows: Window[] = [];
    let cur: Window = { request, ids: [], masks: [], pieces: [] };
    let text = "";
    const flush = (): void => {
      if (text.length > 0) cur.ids.push(...this.mlm.encode(text));
      text = "";
    };
    const close = (): void => {
      flush();
      if (cur.ids.length > 0) windows.push(this.wrap(cur));
      cur = { request, ids: [], masks: [], pieces: [] };
    };
    for (let i = 0; i < req.ids.length; i++) {
      const id = req.ids[i] as number;
      const piece = this.target.specialIds.has(id) ? "" : this.target.tokenText(id);
      if (req.replace[i] && !this.target.specialIds.has(id)) {
        const ws = /^\s*/.exec(piece)?.[0] ?? "";
        text += ws;
        flush();
        cur.masks.push(cur.ids.length);
        cur.ids.push(this.mlm.maskId);
        cur.pieces.push({ position: i, ws, original: piece.slice(ws.length) });
      } else {
        text += piece;
      }
      // Estimate length cheaply: close the window when the pending ids plus ~1 id/3 chars would overflow.
      if (cur.ids.length + text.length / 3 >= budget) close();
    }
    close();
    return windows;
  }

  private wrap(w: Window): Window {
    const ids = w.ids.slice(0, this.mlm.maxLength - 2);
    const shift = this.mlm.clsId === undefined ? 0 : 1;
    const keep = w.masks.map((m, j) => ({ m, j })).filter(({ m }) => m < ids.length);
    return {
      request: w.request,
      ids: [...(this.mlm.clsId === undefined ? [] : [this.mlm.clsId]), ...ids, ...(this.mlm.sepId === undefined ? [] : [this.mlm.sepId])],
      masks: keep.map(({ m }) => m + shift),
      pieces: keep.map(({ j }) => w.pieces[j] as Piece),
    };
  }

  private firstTargetId(text: string): number | null {
    let id = this.firstIdCache.get(text);
    if (id === undefined) {
      const ids = this.target.encode(text).ids.filter((x) => !this.target.specialIds.has(x));
      id = ids[0] ?? null;
      this.firstIdCache.set(text, id);
    }
    return id;
  }
}
