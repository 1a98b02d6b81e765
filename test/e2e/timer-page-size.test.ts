/**
 * Timer pages are sized by the bytes actually stored: keys of control characters (six bytes each once JSON
 * escapes them) used to make a page of over 1 MB, which DynamoDB refuses, and every later batch of the shard was
 * abandoned. The pages must stay under the 400 KB item limit, and the run must equal the replay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulators } from '../../bin/local/emulators';
import { workerEmulators } from '../support/worker-emulators';
import { StateStore } from '../../lambda/adapters/state-store';
import { parseSpec } from '../../lambda/core/spec';
import { judgeBoth, line } from '../support/both-paths';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const KEYS = 177;
const keyOf = (n: number): string => `${'\u0001'.repeat(1018)}${n}`;

describe('timer pages of keys that grow when escaped', () => {
  it('cuts pages by their stored JSON size, each within the 400 KB item limit', () => {
    const store = new StateStore({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: 't' });
    const entries = Array.from({ length: KEYS }, (_, n) => ({ key: keyOf(n), due: T0 + 60_000 }));
    const pages = store.timerPageRequests('shardId-000000000000', entries, T0);
    const sizes = pages.map((p) => Buffer.byteLength(p.PutRequest!.Item!.entries!.S!, 'utf8'));
    expect(sizes.length).toBeGreaterThan(1);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(300_001);
    expect(pages.flatMap((p) => JSON.parse(p.PutRequest!.Item!.entries!.S!) as unknown[])).toHaveLength(KEYS);
  });

  describe('on the emulators', () => {
    const saved = { ...process.env };
    let dir: string;
    let emulators: Emulators;

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'timer-pages-'));
      emulators = await workerEmulators();
      Object.assign(process.env, emulators.env());
    });

    afterAll(async () => {
      process.env = saved;
      await emulators?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it(`${KEYS} keys of 1,018 control characters whose timers are re-paged together: no batch lost, equal to the replay`, async () => {
      // Sliding windows: when the watermark passes a key's window end, its timer is re-paged for the next one,
      // so one batch re-pages every key's timer at once.
      const spec = parseSpec({
        source: { keyField: 'user', timeField: 'ts' },
        watermark: { allowedLatenessMs: 1_000 },
        features: [{ name: 'count_10m', window: { type: 'sliding', sizeMs: 600_000, slideMs: 60_000 }, aggregate: 'count' }],
      });
      const lines = Array.from({ length: KEYS }, (_, n) => line({ user: keyOf(n), ts: T0 + n }, T0));
      for (let i = 0; i < 60; i++) lines.push(line({ user: 'k', ts: T0 + 62_000 + i }, T0));
      const { replayed } = await judgeBoth(dir, 'timers', spec, lines, { batchSize: 60 });
      expect(replayed).toMatchObject({ applied: KEYS + 60 });
    });
  });
});
