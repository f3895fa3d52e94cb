// Cross-check: the JS tokenizer (@huggingface/tokenizers, used by the TS
// runtime) must give the same ids as the Python `tokenizers` library.
// Usage (from the repo root): node models/check_js_tokenizers.mjs IN.json OUT.json
// IN: {"texts": [...]}; OUT: {"tiny-lm": [[ids]...], "tiny-mlm": [[ids]...], "decoded": {...}}
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

const [inPath, outPath] = process.argv.slice(2);
const { texts } = JSON.parse(fs.readFileSync(inPath, 'utf8'));
const out = { decoded: {} };
for (const name of ['tiny-lm', 'tiny-mlm']) {
  const dir = path.join('models', name);
  const tok = new Tokenizer(
    JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')),
  );
  out[name] = texts.map((t) => tok.encode(t).ids);
  out.decoded[name] = out[name].map((ids) => tok.decode(ids, { skip_special_tokens: true }));
}
fs.writeFileSync(outPath, JSON.stringify(out));
