/** A tiny seeded PRNG (sfc32) and 32-bit hashing: demo data is a pure function of its seed. */

/** Returns uniform numbers in [0, 1). */
export type Rng = () => number;

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Murmur3-style hash of a list of integers (each may use up to 53 bits); unsigned 32-bit result. */
export function hash32(...parts: number[]): number {
  let h = 0x2545f491 ^ parts.length;
  for (const p of parts) {
    // Both halves, so large values (microsecond timestamps) hash fully.
    h = mix(h, p | 0);
    h = mix(h, Math.floor(p / 4294967296) | 0);
  }
  return fmix(h);
}

/** An sfc32 generator seeded from the hash of `parts` (e.g. seed, day, user, stream id). */
export function rngFrom(...parts: number[]): Rng {
  let a = hash32(...parts, 0x51ed);
  let b = hash32(...parts, 0x2b7e);
  let c = hash32(...parts, 0x9e37);
  let d = 1;
  const next: Rng = () => {
    const t0 = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t0) | 0;
    return (t0 >>> 0) / 4294967296;
  };
  // sfc32 wants a few rounds before its output is well mixed.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** A standard normal deviate (Box-Muller). */
export function gauss(rng: Rng): number {
  const u1 = 1 - rng();
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
