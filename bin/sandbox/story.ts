/**
 * The production incident at the top of the README as records: an account drained by 22 transactions in 38 minutes while ~20
 * ordinary customers pay for coffee, plus what real streams carry besides — a phone on the subway whose payments
 * arrive 12 minutes late, a device whose clock is a day ahead, a malformed payload and a producer retry.
 * Story time ends just before the current minute, so records a user sends afterwards (--follow) continue it.
 */
import { prng } from '../bench/workload';

export type StoryRole = 'fraud' | 'ordinary' | 'subway' | 'newcomer' | 'future' | 'invalid' | 'duplicate';

export interface StoryRecord {
  readonly user: string;
  readonly role: StoryRole;
  /** Event time as the device stamped it (ms). */
  readonly eventTime: number;
  /** When Kinesis receives it, on the story clock (ms). */
  readonly arrivalTime: number;
  readonly data: string;
}

export interface StoryWave {
  /** Story time at the end of the wave: every record in it has arrived by then. */
  readonly until: number;
  readonly records: readonly StoryRecord[];
}

/** A label on the labels stream: a chargeback for one payment, days after it. */
export interface StoryLabel {
  readonly eventId: string;
  readonly key: string;
  readonly label: boolean;
  readonly labelTime: number;
  readonly data: string;
}

export interface Story {
  readonly start: number;
  readonly fraudster: string;
  /** The ordinary customer shown next to the fraudster: the one riding the subway. */
  readonly commuter: string;
  readonly records: readonly StoryRecord[];
  readonly waves: readonly StoryWave[];
  /** Chargebacks for the fraudster's payments, in label-time order: 2–5 days later, and one after 35 days. */
  readonly labels: readonly StoryLabel[];
  /** When the newcomers (a new merchant's customers) start paying. */
  readonly newcomersFrom: number;
}

export const FRAUDSTER = 'acct_fraudster';
export const COMMUTER = 'user_07';
const MIN = 60_000;
const STORY_MINUTES = 42;
const WAVE_MS = 2 * MIN;
const DRAINED_CENTS = 1_200_000; // $12,000

const iso = (t: number): string => new Date(t).toISOString();

export function buildStory(now = Date.now(), seed = 217): Story {
  const rnd = prng(seed);
  // Aligned to 10 minutes so the 5-minute windows, and the sandbox's 10-minute evaluation windows, line up with
  // the story's minutes.
  const start = Math.floor((now - STORY_MINUTES * MIN - 30_000) / (10 * MIN)) * 10 * MIN;
  const at = (minutes: number, seconds = 0) => start + minutes * MIN + seconds * 1000;
  const netDelay = () => 80 + Math.round(rnd() * rnd() * 1900); // mostly ~0.1 s, sometimes ~2 s
  const out: StoryRecord[] = [];
  let nextId = 1;
  const txn = (user: string, role: StoryRole, eventTime: number, arrivalTime: number, amount: number | string, stamp: number | string = iso(eventTime), merchant = `m_${100 + Math.floor(rnd() * 900)}`) => {
    const data = JSON.stringify({ user_id: user, event_time: stamp, amount, merchant, event_id: `evt_${String(nextId++).padStart(5, '0')}` });
    const r: StoryRecord = { user, role, eventTime, arrivalTime, data };
    out.push(r);
    return r;
  };

  // 22 transactions in 38 minutes: two small test charges, then twenty large ones draining $12,000 in total.
  const fraudCents = [100, 250];
  for (let i = 0; i < 19; i++) fraudCents.push(48_000 + i * 1_100 + Math.round(rnd() * 2_000));
  fraudCents.push(DRAINED_CENTS - fraudCents.reduce((a, b) => a + b, 0));
  fraudCents.forEach((cents, i) => {
    const t = at(4) + Math.round((i * 38 * MIN) / 21) + (i > 0 && i < 21 ? Math.round((rnd() - 0.5) * 20_000) : 0);
    const r = txn(FRAUDSTER, 'fraud', t, t + netDelay(), cents / 100);
    // The card network's client timed out and sent the 10th payment again: same event id, seconds later.
    if (i === 9) out.push({ ...r, role: 'duplicate', arrivalTime: r.arrivalTime + 3_000 });
  });

  // Ordinary customers: one to three small payments each.
  for (let u = 1; u <= 20; u++) {
    const user = `user_${String(u).padStart(2, '0')}`;
    if (user === COMMUTER) continue;
    const n = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) {
      const t = start + Math.round(rnd() * (STORY_MINUTES - 1) * MIN);
      txn(user, 'ordinary', t, t + netDelay(), Math.round(400 + rnd() * 11_600) / 100);
    }
  }

  // The commuter: three payments underground, queued by the phone and uploaded when it is back online at +26:20,
  // the first exactly 12 minutes late. A coffee paid at a card terminal on the platform just before moved his
  // shard's watermark past their 5-minute windows: late there (dead-letter queue), still counted in the 1 h windows.
  const online = at(26, 20);
  [at(14, 20), at(16, 5), at(18, 40)].forEach((t, i) => txn(COMMUTER, 'subway', t, online + i * 200, Math.round(300 + rnd() * 2_000) / 100));
  txn(COMMUTER, 'ordinary', at(26, 0), at(26, 0) + 150, 3.8);

  // A new electronics shop opens: a dozen customers the pipeline has never seen each pay it once, $260–$380,
  // within eight minutes. None is fraud and none is flagged, but their scores land where the model's usually do
  // not (a large first payment): the score distribution drifts from the reference window's.
  const newcomersFrom = at(30);
  for (let u = 1; u <= 12; u++) {
    const t = newcomersFrom + Math.round(rnd() * 8 * MIN);
    txn(`new_${String(u).padStart(2, '0')}`, 'newcomer', t, t + netDelay(), Math.round(26_000 + rnd() * 12_000) / 100, iso(t), 'm_new_electronics');
  }

  // A device whose clock is a day ahead, and a terminal that sends the amount as text.
  const skewed = at(20, 10);
  txn('user_13', 'future', skewed + 86_400_000, skewed + netDelay(), 18.5);
  const bad = at(22, 30);
  txn('user_05', 'invalid', bad, bad + netDelay(), '12,50');

  out.sort((a, b) => a.arrivalTime - b.arrivalTime);
  const waves: StoryWave[] = [];
  for (let until = start + WAVE_MS; until <= start + (STORY_MINUTES + 2) * MIN; until += WAVE_MS) {
    const records = out.filter((r) => r.arrivalTime < until && r.arrivalTime >= until - WAVE_MS);
    waves.push({ until, records });
  }
  // The card holder disputes every payment of the drained account; the chargebacks reach the labels stream 2 to 5
  // days later, one after 35 days: beyond the 30-day label window.
  const DAY = 86_400_000;
  const labels: StoryLabel[] = out
    .filter((r) => r.role === 'fraud')
    .map((r, i) => {
      const eventId = (JSON.parse(r.data) as { event_id: string }).event_id;
      const labelTime = r.eventTime + (i === 5 ? 35 * DAY : Math.round((2 + rnd() * 3) * DAY));
      return { eventId, key: r.user, label: true, labelTime, data: JSON.stringify({ eventId, key: r.user, label: true, labelTime: iso(labelTime) }) };
    })
    .sort((a, b) => a.labelTime - b.labelTime);
  return { start, fraudster: FRAUDSTER, commuter: COMMUTER, records: out, waves, labels, newcomersFrom };
}
