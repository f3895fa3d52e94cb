/**
 * `openinference`: an OpenInference LLM span (Arize Phoenix): flattened indexed lists
 * `llm.input_messages.N.message.role|content` (or `message.contents.M.message_content.text`),
 * `llm.output_messages.N.message.*`, tool calls under `message.tool_calls.K.tool_call.function.*`;
 * legacy completions `llm.prompts.N[.prompt.text]` / `llm.choices.N.completion.text`; and
 * `input.value` / `output.value` when no messages were captured. `llm.model_name`,
 * `llm.provider` (else `llm.system`), `llm.invocation_parameters`, `session.id`, `user.id`,
 * `metadata` (JSON text) and `tag.tags` fill the rest.
 */
import type { LoggedChatMessage } from "../../../../schemas/llm-log-record.js";
import type { MappingIssues} from "../common.js";
import { contentText, isRecord, maybeJson, normaliseRole, pickParams, primitiveMap, str, stringList } from "../common.js";
import { indexedEntries } from "../paths.js";
import { readSpan, spanAttributes, spanRecordId } from "./span.js";
import type { MappingPreset, RecordDraft } from "./types.js";

/** One flattened message (keys relative to `…messages.N.`) as canonical. */
function flatMessage(e: Record<string, unknown>, path: string, issues: MappingIssues, defaultRole?: string): LoggedChatMessage | undefined {
  const role = normaliseRole(e["message.role"] ?? defaultRole, `${path}.message.role`, issues);
  let content = contentText(e["message.content"]);
  if (content === undefined) {
    const parts = indexedEntries(e, "message.contents");
    const texts = [...parts.values()].map((p) => p["message_content.text"]).filter((t): t is string => typeof t === "string");
    if (texts.length > 0) content = texts.join("\n");
  }
  const calls = [...indexedEntries(e, "message.tool_calls").values()].map((c) => ({ name: c["tool_call.function.name"], arguments: maybeJson(c["tool_call.function.arguments"]) }));
  const callText = calls.length > 0 ? JSON.stringify(calls) : undefined;
  const text = [content, callText].filter((t): t is string => t !== undefined && t !== "").join("\n");
  if (content === undefined && callText === undefined) issues.add(`${path}.message.content`, "missing: the message has no content");
  if (role === undefined) return undefined;
  const name = str(e["message.name"]);
  return { role, content: text, ...(name ? { name } : {}) };
}

/** Messages as a flattened list, or as one JSON/structured attribute (`llm.input_messages: [{message:{…}}]`). */
function messagesAt(attrs: Record<string, unknown>, key: string, base: string, issues: MappingIssues, defaultRole?: string): LoggedChatMessage[] | undefined {
  const whole = maybeJson(attrs[key]);
  if (Array.isArray(whole)) {
    const out: LoggedChatMessage[] = [];
    whole.forEach((m: unknown, i) => {
      const inner = isRecord(m) && isRecord(m.message) ? m.message : m;
      if (!isRecord(inner)) return;
      const flat: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(inner)) flat[`message.${k}`] = v;
      const msg = flatMessage(flat, `${base}.${key}.${i}`, issues, defaultRole);
      if (msg) out.push(msg);
    });
    return out;
  }
  const indexed = indexedEntries(attrs, key);
  if (indexed.size === 0) return undefined;
  const out: LoggedChatMessage[] = [];
  for (const [i, e] of indexed) {
    const msg = flatMessage(e, `${base}.${key}.${i}`, issues, defaultRole);
    if (msg) out.push(msg);
  }
  return out;
}

function firstIndexed(attrs: Record<string, unknown>, key: string, leaf: string): string | undefined {
  const whole = attrs[`${key}.0`];
  if (typeof whole === "string") return whole;
  const first = [...indexedEntries(attrs, key).values()][0];
  const v = first?.[leaf];
  return typeof v === "string" ? v : undefined;
}

export const openinferencePreset: MappingPreset = {
  id: "openinference",
  summary: "An OpenInference LLM span (llm.input_messages.N.message.role/content, llm.output_messages, llm.model_name, …; input.value/output.value as a fallback)",
  detect(doc) {
    const a = spanAttributes(doc);
    return a !== undefined && Object.keys(a.attrs).some((k) => k.startsWith("llm.input_messages") || k.startsWith("llm.output_messages") || k.startsWith("llm.prompts") || k === "openinference.span.kind");
  },
  map(doc, _ctx, issues): RecordDraft {
    const span = readSpan(doc, issues);
    if (!span) return {};
    const a = span.attrs;
    const base = span.attrsPath;
    let prompt: unknown = messagesAt(a, "llm.input_messages", base, issues);
    if (prompt === undefined) prompt = firstIndexed(a, "llm.prompts", "prompt.text");
    if (prompt === undefined && typeof a["input.value"] === "string") prompt = a["input.value"];
    if (prompt === undefined) issues.add(`${base}.llm.input_messages`, "missing: the span has no llm.input_messages, llm.prompts or input.value");

    const out = messagesAt(a, "llm.output_messages", base, issues, "assistant");
    let text: string | undefined = out?.find((m) => m.role === "assistant")?.content ?? out?.[0]?.content;
    if (text === undefined) text = firstIndexed(a, "llm.choices", "completion.text");
    if (text === undefined && typeof a["output.value"] === "string") text = a["output.value"];
    if (text === undefined) issues.add(`${base}.llm.output_messages`, "missing: the span has no llm.output_messages, llm.choices or output.value");

    const inv = maybeJson(a["llm.invocation_parameters"]);
    const meta = maybeJson(a.metadata);
    return {
      id: spanRecordId(undefined, span),
      timestamp: span.start,
      trace_id: span.traceId,
      span_id: span.spanId,
      model: str(a["llm.model_name"]),
      provider: str(a["llm.provider"]) ?? str(a["llm.system"]),
      prompt,
      completion: text === undefined ? undefined : { text },
      params: isRecord(inv) ? pickParams(inv) : {},
      user_id: str(a["user.id"]),
      session_id: str(a["session.id"]),
      tags: stringList(a["tag.tags"]),
      metadata: { ...primitiveMap(isRecord(meta) ? meta : {}), ...(span.name === undefined ? {} : { "span.name": span.name }) },
    };
  },
};
