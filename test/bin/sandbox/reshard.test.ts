import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../bin/cli/args';
import { parseReshards } from '../../../bin/sandbox/reshard';

describe('--reshard', () => {
  it('reads split@N and merge@N steps in order', () => {
    expect(parseReshards('split@10, merge@20,split@20', 1, 30)).toEqual([
      { kind: 'split', afterRecords: 10 },
      { kind: 'merge', afterRecords: 20 },
      { kind: 'split', afterRecords: 20 },
    ]);
  });

  it('names what it refuses', () => {
    const refused = (text: string, shards = 1, records = 100) => {
      try {
        parseReshards(text, shards, records);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(refused('split')).toBe('--reshard takes split@N or merge@N steps separated by commas (N: records put before the step), got "split"');
    expect(refused('grow@5')).toMatch(/takes split@N or merge@N/);
    expect(refused('split@0')).toBe("--reshard split@0: N must be from 1 to the input's 100 records");
    expect(refused('split@101')).toBe("--reshard split@101: N must be from 1 to the input's 100 records");
    expect(refused('split@50,merge@40')).toBe('--reshard merge@40: steps must be in the order of their N (after split@50)');
    expect(refused('merge@5')).toBe('--reshard merge@5: a merge needs two open shards, and only one is open then');
    expect(refused('merge@5', 2)).toBe('accepted');
    expect(refused('split@1', 64)).toBe('--reshard split@1: more than 64 shards would be open');
  });
});
