/** DIR/report.html of a file run: the run's own figures (summary.json) above the dashboard panels of its metrics. */
import type { PipelineSpec } from '../../../lambda/core/spec';
import type { EmfFeed } from './emf-feed';
import { panelsFor, renderFigures, renderPage, renderPanels } from './page';

export const REPORT_FILE = 'report.html';

export function fileRunReport(o: {
  readonly spec: PipelineSpec;
  readonly feed: EmfFeed;
  readonly summary: Readonly<Record<string, number>>;
  readonly usage: Readonly<Record<string, number>>;
  readonly input: string;
  readonly periodMs?: number;
}): string {
  const figures: Record<string, number> = { ...o.summary };
  for (const k of ['dynamodbWriteUnits', 'dynamodbReadUnits', 'invocations', 'consumerMs'] as const) {
    if (o.usage[k] !== undefined) figures[k] = o.usage[k];
  }
  return renderPage({
    title: 'Feature pipeline run',
    subtitle: `${o.input}: ${o.summary.records ?? 0} records, ${o.spec.features.length} features; panels from the metrics the handlers emitted (EMF), per second of the run.`,
    figures: renderFigures(figures),
    panels: renderPanels(o.feed, panelsFor(o.spec), o.periodMs ?? 1000),
  });
}
