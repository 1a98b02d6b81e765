import type { Emulators } from '../local/emulators';
export async function runDemo(_o: { emulators: Emulators; follow: boolean; out: (s: string) => void }): Promise<number> {
  return 0;
}
