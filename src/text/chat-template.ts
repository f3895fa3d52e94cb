/**
 * Rendering chat messages into the one prompt string a causal LM sees, while remembering each
 * message's character range, so importance can be summed per message and per role.
 *
 * Two template forms:
 * - a Hugging Face Jinja `chat_template` (a `.jinja` file, or the string in tokenizer_config.json);
 * - the project's simple JSON form (`{"format":"simple", "roles": {"user": {"prefix","suffix"}}, ...}`)
 *   for models without one.
 * Ranges survive Jinja rendering by rendering with unique placeholders and substituting the
 * contents afterwards; a template that edits message content (e.g. trims it) still works, the
 * edit is just applied to nothing.
 */
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";
import { z } from "zod";
import type { ChatRole } from "../../schemas/llm-log-record.js";
import { parseConfig } from "../config-issues.js";
import { ConfigError, errorMessage } from "../errors.js";

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
  readonly name?: string;
}

export interface MessageRange {
  readonly index: number;
  readonly role: ChatRole;
  /** Range of the message's content in the rendered text. */
  readonly start: number;
  readonly end: number;
}

export interface RenderedPrompt {
  readonly text: string;
  readonly messages: readonly MessageRange[];
}

export interface ChatTemplate {
  readonly name: string;
  render(messages: readonly ChatMessage[], opts?: { addGenerationPrompt?: boolean }): RenderedPrompt;
}

const roleAffixSchema = z.object({ prefix: z.string().default(""), suffix: z.string().default("") }).strict();

export const simpleTemplateSchema = z
  .object({
    format: z.literal("simple"),
    name: z.string().default("simple"),
    /** Text before the first message. */
    begin: z.string().default(""),
    roles: z.object({
      system: roleAffixSchema.default({ prefix: "System: ", suffix: "\n" }),
      user: roleAffixSchema.default({ prefix: "User: ", suffix: "\n" }),
      assistant: roleAffixSchema.default({ prefix: "Assistant: ", suffix: "\n" }),
      tool: roleAffixSchema.default({ prefix: "Tool: ", suffix: "\n" }),
    }).strict(),
    /** Appended when a completion is expected next. */
    generation_prompt: z.string().default("Assistant:"),
  })
  .strict();

export type SimpleTemplateSpec = z.infer<typeof simpleTemplateSchema>;

/** The default template for bundled models: plain "Role: content" lines. */
export const defaultSimpleTemplate: SimpleTemplateSpec = simpleTemplateSchema.parse({ format: "simple", roles: {} });

class SimpleTemplate implements ChatTemplate {
  readonly name: string;
  constructor(private readonly spec: SimpleTemplateSpec) {
    this.name = spec.name;
  }

  render(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): RenderedPrompt {
    let text = this.spec.begin;
    const ranges: MessageRange[] = [];
    messages.forEach((m, index) => {
      const affix = this.spec.roles[m.role];
      text += affix.prefix;
      const start = text.length;
      text += m.content;
      ranges.push({ index, role: m.role, start, end: text.length });
      text += affix.suffix;
    });
    if (opts.addGenerationPrompt ?? true) text += this.spec.generation_prompt;
    return { text, messages: ranges };
  }
}

class JinjaTemplate implements ChatTemplate {
  private readonly template: Template;
  constructor(
    readonly name: string,
    source: string,
    private readonly extra: Record<string, unknown>,
  ) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new ConfigError({ what: `parsing chat template ${name}`, why: errorMessage(err), path: "chat_template", cause: err });
    }
  }

  render(messages: readonly ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): RenderedPrompt {
    const nonce = Math.random().toString(36).slice(2, 8);
    const marker = (i: number): string => `\u2063RSMSG${nonce}_${i}\u2063`;
    const rendered = this.template.render({
      ...this.extra,
      messages: messages.map((m, i) => ({ role: m.role, content: marker(i), ...(m.name ? { name: m.name } : {}) })),
      add_generation_prompt: opts.addGenerationPrompt ?? true,
    });
    let text = "";
    const ranges: MessageRange[] = [];
    let cursor = 0;
    const re = new RegExp(`\u2063RSMSG${nonce}_(\\d+)\u2063`, "g");
    for (const m of rendered.matchAll(re)) {
      const i = Number(m[1]);
      const msg = messages[i];
      if (!msg) continue;
      text += rendered.slice(cursor, m.index);
      const start = text.length;
      text += msg.content;
      ranges.push({ index: i, role: msg.role, start, end: text.length });
      cursor = m.index + m[0].length;
    }
    text += rendered.slice(cursor);
    ranges.sort((a, b) => a.start - b.start);
    return { text, messages: ranges };
  }
}

/** A template from a file: `.json` (simple form) or anything else as Jinja source. */
export function loadChatTemplate(path: string, extra: Record<string, unknown> = {}): ChatTemplate {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError({ what: `reading chat template ${path}`, why: errorMessage(err), path: "chat_template", cause: err });
  }
  if (path.endsWith(".json")) {
    return new SimpleTemplate(parseConfig(simpleTemplateSchema, JSON.parse(raw), { what: `reading chat template ${path}`, path: "chat_template" }));
  }
  return new JinjaTemplate(path, raw, extra);
}

/** A Jinja template given as a string (e.g. tokenizer_config.json's `chat_template`). */
export function jinjaChatTemplate(name: string, source: string, extra: Record<string, unknown> = {}): ChatTemplate {
  return new JinjaTemplate(name, source, extra);
}

export function simpleChatTemplate(spec: SimpleTemplateSpec = defaultSimpleTemplate): ChatTemplate {
  return new SimpleTemplate(spec);
}
