/**
 * Buffered line writer that honours stream back-pressure, so a large replay's output never piles up in memory.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

export class LineWriter {
  private readonly stream: WriteStream;
  private buffer: string[] = [];
  private size = 0;

  public constructor(path: string) {
    this.stream = createWriteStream(path);
  }

  public async write(obj: unknown): Promise<void> {
    await this.writeLine(JSON.stringify(obj));
  }

  /** Writes one line of already-serialized JSON. */
  public async writeLine(s: string): Promise<void> {
    this.buffer.push(s);
    this.size += s.length + 1;
    if (this.size >= 1 << 20) await this.drainBuffer();
  }

  private async drainBuffer(): Promise<void> {
    if (this.buffer.length === 0) return;
    const text = this.buffer.join('\n') + '\n';
    this.buffer = [];
    this.size = 0;
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }

  public async close(): Promise<void> {
    await this.drainBuffer();
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
  }
}
