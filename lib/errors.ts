import { Duration, Token } from 'aws-cdk-lib';

/** A construct was given a prop value or a combination of props that cannot deploy or would misbehave. */
export class PipelinePropsError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'PipelinePropsError';
  }
}

/**
 * Checks that `value` is an integer in [min, max]. Unresolved tokens are let through: their value is only
 * known at deploy time, where the service validates it.
 */
export function checkInteger(owner: string, prop: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PipelinePropsError(`${owner}: ${prop} must be an integer from ${min} to ${max} (got ${value})`);
  }
}

/** Checks that an alarm threshold or similar quantity is a finite number above zero. */
export function checkPositive(owner: string, prop: string, value: number | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value <= 0) {
    throw new PipelinePropsError(`${owner}: ${prop} must be greater than 0 (got ${value})`);
  }
}

/** Checks that a duration is above zero and at most `max`. */
export function checkDuration(owner: string, prop: string, value: Duration | undefined, max?: Duration): void {
  if (value === undefined || value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms <= 0) throw new PipelinePropsError(`${owner}: ${prop} must be longer than 0 (got ${value.toHumanString()})`);
  if (max !== undefined && ms > max.toMilliseconds()) {
    throw new PipelinePropsError(`${owner}: ${prop} must be at most ${max.toHumanString()} (got ${value.toHumanString()})`);
  }
}
