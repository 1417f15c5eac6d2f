/**
 * Seeded synthetic data for the tests, the benchmark and the fraud-scoring example: card
 * transactions whose fraud label follows a known logistic rule of amount, country, hour and
 * merchant words, and dense labelled rows of any width. Not part of the public surface.
 */

/** sfc32 from a 32-bit seed: a small, fast, seeded uniform generator on [0, 1). */
export function uniform(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** A standard normal draw (Box–Muller). */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'NL', 'BR', 'NG', 'RU'];
const RISKY = new Set(['NG', 'RU', 'BR']);
const WORDS = ['market', 'coffee', 'books', 'fuel', 'grocer', 'travel', 'crypto', 'gift', 'cards', 'online'];

/** One card transaction. */
export interface Transaction {
  [field: string]: unknown;
  ts: number;
  card: string;
  amount: number;
  country: string;
  hour: number;
  merchant: string;
  is_fraud: boolean;
}

/**
 * `n` transactions, one every 50–150 ms from 2026-01-01, over 50 cards. Fraud follows a fixed
 * logistic rule (large amounts, risky countries, night hours, "crypto"/"gift" merchants).
 */
export function transactions(seed: number, n: number): Transaction[] {
  const random = uniform(seed);
  let ts = Date.UTC(2026, 0, 1);
  const out: Transaction[] = [];
  for (let i = 0; i < n; i++) {
    ts += 50 + Math.floor(random() * 100);
    const amount = Math.round(Math.exp(3 + 1.2 * gaussian(random)) * 100) / 100;
    const country = COUNTRIES[Math.floor(random() * COUNTRIES.length)];
    const hour = Math.floor(random() * 24);
    const words = [WORDS[Math.floor(random() * WORDS.length)], WORDS[Math.floor(random() * WORDS.length)]];
    const z =
      -4 +
      1.1 * Math.log(amount / 20) +
      (RISKY.has(country) ? 1.5 : 0) +
      (hour < 6 ? 1.2 : 0) +
      (words.includes('crypto') || words.includes('gift') ? 1.3 : 0);
    out.push({
      ts,
      card: `c${Math.floor(random() * 50)}`,
      amount,
      country,
      hour,
      merchant: words.join(' '),
      is_fraud: random() < 1 / (1 + Math.exp(-z)),
    });
  }
  return out;
}

/**
 * `n` rows of `width` standard normal features `f0…` and a 0/1 label `y` drawn from a logistic
 * model with fixed weights: the benchmark's data.
 */
export function denseRows(seed: number, n: number, width: number): { xs: Float64Array[]; ys: number[] } {
  const random = uniform(seed);
  const weights = Array.from({ length: width }, (_, j) => ((j % 3) - 1) * (0.3 + 0.1 * (j % 5)));
  const xs: Float64Array[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = new Float64Array(width);
    let z = 0.2;
    for (let j = 0; j < width; j++) {
      x[j] = gaussian(random);
      z += weights[j] * x[j];
    }
    xs.push(x);
    ys.push(random() < 1 / (1 + Math.exp(-z)) ? 1 : 0);
  }
  return { xs, ys };
}
