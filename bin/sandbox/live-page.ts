/**
 * The live page of `npm start` (the story, --follow, file mode): the dashboard's panels drawn from the EMF
 * documents the pipeline's handlers emit, each shard's watermark and lag, the run's write units and serving
 * requests, and a lookup box answering a key's features as of now through the serving client (the one the
 * features endpoint uses).
 */
import type { BatchOutcome } from '../../lambda/adapters/batch-processor';
import { FeatureClient } from '../../lambda/adapters/feature-client';
import { StateStore } from '../../lambda/adapters/state-store';
import { MetricName } from '../../lambda/contract/metric-names';
import { FeatureRequestError } from '../../lambda/core/feature-request';
import type { PipelineSpec } from '../../lambda/core/spec';
import { EmfFeed } from '../local/dashboard/emf-feed';
import { panelsFor } from '../local/dashboard/page';
import { type DashboardServer, startDashboardServer } from '../local/dashboard/server';
import type { LocalPipeline } from '../local/pipeline';

/** What a run needs to serve its page; without it, a run serves none. */
export interface LivePageOptions {
  /** Localhost port. @default 0 (any free port) */
  readonly port?: number;
  /** Called once the page listens (the CLI prints its URL). */
  readonly onStart: (page: LivePage) => void;
}

export interface LivePage {
  readonly url: string;
  /** The metrics the handlers emitted, as the page draws them. */
  readonly feed: EmfFeed;
  /** Stops serving; again is a no-op. */
  close(): Promise<void>;
}

/**
 * The parts of a page that exist before the pipeline does: the feed its `onEmf` fills and the counts its
 * `onOutcome` adds to. `start` serves the page once the pipeline is up.
 */
export class LivePageSource {
  private writeUnits = 0;
  private stateWrites = 0;
  private lookups = 0;
  private endpointRequests = 0;
  private page: DashboardServer | undefined;

  public constructor(
    private readonly options: LivePageOptions,
    public readonly feed: EmfFeed = new EmfFeed(),
  ) {}

  public readonly onEmf = (doc: unknown): void => this.feed.add(doc);

  /** Counts a request of the features endpoint (--follow). */
  public readonly servingRequest = (): void => void (this.endpointRequests += 1);

  public outcome(o: BatchOutcome): void {
    this.writeUnits += o.writeUnits;
    this.stateWrites += o.stateWrites;
  }

  public async start(title: string, spec: PipelineSpec, pipeline: LocalPipeline): Promise<LivePage> {
    const state = new StateStore({ client: pipeline.dynamoClient, tableName: pipeline.names.stateTable });
    const client = new FeatureClient({ spec, tableName: pipeline.names.stateTable, dynamo: pipeline.dynamoClient });
    const lateness = spec.watermark.allowedLatenessMs;
    const server = await startDashboardServer({
      title,
      feed: this.feed,
      panels: panelsFor(spec),
      port: this.options.port ?? 0,
      shards: async () =>
        (await state.scanShards())
          .map((s) => ({ shard: s.shard, watermark: s.maxEventTime === null ? null : s.maxEventTime - lateness }))
          .sort((a, b) => (a.shard < b.shard ? -1 : a.shard > b.shard ? 1 : 0)),
      lookup: async (key) => {
        this.lookups += 1;
        try {
          return (await client.getFeatures([key], { consistentRead: true }))[0];
        } catch (e) {
          // A key no key can be (too long, a lone surrogate): said as the endpoint says it.
          if (e instanceof FeatureRequestError) return { error: 'bad request', message: e.message };
          throw e;
        }
      },
      figures: () => ({
        'records in': this.feed.total(MetricName.RecordsIn, 'Sum') ?? 0,
        'DynamoDB write requests': this.stateWrites,
        'DynamoDB write units': Math.round(this.writeUnits * 10) / 10,
        'dead letters': this.feed.total(MetricName.DeadLetters, 'Sum') ?? 0,
        'features endpoint requests': this.endpointRequests,
        'lookups of this page': this.lookups,
      }),
    });
    this.page = server;
    const page: LivePage = { url: server.url, feed: this.feed, close: () => server.close() };
    this.options.onStart(page);
    return page;
  }

  /** Stops the page, if it was started. */
  public async close(): Promise<void> {
    await this.page?.close();
  }
}
