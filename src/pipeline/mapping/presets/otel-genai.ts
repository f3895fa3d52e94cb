/**
 * `otel_genai`: an OpenTelemetry GenAI inference span (semconv-genai). Reads the current
 * structured attributes — `gen_ai.input.messages`, `gen_ai.system_instructions`,
 * `gen_ai.output.messages` (JSON text or structured, parts of type text / tool_call /
 * tool_call_response) — and the deprecated forms still in the wild: `gen_ai.prompt` /
 * `gen_ai.completion` as JSON text or plain text, and OpenLLMetry's indexed
 * `gen_ai.prompt.N.role|content` / `gen_ai.completion.N.content`. `gen_ai.system` is read when
 * `gen_ai.provider.name` is absent.
 *
 * @see /work/shared/reference/observability.md §2.2
 */
import type { LoggedChatMessage } from "../../../../schemas/llm-log-record.js";
import type { MappingIssues} from "../common.js";
import { contentText, isRecord, maybeJson, normaliseMessage, normaliseRole, num, primitiveMap, str, stringList } from "../common.js";
import { indexedEntries } from "../paths.js";
import { readSpan, spanAttributes, spanRecordId } from "./span.js";
import type { MappingPreset, RecordDraft } from "./types.js";

/** Text of semconv message parts: text parts as is, tool calls and responses as JSON. */
function partsText(parts: unknown): string | undefined {
  if (!Array.isArray(parts)) return contentText(parts);
  const out: string[] = [];
  for (const p of parts) {
    if (!isRecord(p)) continue;
    if (p.type === "text" || p.type === undefined) {
      const t = p.content ?? p.text;
      if (typeof t === "string") out.push(t);
    } else if (p.type === "tool_call") {
      out.push(JSON.stringify({ name: p.name, arguments: maybeJson(p.arguments) }));
    } else if (p.type === "tool_call_response") {
      const r = p.response ?? p.result;
      out.push(typeof r === "string" ? r : JSON.stringify(r));
    }
  }
  return out.length > 0 ? out.join("\n") : undefined;
}

function semconvMessages(v: unknown, path: string, issues: MappingIssues): LoggedChatMessage[] | undefined {
  const list = maybeJson(v);
  if (!Array.isArray(list)) {
    issues.add(path, "expected a JSON array of messages ({role, parts})");
    return undefined;
  }
  const out: LoggedChatMessage[] = [];
  list.forEach((m: unknown, i) => {
    if (isRecord(m) && m.parts !== undefined) {
      const role = normaliseRole(m.role, `${path}.${i}.role`, issues);
      const content = partsText(m.parts);
      if (content === undefined) issues.add(`${path}.${i}.parts`, "no text, tool_call or tool_call_response parts");
      if (role !== undefined && content !== undefined) out.push({ role, content, ...(typeof m.name === "string" ? { name: m.name } : {}) });
    } else {
      const msg = normaliseMessage(m, `${path}.${i}`, issues);
      if (msg) out.push(msg);
    }
  });
  return out;
}

/** The deprecated prompt forms: JSON messages, plain text, or indexed `gen_ai.prompt.N.*`. */
function deprecatedPrompt(attrs: Record<string, unknown>, base: string, issues: MappingIssues): unknown {
  const whole = attrs["gen_ai.prompt"];
  if (whole !== undefined) {
    const parsed = maybeJson(whole);
    if (Array.isArray(parsed)) return semconvMessages(parsed, `${base}.gen_ai.prompt`, issues);
    if (typeof parsed === "string") return parsed;
    issues.add(`${base}.gen_ai.prompt`, "expected text or a JSON array of messages");
    return undefined;
  }
  const indexed = indexedEntries(attrs, "gen_ai.prompt");
  if (indexed.size === 0) return undefined;
  const msgs: LoggedChatMessage[] = [];
  for (const [i, e] of indexed) {
    const role = normaliseRole(e.role ?? "user", `${base}.gen_ai.prompt.${i}.role`, issues);
    const content = contentText(maybeJson(e.content));
    if (content === undefined) issues.add(`${base}.gen_ai.prompt.${i}.content`, "missing: expected the message text");
    if (role !== undefined && content !== undefined) msgs.push({ role, content });
  }
  return msgs;
}

function deprecatedCompletion(attrs: Record<string, unknown>, base: string, issues: MappingIssues): string | undefined {
  const whole = attrs["gen_ai.completion"];
  if (whole !== undefined) {
    const parsed = maybeJson(whole);
    if (typeof parsed === "string") return parsed;
    if (Array.isArray(parsed)) {
      const first: unknown = parsed[0];
      const t = isRecord(first) ? (partsText(first.parts) ?? contentText(first.content)) : contentText(first);
      if (t !== undefined) return t;
    }
    issues.add(`${base}.gen_ai.completion`, "expected text or a JSON array of messages");
    return undefined;
  }
  const indexed = indexedEntries(attrs, "gen_ai.completion");
  const first = [...indexed.values()][0];
  if (!first) return undefined;
  const text = [contentText(maybeJson(first.content)), first["tool_calls.0.name"] === undefined ? undefined : JSON.stringify({ name: first["tool_calls.0.name"], arguments: maybeJson(first["tool_calls.0.arguments"]) })]
    .filter((t): t is string => t !== undefined && t !== "")
    .join("\n");
  return text;
}

function hasPrefix(attrs: Record<string, unknown>, prefix: string): boolean {
  return Object.keys(attrs).some((k) => k === prefix || k.startsWith(`${prefix}.`));
}

export const otelGenaiPreset: MappingPreset = {
  id: "otel_genai",
  summary:
    "An OTel GenAI inference span: gen_ai.input.messages / gen_ai.system_instructions / gen_ai.output.messages, or the deprecated gen_ai.prompt / gen_ai.completion (JSON, text or indexed)",
  detect(doc) {
    const a = spanAttributes(doc);
    return a !== undefined && (hasPrefix(a.attrs, "gen_ai.input.messages") || hasPrefix(a.attrs, "gen_ai.prompt") || hasPrefix(a.attrs, "gen_ai.output.messages") || hasPrefix(a.attrs, "gen_ai.completion"));
  },
  map(doc, _ctx, issues): RecordDraft {
    const span = readSpan(doc, issues);
    if (!span) return {};
    const a = span.attrs;
    const base = span.attrsPath;
    let prompt: unknown;
    if (a["gen_ai.input.messages"] !== undefined) {
      const msgs = semconvMessages(a["gen_ai.input.messages"], `${base}.gen_ai.input.messages`, issues) ?? [];
      const sys = a["gen_ai.system_instructions"];
      const sysText = sys === undefined ? undefined : partsText(maybeJson(sys));
      prompt = sysText === undefined ? msgs : [{ role: "system", content: sysText }, ...msgs];
    } else {
      prompt = deprecatedPrompt(a, base, issues);
    }
    if (prompt === undefined) issues.add(`${base}.gen_ai.input.messages`, "missing: the span has neither gen_ai.input.messages nor gen_ai.prompt (content capture may be off in the instrumentation)");

    let text: string | undefined;
    if (a["gen_ai.output.messages"] !== undefined) {
      const out = maybeJson(a["gen_ai.output.messages"]);
      const first: unknown = Array.isArray(out) ? (out.find((m: unknown) => isRecord(m) && (m.role === undefined || m.role === "assistant")) ?? out[0]) : undefined;
      text = isRecord(first) ? (partsText(first.parts) ?? contentText(first.content)) : undefined;
      if (text === undefined) issues.add(`${base}.gen_ai.output.messages`, "expected a JSON array with an assistant message with text parts");
    } else {
      text = deprecatedCompletion(a, base, issues);
      if (text === undefined) issues.add(`${base}.gen_ai.output.messages`, "missing: the span has neither gen_ai.output.messages nor gen_ai.completion");
    }
    const responseId = str(a["gen_ai.response.id"]);
    const params: Record<string, unknown> = {};
    for (const k of ["temperature", "top_p", "top_k", "max_tokens", "seed", "presence_penalty", "frequency_penalty"]) {
      const v = num(a[`gen_ai.request.${k}`]);
      if (v !== undefined) params[k] = v;
    }
    const stop = stringList(a["gen_ai.request.stop_sequences"]);
    if (stop) params.stop = stop;
    return {
      id: spanRecordId(responseId, span),
      timestamp: span.start,
      trace_id: span.traceId,
      span_id: span.spanId,
      response_id: responseId,
      model: str(a["gen_ai.request.model"]) ?? str(a["gen_ai.response.model"]),
      provider: str(a["gen_ai.provider.name"]) ?? str(a["gen_ai.system"]),
      prompt,
      completion: text === undefined ? undefined : { text },
      params,
      user_id: str(a["user.id"]) ?? str(a["enduser.id"]),
      session_id: str(a["gen_ai.conversation.id"]) ?? str(a["session.id"]),
      metadata: primitiveMap({
        ...(span.name === undefined ? {} : { "span.name": span.name }),
        ...(a["gen_ai.operation.name"] === undefined ? {} : { "gen_ai.operation.name": a["gen_ai.operation.name"] }),
        ...(a["gen_ai.response.finish_reasons"] === undefined ? {} : { "gen_ai.response.finish_reasons": a["gen_ai.response.finish_reasons"] }),
      }),
    };
  },
};
