/**
 * Seeded random streams.
 *
 * Node cores never call `Math.random`: each node, and each direction of each wire, draws from its
 * own stream derived from the run seed and a label, so adding a node or a wire never shifts the
 * numbers another one sees. The generator is sfc32 (small, fast, good statistical quality), seeded
 * through a 128-bit string hash so that nearby seeds give unrelated streams.
 */
export class RandomStream {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * @example
   * const r = new RandomStream(7, 'node', 'dpu-01a');
   * r.next(); // the same number for seed 7 and that label, in every process
   */
  constructor(seed: number, ...labels: string[]) {
    const [h1, h2, h3, h4] = hash128(`${seed}\u0000${labels.join('\u0000')}`);
    this.a = h1;
    this.b = h2;
    this.c = h3;
    this.d = h4;
    // Discard the first outputs: sfc32's first few draws still echo the seed.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }
}

/** cyrb128: a fast 128-bit non-cryptographic string hash, used only to seed streams. */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
