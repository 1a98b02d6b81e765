/**
 * The worker side of `WindowWriter`: turns chunks of window numbers into windows.jsonl lines and writes them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { windowLineText } from '../../lambda/core/output';
import { LineWriter } from '../cli/writer';
import type { FromWorker, WindowChunk, WriterInit } from './window-writer';

const init = workerData as WriterInit;
const port = parentPort!;
const out = new LineWriter(init.path);
const post = (m: FromWorker): void => port.postMessage(m);

function write(c: WindowChunk): void {
  for (let i = 0; i < c.n; i++) {
    const o = 4 * i;
    out.writeLine(windowLineText(init.features[c.fis[i]!]!, c.keys[c.keyOf[i]!]!, c.nums[o]!, c.nums[o + 1]!, c.nums[o + 2]!, c.nums[o + 3]!));
  }
}

// Messages are handled strictly in order: each waits for the previous one's write.
let queue = Promise.resolve();
port.on('message', (m: WindowChunk | { readonly type: 'close' }) => {
  queue = queue
    .then(async () => {
      if (m.type === 'chunk') {
        write(m);
        await out.drain();
        post({ type: 'written' });
      } else {
        await out.close();
        post({ type: 'closed' });
      }
    })
    .catch((e: unknown) => post({ type: 'failed', message: (e as Error).message }));
});
