import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { inputFromRecord, messagesFromTranscript, parseRecordSpec } from "../../../src/app/attribute-input.js";

const ROOT = resolve(import.meta.dirname, "../../..");

describe("attribute inputs", () => {
  it("takes real OpenAI transcripts: content-part arrays, tool messages, request objects", () => {
    const transcript = [
      { role: "system", content: [{ type: "text", text: "Answer briefly." }] },
      { role: "user", content: [{ type: "text", text: "Weather in Lima?" }, { type: "image_url", image_url: { url: "data:x" } }] },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Lima"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: "18°C, cloudy" },
    ];
    const msgs = messagesFromTranscript(transcript, "t.json");
    expect(msgs.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    expect(msgs[1]!.content).toBe("Weather in Lima?");
    expect(msgs[2]!.content).toContain("weather");
    expect(msgs[3]!.content).toBe("18°C, cloudy");
    expect(messagesFromTranscript({ model: "gpt-4o-mini", messages: transcript, temperature: 0 }, "req.json")).toEqual(msgs);
  });

  it("re-attributes a logged record through the pipeline's mapping presets", () => {
    const input = inputFromRecord(`${join(ROOT, "deploy/samples/mixed-logs.jsonl")}:1`);
    expect(input.completion).toBe(" Lima");
    expect(Array.isArray(input.prompt)).toBe(true);
    expect(input.context.record_id).toBe("chat-peru");
    expect(input.context.logged_model).toMatch(/^gpt-4o-mini/);
    expect(parseRecordSpec("logs.jsonl")).toEqual({ file: "logs.jsonl", line: 1 });
    expect(parseRecordSpec("/a/b:c.jsonl:12")).toEqual({ file: "/a/b:c.jsonl", line: 12 });
  });
});
