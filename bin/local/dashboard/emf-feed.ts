/**
 * The metrics the handlers emit, kept locally: each EMF document (CloudWatch embedded metric format, what
 * Powertools Metrics prints on Lambda) is read as CloudWatch reads it, its values bucketed by time, so the local
 * page computes each panel's statistics (Sum, Maximum, p50, p99, ...) from the very figures CloudWatch would get.
 */
import type { MetricName } from '../../../lambda/contract/metric-names';
import type { PanelSeries, PanelStat } from '../../../lambda/contract/dashboard-panels';

/** An EMF document: `_aws.CloudWatchMetrics[].Metrics[].Name`, each value (a number or up to 100) at the top level. */
export interface EmfDocument {
  readonly _aws: { readonly Timestamp: number; readonly CloudWatchMetrics: ReadonlyArray<{ readonly Metrics: ReadonlyArray<{ readonly Name: string }> }> };
  readonly [field: string]: unknown;
}

export interface Point {
  readonly t: number;
  readonly v: number;
}

export class EmfFeed {
  private readonly values = new Map<string, Array<{ t: number; v: number }>>();
  public documents = 0;

  /** Takes one document; anything that is not EMF is ignored (a log line, say). */
  public add(doc: unknown): void {
    if (doc === null || typeof doc !== 'object') return;
    const aws = (doc as Partial<EmfDocument>)._aws;
    if (aws === undefined || !Array.isArray(aws.CloudWatchMetrics)) return;
    const t = typeof aws.Timestamp === 'number' ? aws.Timestamp : Date.now();
    this.documents += 1;
    for (const directive of aws.CloudWatchMetrics) {
      for (const { Name } of directive.Metrics) {
        const raw = (doc as Record<string, unknown>)[Name];
        const list = Array.isArray(raw) ? raw : [raw];
        const into = this.values.get(Name) ?? this.values.set(Name, []).get(Name)!;
        for (const v of list) if (typeof v === 'number' && Number.isFinite(v)) into.push({ t, v });
      }
    }
  }

  /** Every value of a metric, in arrival order. */
  public all(metric: MetricName): readonly number[] {
    return (this.values.get(metric) ?? []).map((p) => p.v);
  }

  /** The statistic over every value (a Sum of nothing is 0; any other statistic of nothing is undefined). */
  public total(metric: MetricName, stat: PanelStat): number | undefined {
    return statistic(this.all(metric), stat);
  }

  /** One point per `periodMs` bucket that has values (aligned to the epoch), the series' statistic of them. */
  public series(s: PanelSeries, periodMs: number): Point[] {
    const buckets = new Map<number, number[]>();
    for (const p of this.values.get(s.metric) ?? []) {
      const b = Math.floor(p.t / periodMs) * periodMs;
      (buckets.get(b) ?? buckets.set(b, []).get(b)!).push(p.v);
    }
    return [...buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([t, vs]) => ({ t, v: statistic(vs, s.stat)! }));
  }
}

/** CloudWatch's statistics of a set of values; percentiles by nearest rank. */
export function statistic(values: readonly number[], stat: PanelStat): number | undefined {
  if (stat === 'Sum') return values.reduce((a, b) => a + b, 0);
  if (values.length === 0) return undefined;
  switch (stat) {
    case 'Maximum':
      return Math.max(...values);
    case 'Minimum':
      return Math.min(...values);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    default: {
      const q = stat === 'p50' ? 0.5 : 0.99;
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
    }
  }
}
