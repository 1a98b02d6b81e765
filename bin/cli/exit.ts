/**
 * Exit once stdout and stderr have handed over everything written to them. `process.exit` right after a large
 * write to a pipe drops what the pipe has not taken yet (a `--json | wc -c` read 64 KiB of 227 KB).
 */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  const streams = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
  let pending = streams.length;
  if (pending === 0) process.exit(code);
  // A zero-length write calls back after every earlier chunk of that stream was flushed.
  for (const s of streams) s.write('', () => --pending === 0 && process.exit(code));
}
