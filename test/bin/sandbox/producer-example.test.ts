/**
 * What `npm start -- --follow --config SPEC` prints for a producer is built from that spec: the example event and
 * the `--data` of the AWS CLI command carry its key, time (in its unit), id and every field its features read,
 * and the spec applies them (the shell word is expanded by bash, as a shell would before the CLI sends it).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Emulators } from '../../../bin/local/emulators';
import type { LocalPipeline } from '../../../bin/local/pipeline';
import { printFollowHelp } from '../../../bin/sandbox/demo';
import { RecordDecoder } from '../../../lambda/core/record';
import { type TimeUnit, parseSpecJson } from '../../../lambda/core/spec';

const specOf = (timeUnit: TimeUnit) =>
  parseSpecJson(
    JSON.stringify({
      source: { keyField: 'account', timeField: 'occurred', timeUnit, idField: 'event_id' },
      watermark: { allowedLatenessMs: 60_000 },
      features: [
        { name: 'spend_1h', window: { type: 'tumbling', sizeMs: 3_600_000 }, aggregate: 'sum', field: 'price' },
        { name: 'top_price_1h', window: { type: 'tumbling', sizeMs: 3_600_000 }, aggregate: 'max', field: 'price' },
        { name: 'merchants_1h', window: { type: 'sliding', sizeMs: 3_600_000, slideMs: 600_000 }, aggregate: 'distinct', field: 'merchant' },
        { name: 'orders_1h', window: { type: 'tumbling', sizeMs: 3_600_000 }, aggregate: 'count' },
      ],
    }),
  );

function followHelp(timeUnit: TimeUnit): string {
  let text = '';
  const emulators = { env: () => ({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_KINESIS: 'http://127.0.0.1:4567' }) } as unknown as Emulators;
  const pipeline = { names: { stream: 'sandbox-events', stateTable: 'sandbox-state', resultsBucket: 'sandbox-results', deadLetterQueueUrl: 'dlq', onFailureQueueUrl: 'of' } } as unknown as LocalPipeline;
  printFollowHelp({ emulators, out: (s) => void (text += s) }, pipeline, specOf(timeUnit), 'http://127.0.0.1:1/', 'my-spec.json');
  return text;
}

describe('the producer example of --follow --config SPEC', () => {
  it.each(['ms', 's', 'iso'] as const)('is built from the spec\'s own fields (timeUnit %s), and the spec applies it', (unit) => {
    const text = followHelp(unit);
    const decoder = new RecordDecoder(specOf(unit));
    const before = Date.now();
    // The example event, one line of a flat file.
    const line = /^ {2}(\{.*\})$/m.exec(text.slice(text.indexOf('An event for this spec')))![1]!;
    const event = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(event)).toEqual(['account', 'occurred', 'event_id', 'price', 'merchant']);
    const decoded = decoder.decode(line);
    expect(decoded.ok, JSON.stringify(decoded)).toBe(true);
    if (decoded.ok) expect(Math.abs(decoded.record.time - before)).toBeLessThan(60_000);
    expect(text).not.toContain('amount');
    // The AWS CLI's --data, as the shell expands it.
    const word = /--data ("\{.*\}")$/m.exec(text)![1]!;
    const sent = execFileSync('bash', ['-c', `printf %s ${word}`], { encoding: 'utf8' });
    const fromShell = decoder.decode(sent);
    expect(fromShell.ok, sent).toBe(true);
    expect(Object.keys(JSON.parse(sent) as object)).toEqual(['account', 'occurred', 'event_id', 'price', 'merchant']);
    if (fromShell.ok) expect(Math.abs(fromShell.record.time - before)).toBeLessThan(60_000);
    expect(text).toContain('aws kinesis put-record --stream-name sandbox-events --partition-key user_42 --cli-binary-format raw-in-base64-out');
    expect(text).toContain('npm run put -- --config my-spec.json --input EVENTS.jsonl --flat\n');
  });
});
