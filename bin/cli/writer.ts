/**
 * Buffered JSON-lines writer that honours stream back-pressure, so a large replay's output never piles up in
 * memory. Lines are encoded straight into a byte buffer (no per-line promise, no join of many strings); callers
 * await `drain()` once per batch.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

const CHUNK = 1 << 20;

export class LineWriter {
  private readonly stream: WriteStream;
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private pending = false;

  /** The first error of the stream (a file that cannot be opened, a full disk): drain() and close() throw it. */
  private error: Error | undefined;

  public constructor(path: string) {
    this.stream = createWriteStream(path);
    this.stream.on('error', (e) => (this.error ??= e));
  }

  /** Serializes and buffers one value as a line. */
  public write(obj: unknown): void {
    this.writeLine(JSON.stringify(obj));
  }

  /** Buffers one line of already-serialized JSON. */
  public writeLine(s: string): void {
    this.writeText(s, true);
  }

  /** Buffers text as it is (a line that ends otherwise, such as a CSV line in CRLF); with `lf`, then a line feed. */
  public writeText(s: string, lf = false): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    if (this.pos + s.length * 3 + 1 > this.buf.length) {
      this.flushChunk();
      if (s.length * 3 + 1 > this.buf.length) this.buf = Buffer.allocUnsafe(s.length * 3 + 1);
    }
    this.pos += this.buf.write(s, this.pos, 'utf8');
    if (lf) this.buf[this.pos++] = 10;
  }

  private flushChunk(): void {
    if (this.pos === 0) return;
    // The stream keeps the chunk until written, so the next lines go into a fresh buffer.
    if (!this.stream.write(this.buf.subarray(0, this.pos))) this.pending = true;
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
  }

  /** Waits until the stream has taken what was handed to it, if it asked for a pause. */
  public async drain(): Promise<void> {
    if (this.error) throw this.error;
    if (!this.pending) return;
    this.pending = false;
    // `once` rejects if the stream errors while waiting.
    if (this.stream.writableNeedDrain) await once(this.stream, 'drain');
  }

  /** Stops writing and closes the file, whatever was buffered (a run that failed). */
  public async abort(): Promise<void> {
    if (this.stream.closed) return;
    await new Promise<void>((resolve) => {
      this.stream.once('close', () => resolve());
      this.stream.destroy();
    });
  }

  public async close(): Promise<void> {
    this.flushChunk();
    await this.drain();
    await new Promise<void>((resolve, reject) => {
      if (this.error) {
        reject(this.error);
        return;
      }
      this.stream.once('error', reject);
      // end() hands its callback the error when the last writes fail.
      this.stream.end((err?: Error | null) => {
        const e = err ?? this.error;
        if (e) reject(e);
        else resolve();
      });
    });
  }
}
