/**
 * The cost/freshness curve as an SVG line plot, written by hand (no plotting dependency): cost per million events
 * (provisioned stream) against freshness, both on log scales, one line per event rate with its batching windows
 * marked, and Managed Service for Apache Flink's smallest application at the same rate as a dashed line.
 */
import type { CurvePoint } from './curve';

const W = 820;
const H = 460;
const M = { left: 72, right: 230, top: 48, bottom: 56 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1).replace(/\.0$/, '') : String(Number(n.toPrecision(2))));
const money = (n: number): string => `$${fmt(n)}`;

/** 1, 2 and 5 times each power of ten within [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

export interface PlotOptions {
  readonly title: string;
  readonly note: string;
}

export function curveSvg(points: readonly CurvePoint[], o: PlotOptions): string {
  const rates = [...new Set(points.map((p) => p.rate))];
  const xs = points.map((p) => p.freshnessS);
  const ys = [...points.map((p) => p.cost.totalProvisioned), ...points.map((p) => p.flinkPerMillion)];
  const x0 = 10 ** Math.floor(Math.log10(Math.min(...xs)));
  const x1 = 10 ** Math.ceil(Math.log10(Math.max(...xs)));
  const y0 = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const y1 = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const X = (v: number) => M.left + ((Math.log10(v) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * pw;
  const Y = (v: number) => M.top + ph - ((Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * ph;
  const r = (n: number) => n.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="14" font-weight="bold">${esc(o.title)}</text>`);
  out.push(`<text x="${M.left}" y="38" fill="#555555">${esc(o.note)}</text>`);
  for (const t of ticks(x0, x1)) {
    out.push(`<line x1="${r(X(t))}" y1="${M.top}" x2="${r(X(t))}" y2="${M.top + ph}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${r(X(t))}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    out.push(`<line x1="${M.left}" y1="${r(Y(t))}" x2="${M.left + pw}" y2="${r(Y(t))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${M.left - 6}" y="${r(Y(t) + 4)}" text-anchor="end">${money(t)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">freshness: batching wait + processing per batch (s, log scale)</text>`);
  out.push(`<text x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">cost per million events (USD, log scale)</text>`);
  rates.forEach((rate, i) => {
    const color = COLORS[i % COLORS.length]!;
    const line = points.filter((p) => p.rate === rate).sort((a, b) => a.freshnessS - b.freshnessS);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${line.map((p) => `${r(X(p.freshnessS))},${r(Y(p.cost.totalProvisioned))}`).join(' ')}"/>`);
    // Windows that give the same batch (0 and 1 s: Lambda polls once a second) share one point and one label.
    const marks = new Map<string, { p: CurvePoint; windows: number[] }>();
    for (const p of line) {
      const at = `${r(X(p.freshnessS))},${r(Y(p.cost.totalProvisioned))}`;
      const m = marks.get(at);
      if (m) m.windows.push(p.windowS);
      else marks.set(at, { p, windows: [p.windowS] });
    }
    for (const { p, windows } of marks.values()) {
      out.push(`<circle cx="${r(X(p.freshnessS))}" cy="${r(Y(p.cost.totalProvisioned))}" r="3.5" fill="${color}"/>`);
      out.push(`<text x="${r(X(p.freshnessS) + 5)}" y="${r(Y(p.cost.totalProvisioned) - 6)}" font-size="10" fill="${color}">${windows.join(', ')} s</text>`);
    }
    const flink = line[0]!.flinkPerMillion;
    out.push(`<line x1="${M.left}" y1="${r(Y(flink))}" x2="${M.left + pw}" y2="${r(Y(flink))}" stroke="${color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    const ly = M.top + 14 + i * 40;
    out.push(`<line x1="${M.left + pw + 12}" y1="${ly}" x2="${M.left + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${M.left + pw + 42}" y="${ly + 4}">${rate} events/s, Lambda</text>`);
    out.push(`<line x1="${M.left + pw + 12}" y1="${ly + 18}" x2="${M.left + pw + 36}" y2="${ly + 18}" stroke="${color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${M.left + pw + 42}" y="${ly + 22}">${rate} events/s, Flink 1 KPU</text>`);
  });
  out.push(`<text x="${M.left + pw + 12}" y="${M.top + 14 + rates.length * 40 + 6}" font-size="10" fill="#555555">labels: batching window</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
