/**
 * Helpers shared by the mapping presets: issue collection with input paths, chat message
 * normalisation (roles, content parts), timestamps and trace ids in their logged forms.
 */
import type { LoggedChatMessage } from "../../../schemas/llm-log-record.js";
import type { ChatRole } from "../../../schemas/llm-log-record.js";

export interface MappingIssue {
  readonly path: string;
  readonly message: string;
}

/** Problems found while mapping one record, each with the input path it concerns. */
export class MappingIssues {
  readonly list: MappingIssue[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** A JSON string attribute (`"[{…}]"`) parsed; anything else returned as is. */
export function maybeJson(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const t = v.trim();
  if (!(t.startsWith("[") || t.startsWith("{"))) return v;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return v;
  }
}

const ROLE_ALIASES: Readonly<Record<string, ChatRole>> = {
  system: "system",
  developer: "system",
  user: "user",
  human: "user",
  assistant: "assistant",
  ai: "assistant",
  model: "assistant",
  bot: "assistant",
  tool: "tool",
  function: "tool",
  ipython: "tool",
};

export function normaliseRole(v: unknown, path: string, issues: MappingIssues): ChatRole | undefined {
  if (typeof v !== "string") {
    issues.add(path, v === undefined ? "the message has no role" : "expected the role as a string");
    return undefined;
  }
  const r = ROLE_ALIASES[v.toLowerCase()];
  if (r === undefined) issues.add(path, `unknown role "${v}"; expected system, user, assistant or tool (developer, function, human, ai are mapped)`);
  return r;
}

/** Text of a message content: a string, or content parts (`[{type:"text", text}]`); non-text parts are left out. */
export function contentText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) {
    const texts: string[] = [];
    for (const part of v) {
      if (typeof part === "string") texts.push(part);
      else if (isRecord(part)) {
        const t = part.text ?? part.content;
        if (typeof t === "string" && (part.type === undefined || part.type === "text" || part.type === "input_text" || part.type === "output_text")) texts.push(t);
        else if (isRecord(t) && typeof t.value === "string") texts.push(t.value);
      }
    }
    return texts.length > 0 ? texts.join("\n") : undefined;
  }
  return undefined;
}

/** Tool calls of an assistant message, rendered as the JSON the model produced. */
export function toolCallsText(v: unknown): string | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const calls = v.map((c: unknown) => {
    if (!isRecord(c)) return c;
    const fn = isRecord(c.function) ? c.function : c;
    return { name: fn.name, arguments: maybeJson(fn.arguments) };
  });
  return JSON.stringify(calls);
}

/** One OpenAI-style message (`{role, content, name, tool_calls}`) in canonical form. */
export function normaliseMessage(m: unknown, path: string, issues: MappingIssues): LoggedChatMessage | undefined {
  if (typeof m === "string") return { role: "user", content: m };
  if (!isRecord(m)) {
    issues.add(path, "expected a message object with role and content");
    return undefined;
  }
  const role = normaliseRole(m.role, `${path}.role`, issues);
  const parts = [contentText(m.content), toolCallsText(m.tool_calls), isRecord(m.function_call) ? JSON.stringify({ name: m.function_call.name, arguments: maybeJson(m.function_call.arguments) }) : undefined];
  const content = parts.filter((p): p is string => p !== undefined).join("\n");
  if (m.content !== undefined && m.content !== null && contentText(m.content) === undefined && content === "") {
    issues.add(`${path}.content`, "the message content has no text parts (images, audio and files are not attributed)");
  }
  if (role === undefined) return undefined;
  const name = str(m.name);
  return name === undefined ? { role, content } : { role, content, name };
}

/** A logged time in any common form (ISO string, Unix seconds/ms/µs/ns as number or string) as ISO-8601. */
export function toIsoTimestamp(v: unknown, path: string, issues: MappingIssues): string | null {
  if (v === undefined || v === null || v === "") return null;
  let ms: number | undefined;
  const n = num(v);
  if (n !== undefined) {
    const abs = Math.abs(n);
    ms = abs >= 1e17 ? n / 1e6 : abs >= 1e14 ? n / 1e3 : abs >= 1e11 ? n : n * 1000;
  } else if (typeof v === "string") {
    const s = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v.trim()) ? `${v.trim().replace(" ", "T")}Z` : v;
    const p = Date.parse(s);
    if (!Number.isNaN(p)) ms = p;
  }
  if (ms === undefined || !Number.isFinite(ms) || Number.isNaN(new Date(ms).getTime())) {
    issues.add(path, "expected a time: ISO-8601 text or Unix seconds/milliseconds/nanoseconds");
    return null;
  }
  return new Date(ms).toISOString();
}

/** A trace or span id as lowercase hex: accepts hex in any case, with an 0x prefix or dashes, or base64 of the bytes. */
export function normaliseHexId(v: unknown, bytes: 8 | 16): string | null | undefined {
  if (v === undefined || v === null || v === "") return null;
  if (typeof v !== "string") return undefined;
  let s = v.trim();
  if (s.startsWith("0x") || s.startsWith("0X")) s = s.slice(2);
  s = s.replace(/-/g, "");
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(s)) return s.toLowerCase();
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(s)) {
    const buf = Buffer.from(s, "base64");
    if (buf.length === bytes) return buf.toString("hex");
  }
  return v;
}

/** Primitive-valued copy of an object for `metadata` (nested values become JSON text). */
export function primitiveMap(v: unknown): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  if (!isRecord(v)) return out;
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    out[k] = x === null || typeof x === "string" || typeof x === "number" || typeof x === "boolean" ? x : JSON.stringify(x);
  }
  return out;
}

export function stringList(v: unknown): string[] | undefined {
  const parsed = maybeJson(v);
  if (Array.isArray(parsed)) return parsed.filter((t): t is string => typeof t === "string" && t.length > 0);
  if (typeof parsed === "string" && parsed.length > 0) return parsed.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
  return undefined;
}

const PARAM_KEYS = ["temperature", "top_p", "top_k", "max_tokens", "seed", "presence_penalty", "frequency_penalty", "n", "logprobs", "top_logprobs", "stream"] as const;

/** Request parameters from an OpenAI-style request object. */
export function pickParams(req: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of PARAM_KEYS) {
    const v = req[k];
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") out[k] = v;
  }
  if (out.max_tokens === undefined && typeof req.max_completion_tokens === "number") out.max_tokens = req.max_completion_tokens;
  const stop = req.stop ?? req.stop_sequences;
  if (typeof stop === "string") out.stop = [stop];
  else if (Array.isArray(stop)) out.stop = stop.filter((s): s is string => typeof s === "string");
  return out;
}

/** Drops undefined values so optional fields stay absent (and zod defaults apply). */
export function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
