/**
 * The local page of the pipeline: the CloudWatch dashboard's panels of pipeline metrics (one definition,
 * lambda/contract/dashboard-panels.ts) drawn as inline SVG from the EMF documents the handlers printed. One HTML
 * file with no external resource: the live page (server.ts) and the file run's report.html are both this.
 */
import { CONSUMER_PANELS, EVALUATION_PANELS, type PanelDefinition, SCORING_PANELS, seriesLabel } from '../../../lambda/contract/dashboard-panels';
import type { PipelineSpec } from '../../../lambda/core/spec';
import type { EmfFeed, Point } from './emf-feed';

/** The panels a pipeline of this spec shows (scoring and evaluation ones only with their sections). */
export function panelsFor(spec: PipelineSpec): PanelDefinition[] {
  return [
    ...Object.values(CONSUMER_PANELS),
    ...(spec.scoring === undefined ? [] : Object.values(SCORING_PANELS)),
    ...(spec.evaluation === undefined ? [] : Object.values(EVALUATION_PANELS)),
  ];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const W = 360;
const H = 140;
/** Left margin: room for the axis' figures ("12,345"). */
const L = 46;

export const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A number as the page shows it: integers with separators, others to 3 significant digits. */
export function formatValue(v: number | undefined): string {
  if (v === undefined) return '–';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Number(v.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

/** An axis figure, short enough for the chart's margin: 972k, 2.97M. */
function axisValue(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${Number((v / 1e9).toPrecision(3))}G`;
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return formatValue(v);
}

function chart(series: ReadonlyArray<{ label: string; points: readonly Point[] }>): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<svg class="chart empty" width="${W}" height="${H}" role="img" aria-label="no data yet"><text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data yet</text></svg>`;
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(...all.map((p) => p.t));
  const vMax = Math.max(0, ...all.map((p) => p.v));
  const vMin = Math.min(0, ...all.map((p) => p.v));
  const x = (t: number): number => (t1 === t0 ? W / 2 : L + ((t - t0) / (t1 - t0)) * (W - L - 10));
  const y = (v: number): number => (vMax === vMin ? H - 20 : H - 20 - ((v - vMin) / (vMax - vMin)) * (H - 35));
  const shapes = series.map((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
    const dots = s.points.length <= 30 ? s.points.map((p) => `<circle cx="${x(p.t).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="2.5" fill="${color}"/>`).join('') : '';
    return `<g class="series" data-series="${escapeHtml(s.label)}" data-points="${s.points.length}"><polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.join(' ')}"/>${dots}</g>`;
  });
  return (
    `<svg class="chart" width="${W}" height="${H}" role="img">` +
    `<line x1="${L}" y1="${H - 20}" x2="${W - 10}" y2="${H - 20}" stroke="#999"/><line x1="${L}" y1="10" x2="${L}" y2="${H - 20}" stroke="#999"/>` +
    `<text x="${L - 4}" y="16" text-anchor="end" class="axis">${axisValue(vMax)}</text><text x="${L - 4}" y="${H - 20}" text-anchor="end" class="axis">${axisValue(vMin)}</text>` +
    shapes.join('') +
    `</svg>`
  );
}

/** The panels, each a chart of its series per period and a legend with each series' statistic over the whole run. */
export function renderPanels(feed: EmfFeed, panels: readonly PanelDefinition[], periodMs: number): string {
  return panels
    .map((def) => {
      const all = [...def.left, ...(def.right ?? [])];
      const series = all.map((s) => ({ label: seriesLabel(s), points: feed.series(s, periodMs) }));
      const legend = all
        .map((s, i) => `<li data-series="${escapeHtml(seriesLabel(s))}"><span class="swatch" style="background:${COLORS[i % COLORS.length]}"></span>${escapeHtml(seriesLabel(s))}: <b class="total">${formatValue(feed.total(s.metric, s.stat))}</b></li>`)
        .join('');
      return `<section class="panel" data-panel="${def.id}"><h3>${escapeHtml(def.title)}</h3>${chart(series)}<ul class="legend">${legend}</ul></section>`;
    })
    .join('\n');
}

/** A table of named figures (`data-figure` carries the name, for tests and scripts). */
export function renderFigures(figures: Readonly<Record<string, number | string>>): string {
  const rows = Object.entries(figures).map(([k, v]) => `<tr data-figure="${escapeHtml(k)}"><th>${escapeHtml(k)}</th><td>${typeof v === 'number' ? formatValue(v) : escapeHtml(v)}</td></tr>`);
  return `<table class="figures">${rows.join('')}</table>`;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:16px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:20px}
.panels{display:flex;flex-wrap:wrap;gap:12px}.panel{border:1px solid #ddd;border-radius:6px;padding:8px;width:${W + 16}px}
.panel h3{font-size:13px;margin:0 0 6px}.legend{list-style:none;padding:0;margin:6px 0 0;font-size:12px}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
.axis{font-size:10px;fill:#666}.figures th{text-align:left;padding-right:16px;font-weight:normal}.figures td{text-align:right;font-variant-numeric:tabular-nums}
table.shards td,table.shards th{padding:2px 10px;text-align:right}#lookup-result{white-space:pre-wrap;background:#f6f6f6;padding:8px;font-size:11px;max-height:240px;overflow:auto}
table.lookup td,table.lookup th{padding:2px 10px;text-align:left}table.lookup td.value{text-align:right;font-variant-numeric:tabular-nums}`;

export interface PageParts {
  readonly title: string;
  readonly subtitle: string;
  readonly panels: string;
  readonly figures?: string;
  /** Extra sections (the live page's shards and lookup box). */
  readonly extra?: string;
  readonly script?: string;
}

export function renderPage(p: PageParts): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(p.title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(p.title)}</h1><p class="subtitle">${escapeHtml(p.subtitle)}</p>
${p.figures === undefined ? '' : `<h2>Figures of the run</h2>${p.figures}`}
${p.extra ?? ''}
<h2>Dashboard panels</h2><div id="panels" class="panels">${p.panels}</div>
${p.script === undefined ? '' : `<script>${p.script}</script>`}
</body></html>
`;
}
