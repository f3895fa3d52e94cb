// Smoke test of the shipped files through the same npm packages the TS
// runtime uses (onnxruntime-node, @huggingface/tokenizers): greedy answers on
// held-out prompts, embeddings.onnx == model.onnx, and the MLM fills a mask.
// Usage (repo root): node models/check_onnx_node.mjs [N]
import fs from 'node:fs';
import ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';

const load = (dir) => new Tokenizer(
  JSON.parse(fs.readFileSync(`${dir}/tokenizer.json`, 'utf8')),
  JSON.parse(fs.readFileSync(`${dir}/tokenizer_config.json`, 'utf8')));
const i64 = (rows) => new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
const argmaxAt = (t, pos) => {
  const v = t.dims[2]; const d = t.data; let best = 0;
  for (let j = 1; j < v; j++) if (d[pos * v + j] > d[pos * v + best]) best = j;
  return best;
};

const n = Number(process.argv[2] ?? 6);
const cfg = JSON.parse(fs.readFileSync('models/tiny-lm/config.json', 'utf8'));
const tok = load('models/tiny-lm');
const lm = await ort.InferenceSession.create('models/tiny-lm/model.onnx');
const emb = await ort.InferenceSession.create('models/tiny-lm/embeddings.onnx');
const table = new Float32Array(fs.readFileSync('models/tiny-lm/embed_tokens.f32').buffer.slice(0));
const [, d] = cfg.embed_tokens.shape;
const items = fs.readFileSync('models/eval/heldout.jsonl', 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const pick = [...items.filter((x) => x.task === 'longra').slice(0, n / 2), ...items.filter((x) => x.task === 'rag').slice(0, n / 2)];
let ok = 0; let maxDiff = 0;
for (const it of pick) {
  const ids = [cfg.bos_token_id, ...tok.encode(it.prompt).ids];
  const out = [];
  for (let k = 0; k < 4 && (out.length === 0 || tok.decode(out).length < it.completion.length); k++) {
    const seq = [...ids, ...out];
    const feeds = { input_ids: i64([seq]), attention_mask: i64([seq.map(() => 1)]), position_ids: i64([seq.map((_, p) => p)]) };
    const { logits } = await lm.run(feeds);
    if (k === 0) {  // the embeddings entry point must give the same logits
      const x = new Float32Array(seq.length * d);
      seq.forEach((id, p) => x.set(table.subarray(id * d, (id + 1) * d), p * d));
      const r = await emb.run({ inputs_embeds: new ort.Tensor('float32', x, [1, seq.length, d]),
        attention_mask: feeds.attention_mask, position_ids: feeds.position_ids });
      for (let j = 0; j < logits.data.length; j++) maxDiff = Math.max(maxDiff, Math.abs(logits.data[j] - r.logits.data[j]));
    }
    out.push(argmaxAt(logits, seq.length - 1));
  }
  const got = tok.decode(out);
  ok += got === it.completion;
  console.log(`${it.id}: ${JSON.stringify(got)} (gold ${JSON.stringify(it.completion)})`);
}
console.log(`lm: ${ok}/${pick.length} exact; embeddings.onnx vs model.onnx max |diff| ${maxDiff.toExponential(1)}`);

const mtok = load('models/tiny-mlm');
const mlm = await ort.InferenceSession.create('models/tiny-mlm/model.onnx');
const text = 'I spent most of the summer working in <mask>.';
const mids = mtok.encode(text).ids;
const mpos = mids.indexOf(mtok.token_to_id('<mask>'));
const { logits } = await mlm.run({ input_ids: i64([mids]), attention_mask: i64([mids.map(() => 1)]) });
console.log(`mlm: ${JSON.stringify(text)} -> ${JSON.stringify(mtok.decode([argmaxAt(logits, mpos)]))}`);
process.exit(ok === pick.length && maxDiff < 1e-4 ? 0 : 1);
