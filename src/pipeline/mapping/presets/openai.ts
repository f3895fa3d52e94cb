/**
 * `openai`: a logged OpenAI-style call, `{request, response}` (plus optional top-level id,
 * timestamp, tenant_id, user_id, session_id, trace_id, span_id, tags, metadata), for both
 * `/v1/chat/completions` (request.messages, response.choices[].message) and the legacy
 * `/v1/completions` (request.prompt, response.choices[].text). Logprobs are kept when logged.
 * OpenAI-compatible servers (vLLM, SGLang, TGI's Messages API, LiteLLM) log the same shape.
 */
import type { MappingIssues} from "../common.js";
import { contentText, isRecord, num, normaliseMessage, pickParams, primitiveMap, str, stringList, toolCallsText } from "../common.js";
import type { MappingPreset, PresetContext, RecordDraft } from "./types.js";

function completionOf(choice: Record<string, unknown>, path: string, issues: MappingIssues, chat: boolean): unknown {
  if (chat) {
    const msg = isRecord(choice.message) ? choice.message : isRecord(choice.delta) ? choice.delta : undefined;
    if (!msg) {
      issues.add(`${path}.message`, "missing: a chat completion choice has a message");
      return undefined;
    }
    const text = [contentText(msg.content), toolCallsText(msg.tool_calls)].filter((t): t is string => t !== undefined && t !== "").join("\n");
    const lp = isRecord(choice.logprobs) && Array.isArray(choice.logprobs.content) ? choice.logprobs.content : undefined;
    const logprobs = lp?.map((e: unknown) => (isRecord(e) ? num(e.logprob) : undefined));
    const tokens = lp?.map((e: unknown) => (isRecord(e) && typeof e.token === "string" ? e.token : undefined));
    return {
      text,
      ...(logprobs && logprobs.length > 0 && logprobs.every((x) => x !== undefined) ? { logprobs } : {}),
      ...(tokens && tokens.length > 0 && tokens.every((x) => x !== undefined) ? { tokens } : {}),
    };
  }
  const text = choice.text;
  if (typeof text !== "string") issues.add(`${path}.text`, "missing: a completions choice has text");
  const lp = isRecord(choice.logprobs) ? choice.logprobs : undefined;
  const logprobs = Array.isArray(lp?.token_logprobs) ? lp.token_logprobs.map((x: unknown) => num(x)) : undefined;
  const tokens = Array.isArray(lp?.tokens) ? lp.tokens : undefined;
  return {
    text,
    ...(logprobs && logprobs.length > 0 && logprobs.every((x) => x !== undefined) ? { logprobs } : {}),
    ...(tokens && tokens.length > 0 && tokens.every((x: unknown) => typeof x === "string") ? { tokens } : {}),
  };
}

export const openaiPreset: MappingPreset = {
  id: "openai",
  summary: "{request, response} JSON of an OpenAI-style chat.completions or legacy completions call (vLLM, SGLang, LiteLLM log the same shape)",
  detect: (doc) => isRecord(doc) && isRecord(doc.request) && isRecord(doc.response),
  map(doc, ctx: PresetContext, issues): RecordDraft {
    if (!isRecord(doc) || !isRecord(doc.request) || !isRecord(doc.response)) {
      issues.add(isRecord(doc) ? (isRecord(doc.request) ? "response" : "request") : "", "expected an object with request and response objects");
      return {};
    }
    const req = doc.request;
    const res = doc.response;
    const chat = Array.isArray(req.messages) || res.object === "chat.completion";
    let prompt: unknown;
    if (chat) {
      if (!Array.isArray(req.messages)) issues.add("request.messages", "missing: a chat completion request has messages");
      else {
        const msgs = req.messages.map((m: unknown, i) => normaliseMessage(m, `request.messages.${i}`, issues));
        prompt = msgs.every((m) => m !== undefined) ? msgs : undefined;
      }
    } else if (typeof req.prompt === "string") {
      prompt = req.prompt;
    } else if (Array.isArray(req.prompt) && typeof req.prompt[0] === "string") {
      if (req.prompt.length > 1) issues.add("request.prompt", "holds several prompts; log one call per record");
      prompt = req.prompt[0];
    } else {
      issues.add("request.prompt", req.prompt === undefined ? "missing: expected request.messages (chat) or request.prompt (completions)" : "expected the prompt as text (token-id prompts cannot be attributed as text)");
    }
    let completion: unknown;
    const choices = res.choices;
    if (!Array.isArray(choices) || choices.length === 0) {
      issues.add("response.choices", "missing: expected at least one choice");
    } else {
      const idx = Math.min(ctx.choice, choices.length - 1);
      const choice: unknown = choices.find((c: unknown) => isRecord(c) && c.index === ctx.choice) ?? choices[idx];
      if (!isRecord(choice)) issues.add(`response.choices.${idx}`, "expected a choice object");
      else completion = completionOf(choice, `response.choices.${idx}`, issues, chat);
    }
    const requestMeta = primitiveMap(req.metadata);
    return {
      id: doc.id ?? res.id,
      timestamp: doc.timestamp ?? res.created,
      trace_id: doc.trace_id,
      span_id: doc.span_id,
      response_id: str(res.id),
      model: str(res.model) ?? str(req.model),
      provider: doc.provider ?? "openai",
      prompt,
      completion,
      params: pickParams(req),
      tenant_id: doc.tenant_id,
      user_id: doc.user_id ?? str(req.user) ?? str(req.safety_identifier),
      session_id: doc.session_id,
      tags: doc.tags === undefined ? undefined : (stringList(doc.tags) ?? doc.tags),
      metadata: { ...requestMeta, ...primitiveMap(doc.metadata) },
    };
  },
};
