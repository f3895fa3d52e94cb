/** What the orchestrator (index.ts) needs from each local service. */
import type { ServiceName } from "./config.js";

export interface ProbeResult {
  ok: boolean;
  /** Server version, when the probe could read it. */
  version?: string;
  /** What answered, or why the probe failed. */
  detail: string;
}

export interface PortInfo {
  label: string;
  port: number;
}

export interface LaunchSpec {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Where the process' own stdout/stderr go. */
  consoleLog: string;
}

export type Logger = (line: string) => void;

export interface ServiceDriver {
  readonly name: ServiceName;
  /** Display name ("Kafka", "ClickHouse"). */
  readonly title: string;
  /** `.services/<name>/`. */
  readonly dir: string;
  readonly pidFile: string;
  readonly ports: readonly PortInfo[];
  /** The service's main log first, then its console log. */
  logFiles(): string[];
  /** Installs what is missing (jars, packages); cheap when everything is there. */
  install(log: Logger): Promise<void>;
  /** Writes configuration and formats storage; returns how to start the server. */
  prepare(log: Logger): Promise<LaunchSpec>;
  /** Whether a process command line is this service as started from this checkout. */
  owns(cmdline: string): boolean;
  /** One readiness check, bounded by `timeoutMs`. */
  probe(timeoutMs: number): Promise<ProbeResult>;
  /** The version known without asking the server (e.g. from the jar name). */
  staticVersion(): string | undefined;
  /**
   * Whether the configuration a running instance was started with is the one this
   * environment asks for (same ports and paths); false means it must be restarted.
   */
  configMatches(): boolean;
}

/** Rejects with `message` if `p` has not settled within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Escapes text for an XML element body or attribute. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}
