/**
 * Token identity on the wire: checking that the ids (or token strings) a server echoes are the
 * ids that were sent, and mapping the token strings of legacy `top_logprobs` dicts back to ids.
 *
 * Servers name tokens in three ways: by id (`"token_id:1234"` with vLLM's
 * `return_tokens_as_token_ids`, SGLang tuples, TGI prefill entries, vLLM `prompt_logprobs`
 * keys), by the token decoded in isolation (vLLM, SGLang: a partial UTF-8 token decodes to
 * "\uFFFD"), or by OpenAI's `bytes:\xe2\x80` form for tokens that are not valid UTF-8 alone.
 * String forms can collide (many byte tokens decode to "\uFFFD"), so a string is resolved only
 * when it names exactly one id, or when it names the actual token with the actual token's value.
 */
import { ScorerMismatchError } from "../../errors.js";
import type { TextTokenizer } from "../../text/tokenizer.js";

const TOKEN_ID = /^token_id:(\d+)$/;

/** GPT-2 byte-level alphabet: unicode char -> byte. */
const byteLevelDecoder: ReadonlyMap<string, number> = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  return new Map(bs.map((b, i) => [String.fromCharCode(cs[i] as number), b]));
})();

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Python-repr-like escape of raw bytes, as OpenAI writes tokens that are not valid UTF-8. */
function bytesForms(bytes: Uint8Array): string[] {
  const mixed = Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("");
  const hex = Array.from(bytes, (b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
  return [`bytes:${mixed}`, `bytes:${hex}`];
}

export class TokenStrings {
  private index: Map<string, number[]> | undefined;
  private rawIndex: Map<string, number[]> | undefined;
  private readonly formCache = new Map<number, readonly string[]>();

  constructor(private readonly tok: TextTokenizer) {}

  /**
   * The strings servers use for this id in logprobs: its isolated decode, and for byte-level
   * tokens that are not valid UTF-8 alone, OpenAI's `bytes:` forms. (The raw vocabulary string,
   * e.g. "Ġthe", is accepted when checking echoed tokens but not used to resolve keys.)
   */
  forms(id: number): readonly string[] {
    let f = this.formCache.get(id);
    if (f) return f;
    const out = new Set<string>();
    out.add(this.tok.tokenText(id));
    const raw = this.tok.idToToken(id);
    if (raw !== undefined) {
      const bytes: number[] = [];
      let byteLevel = raw.length > 0;
      for (const ch of raw) {
        const b = byteLevelDecoder.get(ch);
        if (b === undefined) {
          byteLevel = false;
          break;
        }
        bytes.push(b);
      }
      if (byteLevel) {
        const arr = Uint8Array.from(bytes);
        try {
          out.add(utf8.decode(arr));
        } catch {
          for (const form of bytesForms(arr)) out.add(form);
        }
      }
    }
    f = [...out];
    this.formCache.set(id, f);
    return f;
  }

  /** The local tokenizer's ids for a text (generated text from servers that return no ids). */
  encode(text: string): number[] {
    return this.tok.encode(text).ids;
  }

  /** Ids a key can name: one for `token_id:N`, any number for a string (raw vocabulary strings as a fallback). */
  idsFor(key: string): readonly number[] {
    const m = TOKEN_ID.exec(key);
    if (m) return [Number(m[1])];
    if (!this.index || !this.rawIndex) {
      const index = new Map<string, number[]>();
      const rawIndex = new Map<string, number[]>();
      const add = (map: Map<string, number[]>, form: string, id: number): void => {
        const list = map.get(form);
        if (list) list.push(id);
        else map.set(form, [id]);
      };
      for (let id = 0; id < this.tok.size; id++) {
        for (const form of this.forms(id)) add(index, form, id);
        const raw = this.tok.idToToken(id);
        if (raw !== undefined) add(rawIndex, raw, id);
      }
      this.index = index;
      this.rawIndex = rawIndex;
    }
    return this.index.get(key) ?? this.rawIndex.get(key) ?? [];
  }

  /**
   * Whether an echoed token string is consistent with `id`. Strings that name no token alone
   * ("\uFFFD", the server's own spelling of a byte token) are accepted when the id's own
   * isolated decode is just as unreadable.
   */
  matches(key: string, id: number): boolean {
    const m = TOKEN_ID.exec(key);
    if (m) return Number(m[1]) === id;
    const forms = this.forms(id);
    if (forms.includes(key) || this.tok.idToToken(id) === key) return true;
    const trimmed = key.trim();
    if (trimmed.length > 0 && forms.some((f) => f.trim() === trimmed)) return true;
    const unreadable = (s: string): boolean => s.includes("\uFFFD") || s.startsWith("bytes:");
    return unreadable(key) && forms.some(unreadable);
  }

  /**
   * The ranked ids of a string-keyed top-logprobs dict, best first, at most `k`. Stops at the
   * first key that cannot be resolved to one id: the ranks after it would be unknown.
   */
  resolveTop(dict: Readonly<Record<string, number>>, k: number, actualId: number | undefined, actualLogprob: number | null): { ids: number[]; logprobs: number[] } {
    const entries = Object.entries(dict).sort((a, b) => b[1] - a[1]);
    const ids: number[] = [];
    const logprobs: number[] = [];
    for (const [key, value] of entries) {
      if (ids.length >= k) break;
      const cands = this.idsFor(key);
      let id: number | undefined;
      if (cands.length === 1) id = cands[0];
      else if (actualId !== undefined && actualLogprob !== null && cands.includes(actualId) && Math.abs(value - actualLogprob) < 1e-6) id = actualId;
      if (id === undefined) break;
      if (ids.includes(id)) continue;
      ids.push(id);
      logprobs.push(value);
    }
    return { ids, logprobs };
  }
}

/** Parse a `token_id:N` key or a plain integer key; undefined otherwise. */
export function idFromKey(key: string): number | undefined {
  const m = TOKEN_ID.exec(key);
  if (m) return Number(m[1]);
  return /^\d+$/.test(key) ? Number(key) : undefined;
}

export interface EchoCheck {
  /** What was being read, for the error ("reading choice 2 of POST /v1/completions"). */
  readonly what: string;
  readonly sent: readonly number[];
  readonly bosId?: number | undefined;
}

/**
 * Check that the ids a server echoes start with exactly the ids sent. Entries past the sent
 * ones (generated tokens) are not checked. Throws ScorerMismatchError naming the first
 * difference; a leading BOS the sequence did not have gets its own explanation.
 */
export function checkEchoedIds(check: EchoCheck, returned: readonly number[]): void {
  const { sent, bosId } = check;
  if (returned.length < sent.length) {
    throw new ScorerMismatchError({
      what: check.what,
      why: `the server returned ${returned.length} prompt entries for ${sent.length} tokens sent; it scored a different sequence (truncated by the server?)`,
      details: { sent: sent.length, returned: returned.length },
    });
  }
  for (let i = 0; i < sent.length; i++) {
    if (returned[i] === sent[i]) continue;
    if (i === 0 && bosId !== undefined && returned[0] === bosId && returned[1] === sent[0] && sent[0] !== bosId) {
      throw new ScorerMismatchError({
        what: check.what,
        why: `the server prepended BOS (id ${bosId}) to a sequence that does not start with it, so its scores are for another context; set add_bos: true for this model (the engine then sends the BOS itself)`,
        details: { index: 0, sent: sent[0], returned: returned[0] },
      });
    }
    throw new ScorerMismatchError({
      what: check.what,
      why: `the server scored token id ${returned[i]} at index ${i} where id ${sent[i]} was sent; its logprobs would be for another text (tokenizer or model mismatch?)`,
      details: { index: i, sent: sent[i], returned: returned[i] },
    });
  }
}

/** Same check for token strings (legacy `logprobs.tokens`), through TokenStrings. */
export function checkEchoedTokens(check: EchoCheck, tokens: readonly string[], strings: TokenStrings): void {
  const { sent } = check;
  if (tokens.length < sent.length) {
    throw new ScorerMismatchError({
      what: check.what,
      why: `the server echoed ${tokens.length} tokens for ${sent.length} sent; it scored a different sequence`,
      details: { sent: sent.length, returned: tokens.length },
    });
  }
  for (let i = 0; i < sent.length; i++) {
    const t = tokens[i] as string;
    if (strings.matches(t, sent[i] as number)) continue;
    throw new ScorerMismatchError({
      what: check.what,
      why: `the server echoed token ${JSON.stringify(t)} at index ${i} where id ${sent[i]} (${JSON.stringify(strings.forms(sent[i] as number)[0])}) was sent; its logprobs would be for another text`,
      details: { index: i, sent: sent[i], returned: t },
    });
  }
}
