/**
 * The CloudWatch dashboard's panels of pipeline metrics come from the shared definition (the local page draws the
 * same), and every threshold line on the dashboard is the threshold of the alarm it stands for.
 */
import { Duration } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSUMER_PANELS, EVALUATION_PANELS, type PanelDefinition, SCORING_PANELS, seriesLabel } from '../../lambda/contract/dashboard-panels';
import { type AlarmKey, alarmThreshold } from '../../lib/monitoring';
import { type Built, buildPipeline, flattenCfnString } from './fixtures';

type Widget = { type: string; properties: { title?: string; metrics?: unknown[][]; annotations?: { horizontal?: Array<{ value: number; label: string }> } } };
let built: Built;
let widgets: Widget[];

beforeAll(() => {
  // Thresholds away from their defaults: a line restated apart from its alarm would keep the default.
  built = buildPipeline({ monitoring: { freshnessSlo: Duration.seconds(7), watermarkLagThreshold: Duration.minutes(9), iteratorAgeThreshold: Duration.seconds(45), servingLatencyP99Threshold: Duration.millis(800) } });
  const body = Object.values(built.template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties?.DashboardBody;
  widgets = (JSON.parse(flattenCfnString(body)) as { widgets: Widget[] }).widgets;
});

const widget = (title: string): Widget => {
  const w = widgets.find((x) => x.properties.title === title);
  expect(w, title).toBeDefined();
  return w!;
};
const lines = (title: string) => (widget(title).properties.annotations?.horizontal ?? []).map((h) => [h.label, h.value]);
const threshold = (key: AlarmKey): number => alarmThreshold(built.stack.monitoring.alarms[key]!);

describe('dashboard panels from one definition', () => {
  const all: PanelDefinition[] = [...Object.values(CONSUMER_PANELS), ...Object.values(SCORING_PANELS), ...Object.values(EVALUATION_PANELS)];
  it.each(all)('$title: the definition\'s series, in order', (def) => {
    const labels = (widget(def.title).properties.metrics ?? []).map((row) => (row[row.length - 1] as { label?: string }).label);
    for (const s of [...def.left, ...(def.right ?? [])]) expect(labels).toContain(seriesLabel(s));
  });

  it('draws each threshold line at its alarm\'s own threshold', () => {
    expect(lines('Feature freshness (ms)')).toEqual([['SLO', 7000]]);
    expect(threshold('FeatureFreshness')).toBe(7000);
    expect(lines('Watermark lag (ms)')).toEqual([['alarm', threshold('WatermarkLag')]]);
    expect(threshold('WatermarkLag')).toBe(540_000);
    expect(lines('Iterator age (ms)')).toEqual([['alarm', 45_000]]);
    expect(lines('Features endpoint latency (ms)')).toEqual([['p99 alarm', 800]]);
    expect(lines('Oldest queued message (s)')).toEqual([['dead-letter alarm', threshold('DeadLetterQueueAge')]]);
    expect(lines('Precision and recall of final windows')).toEqual([
      ['min precision', threshold('EvaluationPrecision')],
      ['min recall', threshold('EvaluationRecall')],
    ]);
    expect(lines('Score drift (PSI) and positive rate of closed windows')).toEqual([
      ['max PSI', threshold('EvaluationPsi')],
      ['max feature PSI', threshold('EvaluationFeaturePsi')],
    ]);
    expect(lines('Share of predictions reading a feature with no value (largest over features)')).toEqual([['max share without a value', threshold('EvaluationFeatureEmptyShare')]]);
    // No estimate alarm without its threshold in the spec, so no line either.
    expect(lines('Threshold-free measures of final windows')).toEqual([]);
  });
});
