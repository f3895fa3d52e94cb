/**
 * stderr for a running worker: one status line (the replay progress bar) kept below the log
 * lines, and the log format. Every log line clears the status line first and redraws it after,
 * so logs and the bar never share a line. Logs are JSON (pino's lines) when asked
 * (`--log-format json`, REAGENT_LOG_FORMAT=json) or when stderr is not a terminal; on a terminal
 * they are short text lines.
 */
import type { DestinationStream } from "pino";
import { z } from "zod";
import { ConfigError } from "../errors.js";

export interface TerminalLike {
  readonly isTTY?: boolean;
  write(s: string): boolean;
}

const CLEAR = "\r\x1b[2K";

export class StatusLineStream {
  private status: string | undefined;

  constructor(private readonly out: TerminalLike = process.stderr) {}

  get isTTY(): boolean {
    return this.out.isTTY === true;
  }

  /** Plain output (progress summary lines when not on a terminal). */
  write(s: string): boolean {
    if (this.status === undefined) return this.out.write(s);
    return this.out.write(`${CLEAR}${s}${this.status}`);
  }

  /** Draws (or replaces) the status line; undefined leaves the last one in place and forgets it. */
  setStatus(line: string | undefined): void {
    this.status = line;
    if (line !== undefined) this.out.write(`${CLEAR}${line}`);
  }

  /** One whole line above the status line. */
  writeLine(text: string): void {
    this.write(`${text}\n`);
  }
}

export const logFormatSchema = z.enum(["auto", "json", "text"]);
export type LogFormat = z.infer<typeof logFormatSchema>;

/** The log format from the flag, else REAGENT_LOG_FORMAT, else auto. */
export function logFormatFrom(flag: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): LogFormat {
  const raw = flag ?? env.REAGENT_LOG_FORMAT ?? "auto";
  const r = logFormatSchema.safeParse(raw);
  if (!r.success) {
    throw new ConfigError({ what: "choosing the log format", why: `${flag === undefined ? "REAGENT_LOG_FORMAT" : "--log-format"} ${JSON.stringify(raw)} is not a log format`, path: flag === undefined ? "REAGENT_LOG_FORMAT" : "--log-format", expected: "auto, json or text" });
  }
  return r.data;
}

const LEVELS: Readonly<Record<number, string>> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const OMIT = new Set(["level", "time", "pid", "hostname", "msg"]);

/** A pino JSON line as a short text line: time, level, message, then the other fields. */
export function textLogLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === "number" ? new Date(o.time).toISOString().slice(11, 23) : "";
  const level = typeof o.level === "number" ? (LEVELS[o.level] ?? String(o.level)) : "";
  const rest = Object.entries(o)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return [time, level.padEnd(5), typeof o.msg === "string" ? o.msg : "", ...rest].filter((x) => x !== "").join(" ");
}

/** pino's destination: each log line through the status-line stream, as JSON or text. */
export function logDestination(format: LogFormat, out: StatusLineStream): DestinationStream {
  const json = format === "json" || (format === "auto" && !out.isTTY);
  return {
    write(chunk: string): void {
      for (const line of chunk.split("\n")) if (line !== "") out.writeLine(json ? line : textLogLine(line));
    },
  };
}
