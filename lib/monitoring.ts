import { Aws, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { CONSUMER_PANELS, EVALUATION_PANELS, type PanelDefinition, type PanelSeries, type PanelStat, type PanelThreshold, SCORING_PANELS, seriesLabel } from '../lambda/contract/dashboard-panels';
import { LABELS_BATCH_METRICS, MetricName } from '../lambda/contract/metric-names';
import { EVALUATION_DEFAULTS, type EvaluationSpec } from '../lambda/core/spec';
import { PipelinePropsError, checkDuration, checkPositive } from './errors';
import { PipelineMetricFactory, type PipelineMetricSources } from './metric-factory';

/** Alarm thresholds and notification settings. */
export interface MonitoringOptions {
  /**
   * Consumer lag: alarm when the Lambda IteratorAge maximum stays above this for three one-minute periods. Applies
   * to the labels consumer too.
   * @default Duration.seconds(60)
   */
  readonly iteratorAgeThreshold?: Duration;
  /**
   * Freshness SLO: alarm when the p99 of FeatureFreshnessMs stays above this for three one-minute periods.
   * @default Duration.seconds(10)
   */
  readonly freshnessSlo?: Duration;
  /**
   * Alarm when the largest WatermarkLagMs stays above this for three one-minute periods. The watermark trails
   * the newest event time by the allowed lateness, so the threshold must leave room for it.
   * @default allowedLateness + 5 minutes
   */
  readonly watermarkLagThreshold?: Duration;
  /**
   * Alarm when the dead-letter queue holds at least this many messages.
   * @default 100
   */
  readonly deadLetterQueueDepthThreshold?: number;
  /**
   * Alarm when the oldest dead-letter message is older than this (SQS deletes messages after 14 days).
   * @default Duration.days(3)
   */
  readonly deadLetterQueueAgeThreshold?: Duration;
  /**
   * Alarm when the consumer (or the labels consumer) reports at least this many errors in five minutes.
   * @default 1
   */
  readonly consumerErrorsThreshold?: number;
  /**
   * Alarm when the consumer is throttled at least this many times in five minutes.
   * @default 1
   */
  readonly consumerThrottlesThreshold?: number;
  /**
   * Alarm when the state table reports at least this many read plus write throttle events in five minutes.
   * @default 1
   */
  readonly tableThrottlesThreshold?: number;
  /**
   * Alarm when the features endpoint answers at least this many requests with a 5xx status in five minutes.
   * @default 1
   */
  readonly servingErrorsThreshold?: number;
  /**
   * Alarm when the p99 latency of the features endpoint stays above this for three five-minute periods. Cold
   * starts count too: at a few requests a minute they alone can reach a few hundred milliseconds at p99.
   * Must be below the serving function's timeout, which caps every request's latency.
   * @default Duration.seconds(1)
   */
  readonly servingLatencyP99Threshold?: Duration;
  /**
   * Alarm when stream reads or writes exceed the shard limits at least this many times a minute, three minutes running.
   * @default 1
   */
  readonly streamThroughputExceededThreshold?: number;
  /**
   * Email address subscribed to the alarm topic (the subscription must be confirmed from the email).
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly alarmEmail?: string;
  /**
   * Dashboard name. CloudWatch dashboard names are unique per account across regions.
   * @default `<stack name>-<region>`
   */
  readonly dashboardName?: string;
}

export interface PipelineMonitoringProps extends MonitoringOptions, PipelineMetricSources {
  /** The spec's allowed lateness: the watermark lag it causes is normal. */
  readonly allowedLateness: Duration;
  /**
   * The consumer scores records (the spec has a scoring section): a dashboard row of predictions.
   * @default false
   */
  readonly scoring?: boolean;
  /**
   * The spec's evaluation thresholds: alarms on precision, recall and score drift, and a dashboard row. Needs
   * `scoring` and `labelsConsumer`.
   * @default - no evaluation
   */
  readonly evaluation?: Pick<EvaluationSpec, 'minPrecision' | 'minRecall' | 'maxPsi'> &
    Partial<Pick<EvaluationSpec, 'maxFeaturePsi' | 'maxFeatureEmptyShare' | 'minEstimatedPrecision' | 'minEstimatedRocAuc'>>;
}

/** Identifies each alarm; also the suffix of its name. */
export type AlarmKey =
  | 'ConsumerLag'
  | 'FeatureFreshness'
  | 'WatermarkLag'
  | 'ConsumerErrors'
  | 'ConsumerThrottles'
  | 'DeadLetterQueueDepth'
  | 'DeadLetterQueueAge'
  | 'OnFailureQueueNotEmpty'
  | 'StateTableThrottles'
  | 'ServingErrors'
  | 'ServingLatency'
  | 'StreamReadThroughputExceeded'
  | 'StreamWriteThroughputExceeded'
  | 'EvaluationPrecision'
  | 'EvaluationRecall'
  | 'EvaluationPsi'
  | 'EvaluationFeaturePsi'
  | 'EvaluationFeatureEmptyShare'
  | 'EvaluationEstimatedPrecision'
  | 'EvaluationEstimatedRocAuc'
  | 'LabelsConsumerLag'
  | 'LabelsConsumerErrors';

/** The alarms that exist only with an evaluation section (the estimate's only when the spec sets their thresholds: ESTIMATE_ALARMS). */
export const EVALUATION_ALARMS: readonly AlarmKey[] = ['EvaluationPrecision', 'EvaluationRecall', 'EvaluationPsi', 'EvaluationFeaturePsi', 'EvaluationFeatureEmptyShare', 'LabelsConsumerLag', 'LabelsConsumerErrors'];

/** Alarms on the estimate before labels: only with evaluation.minEstimatedPrecision or minEstimatedRocAuc set. */
export const ESTIMATE_ALARMS: readonly AlarmKey[] = ['EvaluationEstimatedPrecision', 'EvaluationEstimatedRocAuc'];

export interface RunbookEntry {
  /** What the alarm going off means for the features served. */
  readonly meaning: string;
  /** What to look at first. */
  readonly firstStep: string;
}

/** What each alarm means and what to do first; shown on the dashboard and in every alarm's description. */
export const ALARM_RUNBOOK: Readonly<Record<AlarmKey, RunbookEntry>> = {
  ConsumerLag: {
    meaning: 'The consumer is behind the newest records of a shard (Lambda IteratorAge): features are getting stale.',
    firstStep:
      'Look at consumer errors and throttles. Errors: read the function log. Throttles: raise concurrency. Neither: batches are slow; raise memory or parallelizationFactor.',
  },
  FeatureFreshness: {
    meaning: 'The p99 delay from event time to feature write is above the SLO: models read old features.',
    firstStep:
      'If iterator age is high too, the consumer is behind (see consumer lag). If not, producers send events late; compare with watermark lag. Expected while replaying old records.',
  },
  WatermarkLag: {
    meaning: 'A shard\'s watermark trails the clock by more than the threshold: windows become final late.',
    firstStep:
      'Check records in and iterator age: a slow consumer, a producer with a skewed clock, or a shard receiving only old events.',
  },
  ConsumerErrors: {
    meaning: 'The handler threw: the whole batch is retried, then bisected, then sent to the on-failure queue.',
    firstStep: 'Search the function log for ERROR lines around the alarm time and fix the cause before retries run out.',
  },
  ConsumerThrottles: {
    meaning: 'Lambda refused invocations for lack of concurrency: shards wait and lag grows.',
    firstStep:
      'Compare concurrent executions with reserved concurrency and the account limit; shards × parallelizationFactor must fit.',
  },
  DeadLetterQueueDepth: {
    meaning: 'Many late or invalid records are waiting in the dead-letter queue: their events are not in the features.',
    firstStep:
      'Receive a few messages and read why they were rejected. Invalid: fix the producer. Late: compare their delay with watermark.allowedLatenessMs.',
  },
  DeadLetterQueueAge: {
    meaning: 'Dead-letter messages have waited long; SQS deletes them 14 days after they arrived.',
    firstStep: 'Replay or archive the messages that matter, then purge the queue.',
  },
  OnFailureQueueNotEmpty: {
    meaning:
      'The event source mapping gave up on a batch (retries or record age exhausted): those records were never applied.',
    firstStep:
      'Read the message: it names the shard and sequence numbers. Find the error in the function log, fix it, then replay that range from the stream.',
  },
  StateTableThrottles: {
    meaning: 'DynamoDB throttled state reads or writes (consumer or serving): batches retry and slow down, feature requests may fail.',
    firstStep:
      'Look for a hot key (one entity with most of the events; CloudWatch Contributor Insights for DynamoDB shows it) or traffic jumping beyond twice its previous peak; on provisioned capacity, for consumed capacity at the auto scaling maximum (raise stateTableCapacity.writeMax or readMax).',
  },
  ServingErrors: {
    meaning: 'The features endpoint answered with 5xx (handler error, timeout or Lambda failure): model servers got no features.',
    firstStep:
      'Search the serving function log for ERROR lines. Timeouts with state table throttles point at DynamoDB (see StateTableThrottles); errors at start point at its environment (SERVING_ENV).',
  },
  ServingLatency: {
    meaning: 'The p99 time to answer a feature request is above the threshold: model servers wait for features, or give up.',
    firstStep:
      'Compare Lambda duration p99 with the URL latency p99. Close: the handler is slow (requests with many keys, state table throttles, too little memory). Far apart: cold starts; reserve or provision concurrency.',
  },
  StreamReadThroughputExceeded: {
    meaning: 'Reads exceeded the per-shard limits (5 GetRecords calls or 2 MB per second, shared by all consumers).',
    firstStep: 'Count the stream\'s consumers; move additional ones to enhanced fan-out or add shards.',
  },
  StreamWriteThroughputExceeded: {
    meaning: 'Producers were throttled (1 MB or 1000 records per second per shard): events may be delayed or lost.',
    firstStep: 'Check that producers retry; add shards (provisioned) or spread partition keys (on-demand).',
  },
  EvaluationPrecision: {
    meaning:
      'A final evaluation window\'s precision (flagged predictions labeled positive, of all flagged) is below evaluation.minPrecision: the model flags too many good customers.',
    firstStep:
      'Check LabelsIn and LabelsJoined first: with unlabeled "negative", a labels feed that stopped turns every flag into a false positive. If labels flow, compare the window\'s PSI and positive rate: drift means retrain or raise the threshold.',
  },
  EvaluationRecall: {
    meaning: 'A final evaluation window\'s recall (positives the model flagged, of all labeled positive) is below evaluation.minRecall: fraud gets through.',
    firstStep:
      'Look at ScoringFeatureAgeMs (stale features score low) and at the window\'s PSI; many UnmatchedLabels in the dead-letter queue point at labels whose predictionId, eventId or key do not match. Then retrain or lower the threshold.',
  },
  EvaluationPsi: {
    meaning:
      'The scores of a closed evaluation window drifted from the reference window by more than evaluation.maxPsi: the population being scored changed (new merchants, a new product) or a feature broke.',
    firstStep:
      'Compare the positive rate and the features of that window with the reference (npm run training-set); a feature stuck at 0 or missing points at the pipeline, a real shift at retraining. Precision and recall follow once the labels arrive.',
  },
  EvaluationFeaturePsi: {
    meaning:
      'The values of one of the model\'s features in a closed evaluation window drifted from the reference window by more than evaluation.maxFeaturePsi: that input changed (a new population, a broken producer field, a changed unit).',
    firstStep:
      'Find the feature: graph EvaluationFeaturePsi by its Feature dimension (or read featurePsi in the window\'s log document). A feature stuck at one value or missing points at the pipeline or the producer; a real shift at retraining.',
  },
  EvaluationFeatureEmptyShare: {
    meaning:
      'More than evaluation.maxFeatureEmptyShare of a window\'s predictions read one of the model\'s features with no value (unavailable, or empty where the aggregate has no value): the model scored on missing inputs.',
    firstStep:
      'Graph EvaluationFeatureEmptyShare by its Feature dimension. All features at once: look at ScoredFeaturesUnavailable and the state table (throttles, a key layout change). One feature: check its field in the producers\' events.',
  },
  EvaluationEstimatedPrecision: {
    meaning:
      'The precision of a closed window estimated from its scores before labels (calibrated on the windows whose labels are final) is below evaluation.minEstimatedPrecision: the model likely flags too many good customers, weeks before labels confirm it.',
    firstStep:
      'Look at the window\'s PSI and feature drift: a shifted population moves the estimate. Blind to concept drift (same scores, another meaning): compare EvaluationPrecisionEstimateError of past final windows to see how far the estimate can be trusted.',
  },
  EvaluationEstimatedRocAuc: {
    meaning: 'The ROC AUC of a closed window estimated before labels is below evaluation.minEstimatedRocAuc: the scores of the window separate less than the calibration expects.',
    firstStep:
      'Check the window\'s score PSI and feature drift first; then EvaluationRocAucEstimateError of past final windows, which says how close the estimate has come to the realized AUC.',
  },
  LabelsConsumerLag: {
    meaning: 'The labels consumer is behind the labels stream (Lambda IteratorAge): labels join late, windows become final later.',
    firstStep: 'Look at the labels consumer\'s errors: a failing batch is retried before the records behind it are read. No errors: raise its memory.',
  },
  LabelsConsumerErrors: {
    meaning: 'The labels handler threw: the batch is retried, bisected, then sent to the on-failure queue, and its labels are not joined.',
    firstStep: 'Search the labels function log for ERROR lines and fix the cause before retries run out; then replay the range named in the on-failure queue.',
  },
};

/** Default of `servingLatencyP99Threshold`. */
export const SERVING_LATENCY_P99_DEFAULT = Duration.seconds(1);

const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** Alarms, their notification topic, and the dashboard of the pipeline. */
export class PipelineMonitoring extends Construct {
  public readonly metrics: PipelineMetricFactory;
  public readonly alarmTopic: sns.Topic;
  /** Every alarm; the evaluation alarms (EVALUATION_ALARMS) only with an evaluation section. */
  public readonly alarms: Readonly<Partial<Record<AlarmKey, cw.Alarm>>>;
  public readonly dashboard: cw.Dashboard;

  public constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    validateMonitoringOptions(props);
    this.metrics = new PipelineMetricFactory(props);

    this.alarmTopic = this.createTopic(props.alarmEmail);
    this.alarms = this.createAlarms(props);
    const action = new cwActions.SnsAction(this.alarmTopic);
    for (const alarm of Object.values(this.alarms)) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }

    // Thresholds drawn on the dashboard are read from the alarms themselves (alarmThreshold).
    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? Fn.join('-', [Stack.of(this).stackName, Aws.REGION]),
      defaultInterval: Duration.hours(3),
      widgets: dashboardRows(this.metrics, this.alarms, props),
    });
  }

  /** Console address of the dashboard. */
  public get dashboardUrl(): string {
    return Fn.join('', [
      'https://',
      Aws.REGION,
      '.console.aws.amazon.com/cloudwatch/home?region=',
      Aws.REGION,
      '#dashboards:name=',
      this.dashboard.dashboardName,
    ]);
  }

  private createTopic(alarmEmail: string | undefined): sns.Topic {
    // CloudWatch cannot publish to a topic encrypted with the AWS managed key alias/aws/sns (its policy cannot
    // grant CloudWatch), so the topic gets its own key whose policy allows CloudWatch in this account only.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the feature pipeline alarm topic',
      enableKeyRotation: true,
      // Only encrypts notifications in flight; nothing stored under it needs the key after the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AccountAdministersKey',
            principals: [new iam.AccountRootPrincipal()],
            actions: KEY_ADMIN_ACTIONS,
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'CloudWatchAlarmsPublish',
            principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
            actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
            resources: ['*'],
            conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
          }),
        ],
      }),
    });
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Feature pipeline alarms',
      masterKey: key,
      enforceSSL: true,
    });
    // enforceSSL creates a topic policy, which replaces SNS's default one: allow this account's alarms explicitly.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
        },
      }),
    );
    if (alarmEmail !== undefined) {
      const sub = new sns.Subscription(this, 'AlarmEmail', {
        topic,
        protocol: sns.SubscriptionProtocol.EMAIL,
        endpoint: alarmEmail,
      });
      Validations.of(sub.node.defaultChild as sns.CfnSubscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason: 'Email subscription for alarm notifications: the alarm state stays in CloudWatch, so an undelivered email needs no replay queue.',
      });
    }
    return topic;
  }

  private createAlarms(props: PipelineMonitoringProps): Partial<Record<AlarmKey, cw.Alarm>> {
    const m = this.metrics;
    const t = resolveThresholds(props);
    const stackName = Stack.of(this).stackName;
    const alarm = (key: AlarmKey, metric: cw.IMetric, spec: AlarmSpec): cw.Alarm => {
      const runbook = ALARM_RUNBOOK[key];
      return new cw.Alarm(this, key, {
        alarmName: `${stackName}-${key}`,
        alarmDescription: `${runbook.meaning} First: ${runbook.firstStep}`,
        metric,
        threshold: spec.threshold,
        comparisonOperator: spec.comparison ?? cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: spec.evaluationPeriods ?? 1,
        datapointsToAlarm: spec.evaluationPeriods ?? 1,
        // No data means no invocations or no events: an idle pipeline, not a failing one. The evaluation
        // measures are emitted once per window, so their missing data is the normal case too.
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      });
    };
    const sustained = { evaluationPeriods: 3, comparison: cw.ComparisonOperator.GREATER_THAN_THRESHOLD };

    const core = {
      ConsumerLag: alarm('ConsumerLag', m.iteratorAge(), { threshold: t.iteratorAge.toMilliseconds(), ...sustained }),
      FeatureFreshness: alarm('FeatureFreshness', m.pipeline(MetricName.FeatureFreshnessMs, cw.Stats.p(99)), {
        threshold: t.freshnessSlo.toMilliseconds(),
        ...sustained,
      }),
      WatermarkLag: alarm('WatermarkLag', m.pipeline(MetricName.WatermarkLagMs, cw.Stats.MAXIMUM), {
        threshold: t.watermarkLag.toMilliseconds(),
        ...sustained,
      }),
      ConsumerErrors: alarm('ConsumerErrors', m.consumerErrors(), { threshold: t.consumerErrors }),
      ConsumerThrottles: alarm('ConsumerThrottles', m.consumerThrottles(), { threshold: t.consumerThrottles }),
      DeadLetterQueueDepth: alarm('DeadLetterQueueDepth', m.queueDepth('deadLetter'), { threshold: t.deadLetterDepth }),
      DeadLetterQueueAge: alarm('DeadLetterQueueAge', m.queueOldestMessageAge('deadLetter'), {
        threshold: t.deadLetterAge.toSeconds(),
        comparison: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      }),
      // A single message is a batch that was never applied: alarm on the first one.
      OnFailureQueueNotEmpty: alarm('OnFailureQueueNotEmpty', m.queueDepth('onFailure'), { threshold: 1 }),
      StateTableThrottles: alarm('StateTableThrottles', m.stateTableThrottleEvents(), { threshold: t.tableThrottles }),
      ServingErrors: alarm('ServingErrors', m.servingRequests('Url5xxCount'), { threshold: t.servingErrors }),
      ServingLatency: alarm('ServingLatency', m.servingLatency(cw.Stats.p(99)), {
        threshold: t.servingLatencyP99.toMilliseconds(),
        ...sustained,
      }),
      StreamReadThroughputExceeded: alarm('StreamReadThroughputExceeded', m.streamMetric('ReadProvisionedThroughputExceeded'), {
        threshold: t.streamThroughputExceeded,
        evaluationPeriods: 3,
      }),
      StreamWriteThroughputExceeded: alarm(
        'StreamWriteThroughputExceeded',
        m.streamMetric('WriteProvisionedThroughputExceeded'),
        { threshold: t.streamThroughputExceeded, evaluationPeriods: 3 },
      ),
    };
    const ev = props.evaluation;
    if (ev === undefined) return core;
    const labels = m.labelsConsumer();
    const below = cw.ComparisonOperator.LESS_THAN_THRESHOLD;
    return {
      ...core,
      // Minimum and Maximum: any one window past its threshold within the hour alarms.
      EvaluationPrecision: alarm('EvaluationPrecision', m.evaluation(MetricName.EvaluationPrecision, cw.Stats.MINIMUM), { threshold: ev.minPrecision, comparison: below }),
      EvaluationRecall: alarm('EvaluationRecall', m.evaluation(MetricName.EvaluationRecall, cw.Stats.MINIMUM), { threshold: ev.minRecall, comparison: below }),
      EvaluationPsi: alarm('EvaluationPsi', m.evaluation(MetricName.EvaluationPsi, cw.Stats.MAXIMUM), {
        threshold: ev.maxPsi,
        comparison: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      }),
      // On the largest over the features: one alarm covers every feature; the Feature dimension tells which.
      EvaluationFeaturePsi: alarm('EvaluationFeaturePsi', m.evaluation(MetricName.EvaluationFeaturePsiMax, cw.Stats.MAXIMUM), {
        threshold: ev.maxFeaturePsi ?? EVALUATION_DEFAULTS.maxFeaturePsi,
        comparison: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      }),
      EvaluationFeatureEmptyShare: alarm('EvaluationFeatureEmptyShare', m.evaluation(MetricName.EvaluationFeatureEmptyShareMax, cw.Stats.MAXIMUM), {
        threshold: ev.maxFeatureEmptyShare ?? EVALUATION_DEFAULTS.maxFeatureEmptyShare,
        comparison: cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
      }),
      ...(ev.minEstimatedPrecision === undefined
        ? {}
        : { EvaluationEstimatedPrecision: alarm('EvaluationEstimatedPrecision', m.evaluation(MetricName.EvaluationEstimatedPrecision, cw.Stats.MINIMUM), { threshold: ev.minEstimatedPrecision, comparison: below }) }),
      ...(ev.minEstimatedRocAuc === undefined
        ? {}
        : { EvaluationEstimatedRocAuc: alarm('EvaluationEstimatedRocAuc', m.evaluation(MetricName.EvaluationEstimatedRocAuc, cw.Stats.MINIMUM), { threshold: ev.minEstimatedRocAuc, comparison: below }) }),
      LabelsConsumerLag: alarm('LabelsConsumerLag', m.iteratorAge(labels), { threshold: t.iteratorAge.toMilliseconds(), ...sustained }),
      LabelsConsumerErrors: alarm('LabelsConsumerErrors', m.consumerErrors(undefined, labels), { threshold: t.consumerErrors }),
    };
  }
}

interface AlarmSpec {
  readonly threshold: number;
  readonly comparison?: cw.ComparisonOperator;
  readonly evaluationPeriods?: number;
}

/** Key administration without `kms:*`: everything an administrator needs, nothing that uses the key. */
const KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:CreateGrant',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
];

interface Thresholds {
  readonly iteratorAge: Duration;
  readonly freshnessSlo: Duration;
  readonly watermarkLag: Duration;
  readonly deadLetterDepth: number;
  readonly deadLetterAge: Duration;
  readonly consumerErrors: number;
  readonly consumerThrottles: number;
  readonly tableThrottles: number;
  readonly servingErrors: number;
  readonly servingLatencyP99: Duration;
  readonly streamThroughputExceeded: number;
}

function resolveThresholds(props: PipelineMonitoringProps): Thresholds {
  return {
    iteratorAge: props.iteratorAgeThreshold ?? Duration.seconds(60),
    freshnessSlo: props.freshnessSlo ?? Duration.seconds(10),
    watermarkLag: props.watermarkLagThreshold ?? props.allowedLateness.plus(Duration.minutes(5)),
    deadLetterDepth: props.deadLetterQueueDepthThreshold ?? 100,
    deadLetterAge: props.deadLetterQueueAgeThreshold ?? Duration.days(3),
    consumerErrors: props.consumerErrorsThreshold ?? 1,
    consumerThrottles: props.consumerThrottlesThreshold ?? 1,
    tableThrottles: props.tableThrottlesThreshold ?? 1,
    servingErrors: props.servingErrorsThreshold ?? 1,
    servingLatencyP99: props.servingLatencyP99Threshold ?? SERVING_LATENCY_P99_DEFAULT,
    streamThroughputExceeded: props.streamThroughputExceededThreshold ?? 1,
  };
}

/** Refuses thresholds that would alarm constantly or never, and evaluation without its consumer or scoring. */
export function validateMonitoringOptions(props: MonitoringOptions & Partial<PipelineMonitoringProps>): void {
  const owner = 'PipelineMonitoring';
  if (props.evaluation !== undefined && (props.labelsConsumer === undefined || props.scoring !== true)) {
    throw new PipelinePropsError(`${owner}: evaluation needs scoring: true and the labelsConsumer whose metrics it watches`);
  }
  if (props.evaluation === undefined && props.labelsConsumer !== undefined) {
    throw new PipelinePropsError(`${owner}: labelsConsumer is only watched with evaluation thresholds (evaluation is missing)`);
  }
  checkDuration(owner, 'iteratorAgeThreshold', props.iteratorAgeThreshold, Duration.days(7));
  checkDuration(owner, 'freshnessSlo', props.freshnessSlo);
  checkDuration(owner, 'watermarkLagThreshold', props.watermarkLagThreshold);
  checkDuration(owner, 'deadLetterQueueAgeThreshold', props.deadLetterQueueAgeThreshold, Duration.days(14));
  checkPositive(owner, 'deadLetterQueueDepthThreshold', props.deadLetterQueueDepthThreshold);
  checkPositive(owner, 'consumerErrorsThreshold', props.consumerErrorsThreshold);
  checkPositive(owner, 'consumerThrottlesThreshold', props.consumerThrottlesThreshold);
  checkPositive(owner, 'tableThrottlesThreshold', props.tableThrottlesThreshold);
  checkPositive(owner, 'servingErrorsThreshold', props.servingErrorsThreshold);
  checkDuration(owner, 'servingLatencyP99Threshold', props.servingLatencyP99Threshold);
  checkPositive(owner, 'streamThroughputExceededThreshold', props.streamThroughputExceededThreshold);
  if (props.alarmEmail !== undefined && !EMAIL_PATTERN.test(props.alarmEmail)) {
    throw new PipelinePropsError(`${owner}: alarmEmail must be an email address (got "${props.alarmEmail}")`);
  }
}

const line = (value: number, label: string): cw.HorizontalAnnotation => ({ value, label, color: cw.Color.RED });
const as = (metric: cw.Metric, label: string): cw.Metric => metric.with({ label });

/** The alarm whose threshold a panel draws: the line is that alarm's own threshold, in the metric's unit. */
const THRESHOLD_ALARM: Readonly<Record<PanelThreshold, { alarm: AlarmKey; label: string }>> = {
  freshnessSlo: { alarm: 'FeatureFreshness', label: 'SLO' },
  watermarkLag: { alarm: 'WatermarkLag', label: 'alarm' },
  minPrecision: { alarm: 'EvaluationPrecision', label: 'min precision' },
  minRecall: { alarm: 'EvaluationRecall', label: 'min recall' },
  maxPsi: { alarm: 'EvaluationPsi', label: 'max PSI' },
  maxFeaturePsi: { alarm: 'EvaluationFeaturePsi', label: 'max feature PSI' },
  maxFeatureEmptyShare: { alarm: 'EvaluationFeatureEmptyShare', label: 'max share without a value' },
  minEstimatedPrecision: { alarm: 'EvaluationEstimatedPrecision', label: 'min estimated precision' },
  minEstimatedRocAuc: { alarm: 'EvaluationEstimatedRocAuc', label: 'min estimated ROC AUC' },
};

/** The threshold an alarm was created with (its CloudFormation property). */
export function alarmThreshold(alarm: cw.Alarm): number {
  const t = (alarm.node.defaultChild as cw.CfnAlarm).threshold;
  if (typeof t !== 'number') throw new Error(`alarm ${alarm.node.path} has no numeric threshold`);
  return t;
}

/**
 * A graph widget of one panel of the shared definition (lambda/contract/dashboard-panels.ts), with the lines of
 * the alarms it names; `extra` adds series only CloudWatch has (Lambda's own duration). `hourly` reads the
 * evaluation measures, emitted once per window.
 */
function panelBuilder(m: PipelineMetricFactory, alarms: Readonly<Partial<Record<AlarmKey, cw.Alarm>>>) {
  const stat = (st: PanelStat): string => (st === 'p50' ? cw.Stats.p(50) : st === 'p99' ? cw.Stats.p(99) : st);
  return (def: PanelDefinition, width: number, extra: cw.IMetric[] = [], hourly = false): cw.GraphWidget => {
    const metric = (sr: PanelSeries): cw.Metric => as(hourly ? m.evaluation(sr.metric, stat(sr.stat)) : m.pipeline(sr.metric, stat(sr.stat)), seriesLabel(sr));
    const lines = (def.thresholds ?? []).flatMap((th) => {
      const a = alarms[THRESHOLD_ALARM[th].alarm];
      return a === undefined ? [] : [line(alarmThreshold(a), THRESHOLD_ALARM[th].label)];
    });
    return new cw.GraphWidget({
      title: def.title,
      left: [...def.left.map(metric), ...extra],
      ...(def.right === undefined ? {} : { right: def.right.map(metric) }),
      ...(lines.length === 0 ? {} : { leftAnnotations: lines }),
      ...(def.unit === 'ratio' && def.right === undefined ? { leftYAxis: { min: 0, max: 1 } } : {}),
      width,
    });
  };
}

function dashboardRows(
  m: PipelineMetricFactory,
  alarms: Readonly<Partial<Record<AlarmKey, cw.Alarm>>>,
  props: PipelineMonitoringProps,
): cw.IWidget[][] {
  const pipelineName = props.pipelineName;
  const panel = panelBuilder(m, alarms);
  const alarmLine = (key: AlarmKey, label: string): cw.HorizontalAnnotation => line(alarmThreshold(alarms[key]!), label);
  const runbookKeys = (Object.keys(ALARM_RUNBOOK) as AlarmKey[]).filter((k) => alarms[k] !== undefined);
  return [
    [
      new cw.TextWidget({
        markdown: `# Feature pipeline \`${pipelineName}\`\nEvent-time features from Kinesis: state in DynamoDB, final windows in S3, served by a function URL. Alarm guide at the bottom.`,
        width: 24,
        height: 2,
      }),
    ],
    [new cw.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(alarms), width: 24, height: 3 })],
    [
      panel(CONSUMER_PANELS.freshness, 8),
      panel(CONSUMER_PANELS.watermarkLag, 8),
      new cw.GraphWidget({
        title: 'Iterator age (ms)',
        left: [as(m.iteratorAge(), 'IteratorAge max')],
        leftAnnotations: [alarmLine('ConsumerLag', 'alarm')],
        width: 8,
      }),
    ],
    [
      panel(CONSUMER_PANELS.records, 12),
      panel(CONSUMER_PANELS.outcomes, 12),
    ],
    [
      new cw.GraphWidget({
        title: 'Consumer errors and throttles',
        left: [
          as(m.consumerErrors(Duration.minutes(1)), 'Errors'),
          as(m.consumerThrottles(Duration.minutes(1)), 'Throttles'),
        ],
        right: [as(m.consumerInvocations(), 'Invocations')],
        width: 8,
      }),
      panel(CONSUMER_PANELS.batchDuration, 8, [as(m.consumerDuration(cw.Stats.p(99)), 'Lambda Duration p99')]),
      new cw.GraphWidget({
        title: 'Concurrent executions',
        left: [as(m.consumerConcurrency(), 'ConcurrentExecutions max')],
        width: 8,
      }),
    ],
    [
      new cw.GraphWidget({
        title: 'Queue depth',
        left: [as(m.queueDepth('deadLetter'), 'Dead-letter queue'), as(m.queueDepth('onFailure'), 'On-failure queue')],
        width: 12,
      }),
      new cw.GraphWidget({
        title: 'Oldest queued message (s)',
        left: [
          as(m.queueOldestMessageAge('deadLetter'), 'Dead-letter queue'),
          as(m.queueOldestMessageAge('onFailure'), 'On-failure queue'),
        ],
        leftAnnotations: [alarmLine('DeadLetterQueueAge', 'dead-letter alarm')],
        width: 12,
      }),
    ],
    [
      new cw.GraphWidget({
        title: 'State table consumed capacity',
        left: [
          as(m.stateTableMetric('ConsumedReadCapacityUnits'), 'read'),
          as(m.stateTableMetric('ConsumedWriteCapacityUnits'), 'write'),
        ],
        width: 8,
      }),
      new cw.GraphWidget({
        title: 'State table throttle events',
        left: [as(m.stateTableMetric('ReadThrottleEvents'), 'read'), as(m.stateTableMetric('WriteThrottleEvents'), 'write')],
        width: 8,
      }),
      new cw.GraphWidget({
        title: 'State table throttled requests',
        left: [m.stateTableThrottledRequests()],
        width: 8,
      }),
    ],
    [
      new cw.GraphWidget({
        title: 'Finals bucket requests',
        left: [
          as(m.finalsBucketRequests('PutRequests'), 'PUT'),
          as(m.finalsBucketRequests('GetRequests'), 'GET'),
          as(m.finalsBucketRequests('4xxErrors'), '4xx'),
          as(m.finalsBucketRequests('5xxErrors'), '5xx'),
        ],
        width: 8,
      }),
      new cw.GraphWidget({
        title: 'Finals bucket bytes uploaded',
        left: [as(m.finalsBucketRequests('BytesUploaded'), 'bytes')],
        width: 8,
      }),
      new cw.GraphWidget({
        title: 'Finals bucket size (daily)',
        left: [as(m.finalsBucketStorage('BucketSizeBytes'), 'Standard bytes')],
        right: [as(m.finalsBucketStorage('NumberOfObjects'), 'objects')],
        width: 8,
      }),
    ],
    [
      new cw.GraphWidget({
        title: 'Features endpoint requests',
        left: [
          as(m.servingRequests('UrlRequestCount'), 'requests'),
          as(m.servingRequests('Url4xxCount'), '4xx'),
          as(m.servingRequests('Url5xxCount'), '5xx'),
          as(m.servingThrottles(), 'throttles'),
        ],
        leftAnnotations: [alarmLine('ServingErrors', '5xx alarm')],
        width: 12,
      }),
      new cw.GraphWidget({
        title: 'Features endpoint latency (ms)',
        left: [
          as(m.servingLatency(cw.Stats.p(50)), 'URL latency p50'),
          as(m.servingLatency(cw.Stats.p(99)), 'URL latency p99'),
          as(m.servingDuration(cw.Stats.p(99)), 'Lambda duration p99'),
        ],
        leftAnnotations: [alarmLine('ServingLatency', 'p99 alarm')],
        width: 12,
      }),
    ],
    [
      new cw.GraphWidget({
        title: 'Stream records',
        left: [as(m.streamMetric('IncomingRecords'), 'Incoming'), as(m.streamMetric('GetRecords.Records'), 'Read')],
        width: 12,
      }),
      new cw.GraphWidget({
        title: 'Stream throughput exceeded',
        left: [
          as(m.streamMetric('ReadProvisionedThroughputExceeded'), 'Read exceeded'),
          as(m.streamMetric('WriteProvisionedThroughputExceeded'), 'Write exceeded'),
        ],
        width: 12,
      }),
    ],
    ...(props.scoring === true ? [Object.values(SCORING_PANELS).map((d) => panel(d, 24 / Object.keys(SCORING_PANELS).length))] : []),
    ...(props.evaluation === undefined ? [] : evaluationRows(m, panel)),
    [new cw.TextWidget({ markdown: runbookMarkdown(runbookKeys), width: 24, height: runbookKeys.length > 13 ? 15 : 12 })],
  ];
}

/** Measures of the evaluation windows (hourly: each is emitted once per window), and the labels feeding them. */
function evaluationRows(m: PipelineMetricFactory, panel: ReturnType<typeof panelBuilder>): cw.IWidget[][] {
  const labels = m.labelsConsumer();
  return [
    [panel(EVALUATION_PANELS.precisionRecall, 8, [], true), panel(EVALUATION_PANELS.drift, 8, [], true), panel(EVALUATION_PANELS.labelDelay, 8, [], true)],
    [panel(EVALUATION_PANELS.thresholdFree, 8, [], true), panel(EVALUATION_PANELS.estimateError, 8, [], true), panel(EVALUATION_PANELS.featureQuality, 8, [], true)],
    [
      new cw.GraphWidget({
        title: 'Labels',
        left: LABELS_BATCH_METRICS.map((name) => as(m.pipeline(name, cw.Stats.SUM), name)),
        width: 12,
      }),
      new cw.GraphWidget({
        title: 'Labels consumer',
        left: [as(m.consumerErrors(Duration.minutes(1), labels), 'Errors')],
        right: [as(m.iteratorAge(labels), 'IteratorAge max')],
        width: 12,
      }),
    ],
  ];
}

/** The alarm guide as a markdown table, of the given alarms. */
export function runbookMarkdown(keys: readonly AlarmKey[] = Object.keys(ALARM_RUNBOOK) as AlarmKey[]): string {
  const escape = (s: string): string => s.replace(/\|/g, '\\|');
  const rows = keys.map((key) => {
    const r = ALARM_RUNBOOK[key];
    return `| ${key} | ${escape(r.meaning)} | ${escape(r.firstStep)} |`;
  });
  return ['## Alarm guide', '', '| Alarm | What it means | What to do first |', '|---|---|---|', ...rows].join('\n');
}
