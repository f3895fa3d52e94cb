/**
 * Features: what one ReAGent score (one probe coordinate) stands for. At token level a feature
 * is one position, exactly as published; at unit level it is a group of positions (a sentence,
 * a chat message, a retrieved document) replaced as a whole. The joint loop, leave-one-out and
 * the ContextCite-style baseline work on feature slots and use a layout to turn slot masks into
 * position masks and slot scores into per-token scores, so the token level is the special case
 * of one token per slot and keeps its exact random streams.
 *
 * Slots are global and ordered so that every target's context is a prefix of them: at token
 * level target t sees slots [0, P+t); at unit level every target sees every prompt unit.
 */
import type { TargetsInput } from "./targets.js";

export interface FeatureLayout {
  readonly kind: "token" | "unit";
  /** Slots that exist for the longest context. */
  readonly slots: number;
  /** Per slot: whether a sampler may replace it. */
  readonly replaceable: readonly boolean[];
  /** Slots in the context of the target at `position` (a prefix of all slots). */
  slotsBefore(position: number): number;
  /** A position mask of `length` with every position of every masked slot set. */
  expand(slotMask: readonly boolean[], length: number): boolean[];
  /** Per-position scores of a context of `length` from per-slot scores: a unit's score is shared evenly by its positions. */
  spread(slotScores: ArrayLike<number>, length: number): Float64Array;
  /** Positions of a slot. */
  positionsOf(slot: number): readonly number[];
}

/** One slot per position of prompt ++ completion (but the last): ReAGent as published. */
export function tokenLayout(input: TargetsInput): FeatureLayout {
  const slots = input.ids.length - 1;
  const replaceable = input.replaceable.slice(0, slots);
  return {
    kind: "token",
    slots,
    replaceable,
    slotsBefore: (position) => position,
    expand: (mask, length) => Array.from({ length }, (_, i) => mask[i] ?? false),
    spread: (scores, length) => Float64Array.from({ length }, (_, i) => scores[i] ?? 0),
    positionsOf: (slot) => [slot],
  };
}

/**
 * One slot per unit (replaceable prompt positions grouped by sentence, message, segment, …).
 * Completion tokens are not features: each target is explained by the prompt alone.
 */
export function unitLayout(units: readonly (readonly number[])[]): FeatureLayout {
  const owner = new Map<number, number>();
  units.forEach((u, k) => {
    for (const p of u) owner.set(p, k);
  });
  return {
    kind: "unit",
    slots: units.length,
    replaceable: units.map((u) => u.length > 0),
    slotsBefore: () => units.length,
    expand: (mask, length) => {
      const out = new Array<boolean>(length).fill(false);
      units.forEach((u, k) => {
        if (!mask[k]) return;
        for (const p of u) if (p < length) out[p] = true;
      });
      return out;
    },
    spread: (scores, length) => {
      const out = new Float64Array(length);
      units.forEach((u, k) => {
        const inside = u.filter((p) => p < length);
        for (const p of inside) out[p] = (scores[k] ?? 0) / inside.length;
      });
      return out;
    },
    positionsOf: (slot) => units[slot] ?? [],
  };
}

/** The layout a method runs on: the input's units when it has them, else tokens. */
export function layoutFor(input: TargetsInput): FeatureLayout {
  return input.units === undefined ? tokenLayout(input) : unitLayout(input.units);
}
