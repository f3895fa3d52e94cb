/**
 * onnxruntime-node sessions for the project's models: loading with clear errors, and one
 * padded batched forward pass that returns logits. Sessions are created once and reused.
 */
import { existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import * as ort from "onnxruntime-node";
import { OnnxModelError, ScoringError, errorMessage } from "../../errors.js";

export interface SessionOptions {
  /** Threads inside one operator; defaults to the machine's cores. */
  readonly intraOpThreads?: number;
}

export interface LoadedSession {
  readonly session: ort.InferenceSession;
  readonly path: string;
  /** First 12 hex digits of the file's sha256: model identity for provenance. */
  readonly hash: string;
  readonly inputNames: readonly string[];
}

export async function loadSession(path: string, opts: SessionOptions = {}): Promise<LoadedSession> {
  if (!existsSync(path)) {
    throw new OnnxModelError({ what: `loading ONNX model ${path}`, why: "the file does not exist", modelPath: path });
  }
  const bytes = readFileSync(path);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.intraOpThreads ?? Math.max(1, availableParallelism()),
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
    });
  } catch (err) {
    throw new OnnxModelError({ what: `loading ONNX model ${path}`, why: `onnxruntime could not create a session: ${errorMessage(err)}`, modelPath: path, cause: err });
  }
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
  return { session, path, hash, inputNames: session.inputNames };
}

export interface PaddedBatch {
  readonly rows: number;
  readonly width: number;
  readonly lengths: readonly number[];
}

/** Logits of one padded forward pass, and where each (row, position) sits in them. */
export interface LogitsPass {
  readonly logits: Float32Array;
  readonly batch: PaddedBatch;
  readonly vocab: number;
  /** Offset into `logits` of the distribution read at sequence index `t` of row `b`. */
  readonly at: (b: number, t: number) => number;
}

/** The optional input of graphs that apply the LM head only at the given positions ([batch, n] → logits [batch, n, vocab]). */
export const LOGIT_POSITIONS_INPUT = "logit_positions";

/**
 * Run a causal or masked LM over right-padded rows. Returns the logits as one Float32Array;
 * `positionIds` are 0..len-1 per row (models that need them get them).
 *
 * When the graph takes `logit_positions` and `logitPositions` names the indices each row needs,
 * only those rows of hidden states reach the LM head: a 49k vocabulary × 2,000 tokens × 8 rows
 * would otherwise be 3 GB of float32. Without `logitPositions` such a graph is asked for every
 * position, so callers that read all logits work with either export.
 */
export async function runLogits(
  loaded: LoadedSession,
  rows: readonly (readonly number[])[],
  padId: number,
  logitPositions?: readonly (readonly number[])[],
): Promise<LogitsPass> {
  const width = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const n = rows.length;
  const ids = new BigInt64Array(n * width);
  const mask = new BigInt64Array(n * width);
  const pos = new BigInt64Array(n * width);
  rows.forEach((r, b) => {
    for (let t = 0; t < width; t++) {
      const k = b * width + t;
      if (t < r.length) {
        ids[k] = BigInt(r[t] as number);
        mask[k] = 1n;
        pos[k] = BigInt(t);
      } else {
        ids[k] = BigInt(padId);
      }
    }
  });
  const gathers = loaded.inputNames.includes(LOGIT_POSITIONS_INPUT);
  const gathered = gathers ? gatherIndex(rows, width, logitPositions) : undefined;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of loaded.inputNames) {
    if (name === "input_ids") feeds[name] = new ort.Tensor("int64", ids, [n, width]);
    else if (name === "attention_mask") feeds[name] = new ort.Tensor("int64", mask, [n, width]);
    else if (name === "position_ids") feeds[name] = new ort.Tensor("int64", pos, [n, width]);
    else if (name === LOGIT_POSITIONS_INPUT && gathered) feeds[name] = new ort.Tensor("int64", gathered.tensor, [n, gathered.perRow]);
    else {
      throw new ScoringError({
        what: `running ${loaded.path}`,
        why: `the graph needs input "${name}", which reagent-stream does not provide; export the model without past key values (inputs: input_ids, attention_mask[, position_ids][, logit_positions])`,
      });
    }
  }
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await loaded.session.run(feeds);
  } catch (err) {
    throw new ScoringError({ what: `running ${loaded.path} on a batch of ${n}×${width}`, why: errorMessage(err), cause: err });
  }
  const logitsTensor = out.logits ?? Object.values(out)[0];
  if (!logitsTensor || logitsTensor.type !== "float32") {
    throw new ScoringError({ what: `running ${loaded.path}`, why: "the graph has no float32 `logits` output" });
  }
  const dims = logitsTensor.dims;
  const vocab = dims[2] as number;
  const logits = logitsTensor.data as Float32Array;
  const batch = { rows: n, width, lengths: rows.map((r) => r.length) };
  if (!gathered) return { logits, batch, vocab, at: (b, t) => (b * width + t) * vocab };
  const { slots, perRow } = gathered;
  return {
    logits,
    batch,
    vocab,
    at: (b, t) => {
      const j = slots[b]?.get(t);
      if (j === undefined) throw new ScoringError({ what: `reading logits of ${loaded.path}`, why: `position ${t} of row ${b} was not among the gathered logit positions` });
      return (b * perRow + j) * vocab;
    },
  };
}

/** The `logit_positions` tensor (rows padded by repeating index 0) and each row's index → slot map. */
function gatherIndex(
  rows: readonly (readonly number[])[],
  width: number,
  wanted: readonly (readonly number[])[] | undefined,
): { tensor: BigInt64Array; perRow: number; slots: Map<number, number>[] } {
  const lists = rows.map((r, b) => {
    const w = wanted?.[b] ?? Array.from({ length: r.length }, (_, t) => t);
    return [...new Set(w)].filter((t) => t >= 0 && t < Math.max(1, r.length) && t < width);
  });
  const perRow = Math.max(1, ...lists.map((l) => l.length));
  const tensor = new BigInt64Array(rows.length * perRow);
  const slots = lists.map((l, b) => {
    const m = new Map<number, number>();
    l.forEach((t, j) => {
      tensor[b * perRow + j] = BigInt(t);
      m.set(t, j);
    });
    return m;
  });
  return { tensor, perRow, slots };
}

/** log Σ exp over one row of logits. */
export function logSumExp(logits: Float32Array, offset: number, vocab: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) {
    const x = logits[offset + v] as number;
    if (x > max) max = x;
  }
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp((logits[offset + v] as number) - max);
  return max + Math.log(sum);
}

/** Indices of the k largest logits in one row (best first), skipping `exclude`. */
export function topKRow(logits: Float32Array, offset: number, vocab: number, k: number, exclude?: ReadonlySet<number>): number[] {
  const best: number[] = [];
  const vals: number[] = [];
  for (let v = 0; v < vocab; v++) {
    if (exclude?.has(v)) continue;
    const x = logits[offset + v] as number;
    if (best.length < k) {
      best.push(v);
      vals.push(x);
    } else if (x > (vals[k - 1] as number)) {
      best[k - 1] = v;
      vals[k - 1] = x;
    } else {
      continue;
    }
    // Bubble the new entry up; strict comparison keeps the lower id first on ties.
    for (let i = best.length - 1; i > 0 && (vals[i - 1] as number) < (vals[i] as number); i--) {
      [best[i - 1], best[i]] = [best[i] as number, best[i - 1] as number];
      [vals[i - 1], vals[i]] = [vals[i] as number, vals[i - 1] as number];
    }
  }
  return best;
}

/** Read a JSON file with a clear error naming it. */
export function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new OnnxModelError({ what: `reading ${path}`, why: errorMessage(err), modelPath: path, cause: err });
  }
}
