/**
 * The checks that turn probably-wrong results into warnings: epoch seconds read as milliseconds, most records
 * rejected (with the commonest reasons, the field named), every training row empty.
 */
import { describe, expect, it } from 'vitest';
import { RunChecks, YEAR_2000_MS, emptyRowsWarning, reasonOf } from '../../../bin/cli/run-checks';

describe('run checks', () => {
  it('warns when every event time is before 2000, as epoch seconds read as milliseconds are', () => {
    const c = new RunChecks();
    c.eventTime(1_767_225_600); // 2026-01-01 in seconds
    c.eventTime(1_767_225_660);
    expect(c.warnings({ records: 2, applied: 2 })).toEqual([
      'every event time is before 2000-01-01 (the latest is 1767225660, 1970-01-21T10:53:45.660Z): they look like epoch seconds read as milliseconds; if so, set "timeUnit": "s" in the spec\'s "source"',
    ]);
    const ok = new RunChecks();
    ok.eventTime(1_767_225_600);
    ok.eventTime(YEAR_2000_MS);
    expect(ok.warnings({ records: 2, applied: 2 })).toEqual([]);
    // Nothing applied: nothing to judge.
    expect(new RunChecks().warnings({ records: 0, applied: 0 })).toEqual([]);
  });

  it('warns when most records are rejected, with the commonest reasons first and the field they name', () => {
    const c = new RunChecks();
    for (let i = 0; i < 7; i++) c.rejected('invalid', `amount must be a finite number, got the string "${i},50"`);
    for (let i = 0; i < 3; i++) c.rejected('invalid', 'event_time is missing');
    c.rejected('future', 'event time 1796032800000 is 86400000 ms ahead of its arrival');
    c.rejected('late', 'txn_count_5m: every window of event time 1 is final (watermark 2)');
    const [w] = c.warnings({ records: 20, applied: 9, rejectedFile: 'out/rejected.jsonl' });
    expect(w).toBe(
      '11 of 20 records (55%) were rejected; most often:\n' +
        '  7 × invalid: amount must be a finite number, got the string "0,50"\n' +
        '  3 × invalid: event_time is missing\n' +
        '  1 × future: event time 1796032800000 is 86400000 ms ahead of its arrival\n' +
        '  (every rejected record, with its line, is in out/rejected.jsonl)',
    );
    // Half or fewer: the pipeline doing its job. Late records never count.
    const fine = new RunChecks();
    for (let i = 0; i < 10; i++) fine.rejected('invalid', 'x is missing');
    for (let i = 0; i < 50; i++) fine.rejected('late', 'late');
    expect(fine.warnings({ records: 20, applied: 0 })).toEqual([]);
  });

  it('groups messages that differ only in their values', () => {
    expect(reasonOf('invalid', 'amount must be a finite number, got the string "12,50"')).toBe('invalid: amount must be a finite number');
    expect(reasonOf('invalid', 'payload is 300000 bytes, over the 262144-byte limit')).toBe('invalid: payload is N bytes, over the N-byte limit');
    expect(reasonOf('invalid', 'payload is not valid JSON: Unexpected token } in JSON at position 7')).toBe('invalid: payload is not valid JSON: Unexpected token } in JSON at position N');
  });

  it('warns when every training row is empty, and says when label keys were never seen', () => {
    expect(emptyRowsWarning({ rows: 11, rowsAllEmpty: 10, keysNeverSeen: 0, labels: 11 })).toBeUndefined();
    expect(emptyRowsWarning({ rows: 0, rowsAllEmpty: 0, keysNeverSeen: 0, labels: 3 })).toBeUndefined();
    expect(emptyRowsWarning({ rows: 20, rowsAllEmpty: 20, keysNeverSeen: 0, labels: 20 })).toMatch(/^every one of the 20 training rows is empty: .* epoch milliseconds .*timeUnit/);
    expect(emptyRowsWarning({ rows: 20, rowsAllEmpty: 20, keysNeverSeen: 4, labels: 20 })).toMatch(/; 4 label keys never appear in a valid event \(compare them with the spec's keyField\)$/);
  });
});
