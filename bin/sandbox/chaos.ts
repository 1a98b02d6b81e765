/**
 * Fault injection for the sandbox: in a fraction of invocations the consumer "crashes" after a random number of
 * its DynamoDB/SQS writes, the way a Lambda timeout or out-of-memory kill would cut a batch short. The event
 * source mapping then retries (and bisects) the batch, so the outputs must come out exactly as without faults.
 */
import { prng } from '../bench/workload';

export class InjectedFault extends Error {
  public constructor(what: string, afterWrites: number) {
    super(`injected fault before ${what} (after ${afterWrites} writes of this invocation)`);
    this.name = 'InjectedFault';
  }
}

export class ChaosError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'ChaosError';
  }
}

export interface FaultInjectorOptions {
  /** Fraction of invocations that fail, 0 to 1. */
  readonly probability: number;
  /** @default 1 */
  readonly seed?: number;
}

export class FaultInjector {
  /** Invocations that reached the handler. */
  public invocations = 0;
  /** Invocations chosen to fail. */
  public armed = 0;
  /** Faults actually thrown (an armed invocation with fewer writes than its budget completes normally). */
  public faults = 0;
  private readonly rnd: () => number;
  /** Writes the current invocation may still make before failing; undefined when it is not chosen. */
  private budget: number | undefined;
  private writesThisInvocation = 0;
  /** Most writes seen in one invocation, so budgets cover the whole range of writes an invocation makes. */
  private maxWrites = 8;

  public constructor(private readonly o: FaultInjectorOptions) {
    if (!(o.probability >= 0 && o.probability <= 1)) throw new ChaosError(`--chaos must be a probability from 0 to 1, got ${o.probability}`);
    this.rnd = prng(o.seed ?? 1);
  }

  /** Decides, per invocation, whether and after how many writes it fails. */
  public readonly beforeInvoke = (): void => {
    this.invocations++;
    this.maxWrites = Math.max(this.maxWrites, this.writesThisInvocation);
    this.writesThisInvocation = 0;
    this.budget = undefined;
    if (this.o.probability > 0 && this.rnd() < this.o.probability) {
      this.armed++;
      this.budget = Math.floor(this.rnd() * (this.maxWrites + 1));
    }
  };

  /** Called before each write; throws once the invocation's budget is used up. */
  public readonly writeGate = async (what: string): Promise<void> => {
    const done = this.writesThisInvocation++;
    if (this.budget === undefined) return;
    if (this.budget-- <= 0) {
      this.budget = undefined;
      this.faults++;
      throw new InjectedFault(what, done);
    }
  };
}
