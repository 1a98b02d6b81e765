/**
 * `npm run evaluation-report -- --evaluation DIR/evaluation.jsonl --out report.html` (options: bin/cli/commands.ts):
 * a file run's evaluation windows as one self-contained HTML page (bin/evaluation/report.ts).
 */
import { writeFileSync } from 'node:fs';
import { helpText, parseArgs } from './cli/args';
import { EVALUATION_REPORT_CLI } from './cli/commands';
import { CliFileError, checkReadableFile, prepareOutputFile } from './cli/files';
import { runMain } from './cli/run-main';
import { evaluationReport, readEvaluationLines } from './evaluation/report';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), EVALUATION_REPORT_CLI);
  if (args.help) {
    process.stdout.write(helpText(EVALUATION_REPORT_CLI));
    return 0;
  }
  const input = args.evaluation as string;
  const out = args.out as string;
  checkReadableFile('--evaluation', input, "a file run's DIR/evaluation.jsonl");
  prepareOutputFile('--out', out);
  const lines = await readEvaluationLines(input);
  if (lines.length === 0) throw new CliFileError(`--evaluation ${input} holds no evaluation window`);
  writeFileSync(out, evaluationReport(lines, { source: input }));
  process.stderr.write(`wrote ${out}: ${lines.length} windows, ${lines.filter((l) => l.final !== undefined).length} final\n`);
  return 0;
}

runMain(EVALUATION_REPORT_CLI, main);
