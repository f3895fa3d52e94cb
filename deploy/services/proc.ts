/**
 * Process plumbing for the local services: running a command to completion, starting a
 * detached server, pid files, stopping, port checks and log tails. Linux only (it reads /proc).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
  /** Set when the command could not be started at all (ENOENT, EACCES). */
  spawnError?: NodeJS.ErrnoException;
}

/** Runs a command to completion, capturing its output; never throws. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; logFile?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    const onData = (b: Buffer): void => {
      chunks.push(b);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const finish = (r: CommandResult): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (opts.logFile !== undefined) {
        try {
          fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
          fs.appendFileSync(opts.logFile, `\n$ ${[cmd, ...args].join(" ")}\n${r.output}`);
        } catch {
          // A log we cannot write must not hide the command's own result.
        }
      }
      resolve(r);
    };
    child.on("error", (err: NodeJS.ErrnoException) => {
      finish({ code: null, signal: null, output: Buffer.concat(chunks).toString("utf8"), spawnError: err });
    });
    child.on("close", (code, signal) => {
      finish({ code, signal, output: Buffer.concat(chunks).toString("utf8") });
    });
  });
}

/** Finds an executable on PATH, also looking in the sbin directories a non-root PATH lacks. */
export function which(name: string, extraDirs: readonly string[] = ["/usr/local/sbin", "/usr/sbin", "/sbin"]): string | undefined {
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter((d) => d !== ""), ...extraDirs];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Starts a long-running server detached from this process, its output appended to `logFile`. */
export async function spawnDetached(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv },
): Promise<number> {
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = fs.openSync(opts.logFile, "a");
  try {
    fs.writeSync(fd, `\n=== ${new Date().toISOString()} $ ${[cmd, ...args].join(" ")}\n`);
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ["ignore", fd, fd] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("spawn", () => {
        if (child.pid === undefined) reject(new Error(`${cmd} started without a pid`));
        else resolve(child.pid);
      });
    });
    child.unref();
    return pid;
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether `pid` is a live process (a zombie counts as dead). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // pid (comm) state ...: comm may contain spaces and parentheses, so read after the last ')'.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The command line of a live process, arguments joined by spaces ("" if unknown). */
export function cmdlineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

export function readPidFile(file: string): number | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
  const pid = Number(raw);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

export function writePidFile(file: string, pid: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${pid}\n`);
}

export function removeFile(file: string): void {
  fs.rmSync(file, { force: true });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `pid` is gone; false if it is still alive at the deadline. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Waits (briefly) until a dead process has been reaped, so that `ps` no longer lists it as
 * <defunct>: an orphaned server's parent is init, which may reap it a moment later.
 */
async function waitReaped(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (fs.existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(100);
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves to how it ended. */
export async function stopProcess(pid: number, graceMs: number): Promise<"terminated" | "killed" | "gone"> {
  if (!isAlive(pid)) return "gone";
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return "gone";
  }
  if (await waitForExit(pid, graceMs)) {
    await waitReaped(pid, 5000);
    return "terminated";
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return "gone";
  }
  await waitForExit(pid, 10_000);
  await waitReaped(pid, 5000);
  return "killed";
}

/** Whether something already listens on host:port (tries to bind it). */
export function portInUse(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => {
      resolve(err.code === "EADDRINUSE" || err.code === "EACCES");
    });
    server.once("listening", () => {
      server.close(() => resolve(false));
    });
    server.listen({ port, host, exclusive: true });
  });
}

/** Best effort: which process listens on a TCP port ("" when it cannot tell). */
export async function portOwner(port: number): Promise<string> {
  const ss = which("ss");
  if (ss === undefined) return "";
  const r = await runCommand(ss, ["-H", "-l", "-t", "-n", "-p", `sport = :${port}`], { timeoutMs: 5000 });
  if (r.code !== 0) return "";
  const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(r.output);
  if (m === null) return "";
  const pid = Number(m[2]);
  const cmd = cmdlineOf(pid);
  return `pid ${pid} (${m[1]}${cmd === "" ? "" : `: ${cmd.slice(0, 160)}`})`;
}

/** Size of a file in bytes (0 if it does not exist). */
export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The last `n` lines of a text file written after byte `from` ("" if none or no file). */
export function tailFile(file: string, n = 30, from = 0): string {
  let text: string;
  try {
    const fd = fs.openSync(file, "r");
    try {
      const size = fs.fstatSync(fd).size;
      // A file smaller than `from` was rotated or truncated: read it from the start.
      const start = Math.max(size < from ? 0 : from, size - 256 * 1024);
      const len = size - start;
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, start);
      text = buf.toString("utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "";
  }
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.slice(-n).join("\n");
}

/** Last lines of a command's output, for error messages. */
export function tailText(text: string, n = 30): string {
  const lines = text.trimEnd().split("\n");
  return lines.slice(-n).join("\n");
}

export { sleep };
