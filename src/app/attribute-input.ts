/**
 * What `reagent-stream attribute` attributes, from the ways a user hands it over: prompt text,
 * a prompt file, an OpenAI chat transcript (`--messages`: a message array with content-part
 * arrays and tool messages, or a whole chat.completions request object), or one logged record
 * (`--record file.jsonl[:N]`) mapped exactly as the pipeline maps it (the same presets). Every
 * user mistake is a ConfigError naming the flag, the cause and the fix.
 */
import { readFileSync } from "node:fs";
import type { RecordContext } from "../../schemas/attribution-result.js";
import { ConfigError, isReagentError } from "../errors.js";
import { recordContext } from "../pipeline/attributor.js";
import { isRecord, MappingIssues, normaliseMessage } from "../pipeline/mapping/common.js";
import { RecordMapper, type PresetId } from "../pipeline/mapping/mapper.js";
import type { ChatMessage } from "../text/chat-template.js";

export interface AttributeInput {
  readonly prompt: string | ChatMessage[];
  /** The logged completion (from --record); undefined: from --completion or --generate. */
  readonly completion?: string;
  readonly context?: RecordContext;
}

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError({
      what: `reading ${flag} ${path}`,
      why: code === "ENOENT" ? "no such file; check the path (it is relative to the current directory)" : code === "EISDIR" ? "it is a directory; give a file" : `${code ?? String(err)}`,
      path: flag,
      cause: err,
    });
  }
}

function parseJson(text: string, path: string, flag: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError({ what: `reading ${flag} ${path}`, why: `not valid JSON (${(err as Error).message}); expected ${expected}`, path: flag, cause: err });
  }
}

/**
 * Chat messages from an OpenAI-style transcript: `[{role, content}, …]` (content may be a
 * string or an array of parts; tool and function messages are kept), or a request object
 * `{model, messages: […]}`. Mapped with the pipeline's own message normalisation.
 */
export function messagesFromTranscript(doc: unknown, source: string): ChatMessage[] {
  const expected = 'a JSON array of chat messages [{"role":"user","content":"…"}] or a chat.completions request {"messages":[…]}';
  let list: unknown = doc;
  if (isRecord(doc) && Array.isArray(doc.messages)) list = doc.messages;
  else if (isRecord(doc) && isRecord(doc.request)) {
    throw new ConfigError({ what: `reading --messages ${source}`, why: "this is a logged record (request + response); attribute it with --record FILE[:LINE]", path: "--messages" });
  }
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError({ what: `reading --messages ${source}`, why: `no messages found; expected ${expected}`, path: "--messages" });
  const issues = new MappingIssues();
  const out: ChatMessage[] = [];
  list.forEach((m, i) => {
    const msg = normaliseMessage(m, `messages.${i}`, issues);
    if (msg !== undefined) out.push({ role: msg.role, content: msg.content, ...(msg.name === undefined ? {} : { name: msg.name }) });
  });
  if (!issues.empty) {
    throw new ConfigError({ what: `reading --messages ${source}`, why: issues.list.map((x) => `${x.path}: ${x.message}`).join("; "), path: "--messages" });
  }
  if (out.every((m) => m.content.trim() === "")) throw new ConfigError({ what: `reading --messages ${source}`, why: "every message is empty; there is nothing to attribute", path: "--messages" });
  return out;
}

/** `file.jsonl[:N]`: the file and the 1-based line (default 1). */
export function parseRecordSpec(spec: string): { file: string; line: number } {
  const m = /^(.*):(\d+)$/.exec(spec);
  if (m === null) return { file: spec, line: 1 };
  const line = Number(m[2]);
  if (line < 1) throw new ConfigError({ what: `reading --record ${spec}`, why: "lines are numbered from 1", path: "--record" });
  return { file: m[1] as string, line };
}

/** One logged record through the pipeline's mapping (same presets, same validation). */
export function inputFromRecord(spec: string, preset: PresetId = "auto"): Required<AttributeInput> {
  const { file, line } = parseRecordSpec(spec);
  const lines = readText(file, "--record").split("\n");
  const raw = lines[line - 1];
  if (raw === undefined || raw.trim() === "") {
    throw new ConfigError({ what: `reading --record ${spec}`, why: `line ${line} is ${raw === undefined ? `past the end (the file has ${lines.filter((l) => l.trim() !== "").length} records)` : "empty"}`, path: "--record" });
  }
  let mapped;
  try {
    mapped = new RecordMapper({ preset }).map({ value: Buffer.from(raw, "utf8") });
  } catch (err) {
    if (isReagentError(err)) throw new ConfigError({ what: `mapping --record ${spec}`, why: `${err.message} (the pipeline would dead-letter it; try --mapping with another preset)`, path: "--record", cause: err });
    throw err;
  }
  const r = mapped.record;
  const prompt: string | ChatMessage[] = typeof r.prompt === "string" ? r.prompt : r.prompt.map((m) => ({ role: m.role, content: m.content, ...(m.name ? { name: m.name } : {}) }));
  return { prompt, completion: r.completion.text, context: recordContext(r) };
}

export interface PromptFlags {
  readonly prompt?: string;
  readonly promptFile?: string;
  readonly messages?: string;
  readonly record?: string;
  readonly mapping?: PresetId;
}

/** The prompt (and, for --record, the completion and context) from exactly one source. */
export function readAttributeInput(flags: PromptFlags): AttributeInput {
  const given = [flags.prompt, flags.promptFile, flags.messages, flags.record].filter((x) => x !== undefined).length;
  if (given !== 1) {
    throw new ConfigError({ what: "reading the prompt", why: `give exactly one of --prompt, --prompt-file, --messages or --record (got ${given})`, path: "--prompt" });
  }
  let input: AttributeInput;
  if (flags.record !== undefined) input = inputFromRecord(flags.record, flags.mapping);
  else if (flags.messages !== undefined) {
    const text = readText(flags.messages, "--messages");
    input = { prompt: messagesFromTranscript(parseJson(text, flags.messages, "--messages", "a JSON array of chat messages or a request object"), flags.messages) };
  } else input = { prompt: flags.prompt ?? readText(flags.promptFile as string, "--prompt-file") };
  if (typeof input.prompt === "string" && input.prompt.trim() === "") {
    throw new ConfigError({ what: "reading the prompt", why: "the prompt is empty; there is nothing to attribute", path: flags.promptFile !== undefined ? "--prompt-file" : "--prompt" });
  }
  return input;
}
