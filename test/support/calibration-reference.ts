/**
 * The estimate before labels from raw pairs, written from the definitions: the labelled (score, label) pairs of
 * earlier windows give, per score (rounded down to 0.01), the isotonic fit by its min–max formula (the value at x
 * is the largest over blocks starting at or below x of the smallest mean label over blocks ending at or above x);
 * a score between labelled ones takes the nearest labelled one below (above the lowest). The later window's raw
 * scores then give the expected true positives, positive labels and ROC AUC by summing over its predictions and
 * over every pair of them.
 */
export interface Pair {
  score: number;
  label: boolean;
}

const q = (s: number): number => Math.min(99, Math.floor(s * 100));

/** The isotonic fit at each labelled score (rounded), by the min–max formula; other scores take the nearest labelled one below (above the lowest). */
function referenceMap(pairs: readonly Pair[]): ((score: number) => number) | null {
  const xs = [...new Set(pairs.map((p) => q(p.score)))].sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mean = (lo: number, hi: number): number => {
    const inside = pairs.filter((p) => q(p.score) >= lo && q(p.score) <= hi);
    return inside.filter((p) => p.label).length / inside.length;
  };
  const fit = new Map<number, number>();
  for (const x of xs) {
    let best = -Infinity;
    for (const lo of xs.filter((v) => v <= x)) {
      let worst = Infinity;
      for (const hi of xs.filter((v) => v >= x)) worst = Math.min(worst, mean(lo, hi));
      best = Math.max(best, worst);
    }
    fit.set(x, best);
  }
  return (score) => {
    const below = xs.filter((v) => v <= q(score));
    return fit.get(below.length > 0 ? below[below.length - 1]! : xs[0]!)!;
  };
}

export function referenceEstimate(labelled: readonly Pair[], scores: readonly number[], threshold: number): { precision: number | null; recall: number | null; rocAuc: number | null } | null {
  const map = referenceMap(labelled);
  if (map === null) return null;
  const p = scores.map(map);
  const flagged = scores.map((s) => s >= threshold);
  const tp = p.reduce((s, v, i) => s + (flagged[i] ? v : 0), 0);
  const positives = flagged.filter(Boolean).length;
  const all = p.reduce((s, v) => s + v, 0);
  const negatives = p.reduce((s, v) => s + (1 - v), 0);
  let wins = 0;
  for (let a = 0; a < scores.length; a++) {
    for (let b = 0; b < scores.length; b++) {
      const order = q(scores[a]!) > q(scores[b]!) ? 1 : q(scores[a]!) === q(scores[b]!) ? 0.5 : 0;
      wins += p[a]! * (1 - p[b]!) * order;
    }
  }
  return { precision: positives === 0 ? null : tp / positives, recall: all === 0 ? null : tp / all, rocAuc: all === 0 || negatives === 0 ? null : wins / (all * negatives) };
}

