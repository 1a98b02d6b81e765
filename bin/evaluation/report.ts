/**
 * The evaluation report: one self-contained HTML page (inline SVG and CSS, no script, nothing loaded from elsewhere)
 * from a file run's DIR/evaluation.jsonl: precision and recall over the windows with their 95% Wilson intervals,
 * ROC AUC and PR AUC, the calibration curve of every final window's scores together, estimated against realized
 * precision and recall, and PSI per feature; then a table of every figure per window.
 */
import { CliFileError } from '../cli/files';
import { readLines } from '../cli/lines';
import type { EvaluationLine } from '../sandbox/file-evaluation';

const W = 760;
const H = 300;
const M = { left: 56, right: 190, top: 36, bottom: 48 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const clock = (t: number): string => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

export interface Series {
  readonly name: string;
  /** One value per x position; null leaves a gap. */
  readonly values: ReadonlyArray<number | null>;
  /** Interval per x position (drawn as a bar), or null. */
  readonly bands?: ReadonlyArray<{ readonly lower: number; readonly upper: number } | null>;
  readonly dashed?: boolean;
}

/** A line chart over categorical x positions, y from 0 to `yMax` (at least the largest value). */
export function lineChart(o: { readonly id: string; readonly title: string; readonly xLabels: readonly string[]; readonly series: readonly Series[]; readonly yMax?: number }): string {
  const n = o.xLabels.length;
  const all = o.series.flatMap((s) => [...s.values, ...(s.bands ?? []).map((b) => b?.upper ?? null)]).filter((v): v is number => v !== null && Number.isFinite(v));
  const yMax = Math.max(o.yMax ?? 0, ...all, 1e-9);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (i: number): number => M.left + (n <= 1 ? pw / 2 : (i * pw) / (n - 1));
  const y = (v: number): number => M.top + ph - (v / yMax) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${M.left}" y="22" class="title">${esc(o.title)}</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" class="tick" text-anchor="end">${num(v, 2)}</text>`);
  }
  const every = Math.max(1, Math.ceil(n / 8));
  o.xLabels.forEach((l, i) => {
    if (i % every === 0) parts.push(`<text x="${x(i).toFixed(1)}" y="${H - M.bottom + 18}" class="tick" text-anchor="middle">${esc(l)}</text>`);
  });
  o.series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length]!;
    (s.bands ?? []).forEach((b, i) => {
      if (b !== null) parts.push(`<line x1="${x(i).toFixed(1)}" x2="${x(i).toFixed(1)}" y1="${y(b.lower).toFixed(1)}" y2="${y(b.upper).toFixed(1)}" stroke="${color}" stroke-opacity="0.45" stroke-width="6" class="band" data-series="${esc(s.name)}"/>`);
    });
    // A gap (null) breaks the line into runs of consecutive values.
    let run: string[] = [];
    const flush = (): void => {
      if (run.length > 0) parts.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} data-series="${esc(s.name)}"/>`);
      run = [];
    };
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return flush();
      run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}" class="point" data-series="${esc(s.name)}"><title>${esc(`${s.name} ${o.xLabels[i]}: ${num(v)}`)}</title></circle>`);
    });
    flush();
    parts.push(`<line x1="${W - M.right + 16}" x2="${W - M.right + 36}" y1="${M.top + 8 + si * 18}" y2="${M.top + 8 + si * 18}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${W - M.right + 42}" y="${M.top + 12 + si * 18}" class="legend">${esc(s.name)}</text>`);
  });
  return `<svg id="${esc(o.id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">${parts.join('')}</svg>`;
}

/** Every final window's reliability bins together: count-weighted mean score and positive share per bin. */
export function mergedReliability(lines: readonly EvaluationLine[]): Array<{ lower: number; upper: number; count: number; meanScore: number | null; positiveRate: number | null }> {
  const acc = Array.from({ length: 10 }, (_, r) => ({ lower: r / 10, upper: (r + 1) / 10, count: 0, score: 0, positives: 0 }));
  for (const l of lines) {
    for (const [r, b] of (l.final?.thresholdFree.reliability ?? []).entries()) {
      if (b.count === 0 || b.meanScore === null || b.positiveRate === null) continue;
      acc[r]!.count += b.count;
      acc[r]!.score += b.count * b.meanScore;
      acc[r]!.positives += b.count * b.positiveRate;
    }
  }
  return acc.map((a) => ({ lower: a.lower, upper: a.upper, count: a.count, meanScore: a.count === 0 ? null : a.score / a.count, positiveRate: a.count === 0 ? null : a.positives / a.count }));
}

function calibrationChart(lines: readonly EvaluationLine[]): string {
  const bins = mergedReliability(lines);
  const s = 300;
  const m = 44;
  const p = (v: number): number => m + v * (s - 2 * m);
  const q = (v: number): number => s - m - v * (s - 2 * m);
  const dots = bins
    .filter((b) => b.meanScore !== null)
    .map((b) => `<circle cx="${p(b.meanScore!).toFixed(1)}" cy="${q(b.positiveRate!).toFixed(1)}" r="${(2 + Math.sqrt(b.count)).toFixed(1)}" fill="#1f77b4" fill-opacity="0.6" class="point" data-series="calibration"><title>${esc(`scores ${b.lower.toFixed(1)}–${b.upper.toFixed(1)}: ${b.count} predictions, mean score ${num(b.meanScore)}, positive ${num(b.positiveRate)}`)}</title></circle>`);
  return `<svg id="calibration" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${s} ${s}" width="${s}" height="${s}" role="img" aria-label="Calibration curve"><text x="${m}" y="22" class="title">Calibration, every final window</text><rect x="${m}" y="${m}" width="${s - 2 * m}" height="${s - 2 * m}" fill="none" class="grid"/><line x1="${p(0)}" y1="${q(0)}" x2="${p(1)}" y2="${q(1)}" class="diagonal"/>${dots.join('')}<text x="${s / 2}" y="${s - 10}" class="tick" text-anchor="middle">mean score</text><text x="12" y="${s / 2}" class="tick" transform="rotate(-90 12 ${s / 2})" text-anchor="middle">positive share</text></svg>`;
}

export interface ReportOptions {
  readonly source: string;
}

export function evaluationReport(lines: readonly EvaluationLine[], o: ReportOptions): string {
  const labels = lines.map((l) => clock(l.windowStart).slice(5));
  const finals = lines.map((l) => l.final);
  const features = [...new Set(lines.flatMap((l) => Object.keys(l.featurePsi ?? {})))].sort();
  const charts = [
    lineChart({
      id: 'precision-recall',
      title: 'Precision and recall of final windows, 95% Wilson intervals',
      xLabels: labels,
      yMax: 1,
      series: [
        { name: 'precision', values: finals.map((f) => f?.precision ?? null), bands: finals.map((f) => f?.precisionInterval ?? null) },
        { name: 'recall', values: finals.map((f) => f?.recall ?? null), bands: finals.map((f) => f?.recallInterval ?? null) },
      ],
    }),
    lineChart({
      id: 'auc',
      title: 'ROC AUC and PR AUC of final windows',
      xLabels: labels,
      yMax: 1,
      series: [
        { name: 'ROC AUC', values: finals.map((f) => f?.thresholdFree.rocAuc ?? null) },
        { name: 'PR AUC', values: finals.map((f) => f?.thresholdFree.prAuc ?? null) },
      ],
    }),
    calibrationChart(lines),
    lineChart({
      id: 'estimated',
      title: 'Estimated before labels (dashed) against realized',
      xLabels: labels,
      yMax: 1,
      series: [
        { name: 'precision', values: finals.map((f) => f?.precision ?? null) },
        { name: 'recall', values: finals.map((f) => f?.recall ?? null) },
        { name: 'estimated precision', values: lines.map((l) => l.estimatedPrecision), dashed: true },
        { name: 'estimated recall', values: lines.map((l) => l.estimatedRecall), dashed: true },
      ],
    }),
    lineChart({
      id: 'feature-psi',
      title: 'PSI per feature against the reference window (and of the scores)',
      xLabels: labels,
      yMax: 0.25,
      series: [{ name: 'scores', values: lines.map((l) => l.psi), dashed: true }, ...features.map((f) => ({ name: f, values: lines.map((l) => l.featurePsi?.[f] ?? null) }))],
    }),
  ];
  const head = ['window', 'predictions', 'positive rate', 'precision', '95% interval', 'recall', '95% interval', 'ROC AUC', 'PR AUC', 'log loss', 'Brier', 'ECE', 'est. precision', 'est. recall', 'PSI'];
  const interval = (i: { lower: number; upper: number } | null | undefined): string => (i ? `${num(i.lower)}–${num(i.upper)}` : '—');
  const rows = lines.map((l) => {
    const f = l.final;
    const t = f?.thresholdFree;
    return [clock(l.windowStart), String(l.predictions), num(l.positiveRate), num(f?.precision), interval(f?.precisionInterval), num(f?.recall), interval(f?.recallInterval), num(t?.rocAuc), num(t?.prAuc), num(t?.logLoss), num(t?.brier), num(t?.expectedCalibrationError), num(l.estimatedPrecision), num(l.estimatedRecall), num(l.psi)];
  });
  const table = `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const style =
    'body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}.charts{display:flex;flex-wrap:wrap;gap:16px}svg{background:#fff;border:1px solid #ddd}.title{font-weight:600;font-size:13px}.tick,.legend{font-size:11px;fill:#444}.grid{stroke:#e6e6e6;stroke-width:1}.diagonal{stroke:#999;stroke-dasharray:4 4}table{border-collapse:collapse;margin-top:20px;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Evaluation report</title><style>${style}</style></head><body><h1>Evaluation report</h1><p>${lines.length} evaluation windows from ${esc(o.source)}; ${finals.filter((f) => f !== undefined).length} final (with labels). — where a figure is not defined (no positive prediction, no positive label, or no label yet).</p><div class="charts">${charts.join('')}</div>${table}</body></html>\n`;
}

/** The lines of an evaluation.jsonl, each refused with its number when it is not an evaluation window. */
export async function readEvaluationLines(path: string): Promise<EvaluationLine[]> {
  const out: EvaluationLine[] = [];
  let n = 0;
  for await (const text of readLines(path)) {
    n++;
    if (text.trim() === '') continue;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new CliFileError(`--evaluation ${path} line ${n}: not JSON (${(e as Error).message})`);
    }
    const o = doc as Partial<EvaluationLine> | null;
    if (o === null || typeof o !== 'object' || typeof o.windowStart !== 'number' || typeof o.predictions !== 'number') {
      throw new CliFileError(`--evaluation ${path} line ${n}: not an evaluation window (needs "windowStart" and "predictions"; a file run with a scoring and an evaluation section writes DIR/evaluation.jsonl)`);
    }
    out.push(o as EvaluationLine);
  }
  return out.sort((a, b) => a.windowStart - b.windowStart);
}
