/**
 * Setup file (vitest.config.mts): test files share their worker process, so each file gets the environment
 * variables it started with back once it has run, whatever it set (emulator endpoints, handler settings).
 */
import { afterAll } from 'vitest';

const atStart = { ...process.env };

afterAll(() => {
  for (const name of Object.keys(process.env)) if (!(name in atStart)) delete process.env[name];
  Object.assign(process.env, atStart);
});
