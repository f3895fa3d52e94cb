/**
 * Seeded pseudo-random numbers, so an attribution is reproducible from its seed.
 * sfc32 (Chris Doty-Humphrey's small fast counter): 128-bit state, passes PractRand, and
 * is cheap in JS because it stays in 32-bit integer arithmetic.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** A new generator whose stream is independent of this one's (keyed by `label`). */
  fork(label: string): Rng;
}

/** FNV-1a over the string's UTF-16 code units: a stable 32-bit hash for seeding. */
export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

class Sfc32 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    // Discard the first outputs: a fresh state is poorly mixed.
    for (let i = 0; i < 12; i++) this.u32();
  }

  private u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.u32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  fork(label: string): Rng {
    const s = this.u32();
    return new Sfc32(hash32(label, s), s, hash32(label, 0x9e3779b9 ^ s), 0xdeadbeef ^ s);
  }
}

/** A generator seeded from an integer and an optional label (e.g. the record id). */
export function createRng(seed: number, label = ""): Rng {
  const s = seed >>> 0;
  return new Sfc32(hash32(label, s ^ 0x9e3779b9), s, hash32(label, 0x85ebca6b), (s * 0x27d4eb2d) >>> 0);
}
