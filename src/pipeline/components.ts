/**
 * A component is one `type` of source, sink or dead-letter route, declared in its own folder
 * with everything the application needs to offer it: the config schema (carrying its `type`
 * literal), the docs (title, example), a one-line description for `config check` and the
 * constructor. src/app/components.ts lists them; the root config schema, docs/config.md,
 * `config check`, `migrate`/`query` and buildWorker all read that list, so adding a store is one
 * folder plus one registration line.
 *
 * This file holds only the shapes (the pipeline stays free of implementations).
 */
import type { Readable } from "node:stream";
import type { z } from "zod";
import type { DeadLetterSink, PipelineMetrics, Sink, Source } from "./contracts.js";
import type { PipelineLogger } from "./logger.js";

export interface Component<S extends z.ZodType, Deps, Built> {
  /** The `type:` value that selects it. */
  readonly type: string;
  /** Validates its section, `type` included; its `.describe()` is the docs' one-line summary. */
  readonly schema: S;
  /** Heading in docs/config.md: `sinks: duckdb`. */
  readonly title: string;
  /** The folder or file that declares it (edit there, then npm run config:docs). */
  readonly declaredIn: string;
  /** A YAML fragment of a whole config showing it (validated by a test). */
  readonly example: string;
  /** One line for `config check`: `duckdb ./reagent-stream.duckdb`. */
  describe(cfg: z.output<S>): string;
  create(cfg: z.output<S>, deps: Deps): Built;
}

/** Something a line-oriented source may draw progress on (stderr). */
export interface ProgressOutput {
  readonly isTTY?: boolean;
  write(s: string): boolean;
}

export interface SourceDeps {
  readonly logger: PipelineLogger;
  readonly metrics: PipelineMetrics;
  /** stdin source input (default process.stdin). */
  readonly stdin?: Readable | undefined;
  readonly progress?: ProgressOutput | undefined;
  /** Records attributed and finished so far (replay progress counts these, not lines read). */
  readonly records?: (() => { readonly attributed: number; readonly done: number } | undefined) | undefined;
}

export interface SinkDeps {
  readonly logger: PipelineLogger;
  readonly metrics: PipelineMetrics;
}

export interface DeadLetterDeps {
  readonly logger: PipelineLogger;
  readonly metrics: PipelineMetrics;
  /** The worker's source section: a dead-letter topic borrows a Kafka source's connection. */
  readonly source: { readonly type: string };
}

export type SourceComponent<S extends z.ZodType = z.ZodType> = Component<S, SourceDeps, Source>;
export type SinkComponent<S extends z.ZodType = z.ZodType, Built extends Sink = Sink> = Component<S, SinkDeps, Built>;
export type DeadLetterComponent<S extends z.ZodType = z.ZodType> = Component<S, DeadLetterDeps, DeadLetterSink>;
