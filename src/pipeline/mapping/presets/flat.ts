/**
 * `flat`: `{prompt, completion}` with optional id, model and context fields at the top level;
 * `prompt` is text or chat messages (or `messages` instead of `prompt`); other top-level
 * primitive fields are kept as metadata.
 */
import type { MappingIssues} from "../common.js";
import { contentText, isRecord, maybeJson, normaliseMessage, primitiveMap, stringList } from "../common.js";
import type { MappingPreset, RecordDraft } from "./types.js";

const KNOWN = new Set([
  "id", "timestamp", "trace_id", "span_id", "response_id", "model", "provider", "prompt", "messages", "completion",
  "completion_logprobs", "params", "tenant_id", "user_id", "session_id", "tags", "metadata",
]);

export function mapPrompt(v: unknown, path: string, issues: MappingIssues): unknown {
  const p = maybeJson(v);
  if (Array.isArray(p)) {
    const msgs = p.map((m, i) => normaliseMessage(m, `${path}.${i}`, issues));
    return msgs.every((m) => m !== undefined) ? msgs : undefined;
  }
  if (typeof p === "string") return p;
  if (p === undefined) {
    issues.add(path, "missing: expected the prompt as text or chat messages");
    return undefined;
  }
  const t = contentText(p);
  if (t === undefined) issues.add(path, "expected the prompt as text or chat messages");
  return t;
}

export const flatPreset: MappingPreset = {
  id: "flat",
  summary: "{prompt, completion} lines: prompt as text or chat messages, completion as text; id, model, tenant_id, … at the top level; other top-level fields become metadata",
  detect: (doc) => isRecord(doc) && (doc.prompt !== undefined || Array.isArray(doc.messages)) && (typeof doc.completion === "string" || isRecord(doc.completion)),
  map(doc, _ctx, issues): RecordDraft {
    if (!isRecord(doc)) {
      issues.add("", "expected a JSON object");
      return {};
    }
    const promptPath = doc.prompt === undefined && doc.messages !== undefined ? "messages" : "prompt";
    const prompt = mapPrompt(doc[promptPath], promptPath, issues);
    let completion: unknown = doc.completion;
    if (typeof doc.completion === "string") {
      completion = { text: doc.completion, ...(Array.isArray(doc.completion_logprobs) ? { logprobs: doc.completion_logprobs } : {}) };
    } else if (doc.completion === undefined) {
      issues.add("completion", "missing: expected the completion text");
    }
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) if (!KNOWN.has(k)) extra[k] = v;
    const metadata = { ...primitiveMap(extra), ...primitiveMap(doc.metadata) };
    return {
      id: doc.id,
      timestamp: doc.timestamp,
      trace_id: doc.trace_id,
      span_id: doc.span_id,
      response_id: doc.response_id,
      model: doc.model,
      provider: doc.provider,
      prompt,
      completion,
      params: doc.params,
      tenant_id: doc.tenant_id,
      user_id: doc.user_id,
      session_id: doc.session_id,
      tags: doc.tags === undefined ? undefined : (stringList(doc.tags) ?? doc.tags),
      metadata,
    };
  },
};
