/** The features CLI's readable output: per key, its state's write time and watermark, then a row per feature. */
import type { KeyFeatures } from '../../lambda/core/feature-request';

const iso = (t: number | null): string => (t === null ? '-' : new Date(t).toISOString());

/** One block per key: its state's write time and watermark, then a row per feature. */
export function featureTable(rows: readonly KeyFeatures[], at: number): string {
  const out: string[] = [`as of ${iso(at)}`];
  for (const r of rows) {
    out.push('', r.found ? `${r.key}  (state written ${iso(r.writtenAt)}, shard watermark ${iso(r.watermark)})` : `${r.key}  (no state stored: every feature reads empty)`);
    const cells = Object.values(r.features).map((f) => [
      f.feature,
      f.value === null ? 'null' : String(f.value),
      String(f.count),
      f.windowStart === null && f.windowEnd === null ? '-' : `${iso(f.windowStart)} – ${iso(f.windowEnd)}`,
      iso(f.newestEventTime),
      f.status,
    ]);
    const header = ['feature', 'value', 'count', 'window', 'newest event', 'status'];
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
    for (const line of [header, ...cells]) out.push(`  ${line.map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`);
  }
  return `${out.join('\n')}\n`;
}

