/**
 * The commit tracker: which offsets may be committed, per partition.
 *
 * Records complete out of order (a skipped record at once, an attributed one minutes later),
 * but a commit says "everything below this offset is done". So each partition keeps its tracked
 * offsets in arrival order and releases only the contiguous done prefix: the committable
 * offset is one past the last offset of that prefix. An offset counts as done when the sampler
 * skipped its record, every sink durably accepted its result, or its dead letter is durable.
 *
 * Each (re)assignment of a partition starts a new epoch: tickets from an earlier epoch (work
 * that was in flight when the partition was revoked) complete nothing, so a revoked partition
 * is never committed past unfinished records. Offsets at or below the highest one tracked are
 * redeliveries (Kafka refetches from the committed offset after every rebalance) and are
 * ignored, since the first delivery is still tracked.
 *
 * @see docs/pipeline.md#offsets
 */

/** A tracked offset; hand it back to `complete` when the record is done. */
export interface OffsetTicket {
  readonly partition: string;
  readonly offset: bigint;
  readonly epoch: number;
}

export type TrackResult = OffsetTicket | "duplicate" | "full";

interface Entry {
  readonly offset: bigint;
  done: boolean;
}

class PartitionTrack {
  entries: Entry[] = [];
  head = 0;
  readonly byOffset = new Map<bigint, Entry>();
  highest: bigint | null = null;
  /** Next offset that may be committed (everything below it is done). */
  releasable: bigint | null = null;
  committed: bigint | null = null;
  inFlight = 0;
  constructor(readonly epoch: number) {}

  advance(): void {
    let moved = false;
    while (this.head < this.entries.length) {
      const e = this.entries[this.head] as Entry;
      if (!e.done) break;
      this.releasable = e.offset + 1n;
      this.byOffset.delete(e.offset);
      this.head++;
      moved = true;
    }
    if (moved && this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

export interface PartitionSnapshot {
  readonly partition: string;
  readonly epoch: number;
  readonly inFlight: number;
  readonly highest: string | null;
  readonly releasable: string | null;
  readonly committed: string | null;
}

export class CommitTracker {
  private readonly parts = new Map<string, PartitionTrack>();
  private epochs = 0;
  private total = 0;

  constructor(readonly maxInFlightPerPartition: number) {}

  /** Starts tracking a partition (a new epoch) unless it is tracked already. */
  assign(partition: string): void {
    if (!this.parts.has(partition)) this.parts.set(partition, new PartitionTrack(++this.epochs));
  }

  /** Forgets a partition: its unfinished tickets will complete nothing. Returns how many were unfinished. */
  revoke(partition: string): number {
    const t = this.parts.get(partition);
    if (!t) return 0;
    this.parts.delete(partition);
    this.total -= t.inFlight;
    return t.inFlight;
  }

  owns(partition: string): boolean {
    return this.parts.has(partition);
  }

  isCurrent(ticket: OffsetTicket): boolean {
    return this.parts.get(ticket.partition)?.epoch === ticket.epoch;
  }

  /** Tracks an offered offset: a ticket, "duplicate" (already tracked: ignore it) or "full" (pause the partition). */
  track(partition: string, offset: bigint): TrackResult {
    this.assign(partition);
    const t = this.parts.get(partition) as PartitionTrack;
    if (t.highest !== null && offset <= t.highest) return "duplicate";
    if (t.committed !== null && offset < t.committed) return "duplicate";
    if (t.inFlight >= this.maxInFlightPerPartition) return "full";
    const e: Entry = { offset, done: false };
    t.entries.push(e);
    t.byOffset.set(offset, e);
    t.highest = offset;
    t.inFlight++;
    this.total++;
    return { partition, offset, epoch: t.epoch };
  }

  /** Offsets up to `offset` that the source skipped (no record): done as soon as everything before them is. */
  skip(partition: string, offset: bigint): void {
    this.assign(partition);
    const t = this.parts.get(partition) as PartitionTrack;
    if (t.highest !== null && offset <= t.highest) return;
    const e: Entry = { offset, done: true };
    t.entries.push(e);
    t.highest = offset;
    t.advance();
  }

  /** Marks a ticket done. False when its partition was revoked (or reassigned) since. */
  complete(ticket: OffsetTicket): boolean {
    const t = this.parts.get(ticket.partition);
    if (!t || t.epoch !== ticket.epoch) return false;
    const e = t.byOffset.get(ticket.offset);
    if (!e || e.done) return false;
    e.done = true;
    t.inFlight--;
    this.total--;
    t.advance();
    return true;
  }

  inFlight(partition: string): number {
    return this.parts.get(partition)?.inFlight ?? 0;
  }

  get totalInFlight(): number {
    return this.total;
  }

  /** Next offsets to commit, for partitions that moved past their last commit. */
  pending(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const [p, t] of this.parts) {
      if (t.releasable !== null && (t.committed === null || t.releasable > t.committed)) out.set(p, t.releasable);
    }
    return out;
  }

  /** Records a successful commit (ignored for a partition no longer owned). */
  markCommitted(partition: string, offset: bigint): void {
    const t = this.parts.get(partition);
    if (t && (t.committed === null || offset > t.committed)) t.committed = offset;
  }

  partitions(): string[] {
    return [...this.parts.keys()];
  }

  snapshot(): PartitionSnapshot[] {
    return [...this.parts.entries()].map(([partition, t]) => ({
      partition,
      epoch: t.epoch,
      inFlight: t.inFlight,
      highest: t.highest?.toString() ?? null,
      releasable: t.releasable?.toString() ?? null,
      committed: t.committed?.toString() ?? null,
    }));
  }
}
