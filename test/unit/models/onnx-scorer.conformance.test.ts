/**
 * The local ONNX scorer against the Scorer conformance suite (real onnxruntime session over
 * the bundled tiny model).
 */
import { loadLocalModel } from "../../../src/models/local-model.js";
import { HfTextTokenizer } from "../../../src/text/tokenizer.js";
import { runScorerConformance } from "../../conformance/scorer.js";

const MODEL_DIR = "models/tiny-lm";
const tok = HfTextTokenizer.fromDir(MODEL_DIR);
const bos = tok.bosId === undefined ? [] : [tok.bosId];
const inputs = [
  "The quick brown fox jumps over the lazy dog near the river bank.",
  "Question: what is the capital of France? Answer: Paris is the capital.",
  "She opened the window, and the morning air filled the quiet room.",
].map((t) => [...bos, ...tok.encode(t).ids]);

runScorerConformance({
  name: "onnx (models/tiny-lm)",
  newScorer: async () => (await loadLocalModel(MODEL_DIR, { intraOpThreads: 1 })).scorer,
  inputs,
});
