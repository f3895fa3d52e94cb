import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jinjaChatTemplate, loadChatTemplate, simpleChatTemplate, type ChatMessage } from "../../../src/text/chat-template.js";
import { findRuleSegments, segmentAt, roleSegments } from "../../../src/text/segments.js";
import { ConfigError } from "../../../src/errors.js";

const messages: ChatMessage[] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Capital of Greece?" },
  { role: "assistant", content: "Athens." },
  { role: "user", content: "And Peru?" },
];

describe("chat templates keep each message's character range", () => {
  it("simple template", () => {
    const r = simpleChatTemplate().render(messages);
    expect(r.messages.length).toBe(4);
    r.messages.forEach((m) => expect(r.text.slice(m.start, m.end)).toBe(messages[m.index]!.content));
    expect(r.text.endsWith("Assistant:")).toBe(true);
  });

  it("a Hugging Face Jinja template (ChatML-style)", () => {
    const src =
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    const r = jinjaChatTemplate("chatml", src).render(messages);
    r.messages.forEach((m) => {
      expect(r.text.slice(m.start, m.end)).toBe(messages[m.index]!.content);
      expect(m.role).toBe(messages[m.index]!.role);
    });
    expect(r.text.startsWith("<|im_start|>system\nYou are terse.<|im_end|>")).toBe(true);
    expect(r.text.endsWith("<|im_start|>assistant\n")).toBe(true);
  });

  it("loads the simple form from a JSON file and rejects a bad one with the field named", () => {
    const dir = mkdtempSync(join(tmpdir(), "tpl-"));
    writeFileSync(join(dir, "ok.json"), JSON.stringify({ format: "simple", roles: { user: { prefix: "Q: ", suffix: "\n" } }, generation_prompt: "A:" }));
    const r = loadChatTemplate(join(dir, "ok.json")).render([{ role: "user", content: "hi" }]);
    expect(r.text).toBe("Q: hi\nA:");
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ format: "simple", roles: { user: { prefx: "Q" } } }));
    expect(() => loadChatTemplate(join(dir, "bad.json"))).toThrow(ConfigError);
  });
});

describe("segments", () => {
  const text = "Answer from the docs. <doc>Alpha is 7421.</doc> <doc>Bravo is 3318.</doc> Question?";

  it("finds marker-delimited segments without the markers", () => {
    const segs = findRuleSegments(text, [{ name: "context", start: "<doc>", end: "</doc>", include_markers: false }]);
    expect(segs.map((s) => text.slice(s.start, s.end))).toEqual(["Alpha is 7421.", "Bravo is 3318."]);
  });

  it("finds regex segments", () => {
    const segs = findRuleSegments(text, [{ name: "numbers", pattern: "\\d{4}", flags: "" }]);
    expect(segs.map((s) => text.slice(s.start, s.end))).toEqual(["7421", "3318"]);
  });

  it("assigns a token to the innermost rule, else its message role", () => {
    const rules = findRuleSegments(text, [{ name: "context", start: "<doc>", end: "</doc>", include_markers: false }]);
    const msgs = roleSegments([{ index: 0, role: "user", start: 0, end: text.length }]);
    const at = text.indexOf("7421");
    expect(segmentAt(at, at + 4, rules, msgs)).toMatchObject({ name: "context", messageIndex: 0, role: "user" });
    expect(segmentAt(0, 6, rules, msgs)).toMatchObject({ name: "user" });
    expect(segmentAt(0, 6, rules, [])).toBeUndefined();
  });

  it("rejects an invalid pattern with a ConfigError", () => {
    expect(() => findRuleSegments(text, [{ name: "x", pattern: "(", flags: "" }])).toThrow(ConfigError);
  });
});
