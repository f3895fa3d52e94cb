/**
 * The committed position of file and stdin sources: `{ version, partitions: { <path>: { line, byte } } }`,
 * written atomically (temporary file, fsync, rename) on each commit. A restart resumes at the
 * first line not committed: files by seeking to `byte`, stdin by skipping `line` lines.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { SourceError, errorMessage } from "../../src/errors.js";

const checkpointSchema = z
  .object({
    version: z.literal(1),
    partitions: z.record(z.string(), z.object({ line: z.string().regex(/^\d+$/), byte: z.number().int().min(0).nullable() }).strict()),
  })
  .strict();

export type Checkpoint = z.infer<typeof checkpointSchema>;

export interface Position {
  readonly line: bigint;
  readonly byte: number | null;
}

export class CheckpointFile {
  private state: Checkpoint = { version: 1, partitions: {} };

  constructor(
    readonly path: string | undefined,
    private readonly source: string,
  ) {}

  load(): void {
    if (this.path === undefined || !existsSync(this.path)) return;
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, "utf8"));
    } catch (err) {
      throw new SourceError({ what: `reading checkpoint ${this.path}`, why: `${errorMessage(err)}; delete it to start from the beginning`, cause: err, source: this.source });
    }
    const r = checkpointSchema.safeParse(raw);
    if (!r.success) {
      throw new SourceError({ what: `reading checkpoint ${this.path}`, why: "it is not a reagent-stream checkpoint; delete it to start from the beginning", source: this.source });
    }
    this.state = r.data;
  }

  get(partition: string): Position | undefined {
    const p = this.state.partitions[partition];
    return p === undefined ? undefined : { line: BigInt(p.line), byte: p.byte };
  }

  set(partition: string, pos: Position): void {
    this.state.partitions[partition] = { line: pos.line.toString(), byte: pos.byte };
  }

  save(): void {
    if (this.path === undefined) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, "w");
    try {
      writeSync(fd, JSON.stringify(this.state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
