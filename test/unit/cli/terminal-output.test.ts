import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { StatusLineStream, logDestination, logFormatFrom, textLogLine } from "../../../src/cli/terminal-output.js";

function sink(isTTY: boolean): { out: string[]; stream: { isTTY: boolean; write: (s: string) => boolean } } {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (s: string) => out.push(s) > 0 } };
}

describe("terminal output", () => {
  it("a log line clears the status line and redraws it after, so they never share a line", () => {
    const { out, stream } = sink(true);
    const term = new StatusLineStream(stream);
    term.setStatus("progress 10%");
    term.writeLine("a log line");
    term.setStatus("progress 20%");
    expect(out.join("")).toBe("\r\x1b[2Kprogress 10%\r\x1b[2Ka log line\nprogress 10%\r\x1b[2Kprogress 20%");
    // Every log line starts at the beginning of a cleared line.
    expect(out.join("").split("\n").every((l, i) => i === 0 || l.startsWith("progress"))).toBe(true);
  });

  it("logs are JSON when asked or off a terminal, text on a terminal", () => {
    const tty = sink(true);
    pino({ level: "info" }, logDestination("auto", new StatusLineStream(tty.stream))).warn({ n: 1 }, "hello");
    expect(tty.out.join("")).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}hello n=1\n$/);
    const pipe = sink(false);
    pino({ level: "info" }, logDestination("auto", new StatusLineStream(pipe.stream))).warn({ n: 1 }, "hello");
    expect(JSON.parse(pipe.out.join(""))).toMatchObject({ level: 40, msg: "hello", n: 1 });
    const asked = sink(true);
    pino({ level: "info" }, logDestination("json", new StatusLineStream(asked.stream))).info("x");
    expect(JSON.parse(asked.out.join(""))).toMatchObject({ msg: "x" });
  });

  it("the format comes from the flag, else REAGENT_LOG_FORMAT; a bad one names where it came from", () => {
    expect(logFormatFrom(undefined, {})).toBe("auto");
    expect(logFormatFrom(undefined, { REAGENT_LOG_FORMAT: "json" })).toBe("json");
    expect(logFormatFrom("text", { REAGENT_LOG_FORMAT: "json" })).toBe("text");
    expect(() => logFormatFrom(undefined, { REAGENT_LOG_FORMAT: "yaml" })).toThrow(/REAGENT_LOG_FORMAT/);
    expect(textLogLine("not json")).toBe("not json");
  });
});
