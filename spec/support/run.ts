/** Test support: subscribe to a pipeline and keep what it did — its emissions and how it ended. */
import type { Observable, Subscription } from 'rxjs';
import type { PutRecordsEmission } from '../../src/index.js';

export interface Run<T> {
  readonly emissions: PutRecordsEmission<T>[];
  error: unknown;
  completed: boolean;
  errored: boolean;
  readonly done: boolean;
  readonly subscription: Subscription;
  /** Resolves (never rejects) once the Observable completed or errored. */
  readonly finished: Promise<void>;
}

/** Subscribes now; the run fills in as the Observable emits and ends. */
export function start<T>(observable: Observable<PutRecordsEmission<T>>): Run<T> {
  let settle!: () => void;
  const finished = new Promise<void>((r) => (settle = r));
  const run = {
    emissions: [] as PutRecordsEmission<T>[],
    error: undefined as unknown,
    completed: false,
    errored: false,
    get done() {
      return this.completed || this.errored;
    },
    finished,
    subscription: undefined as unknown as Subscription,
  };
  run.subscription = observable.subscribe({
    next: (e) => run.emissions.push(e),
    error: (e) => {
      run.error = e;
      run.errored = true;
      settle();
    },
    complete: () => {
      run.completed = true;
      settle();
    },
  });
  return run;
}

/** Subscribes and resolves once the Observable completed or errored. */
export async function runToEnd<T>(observable: Observable<PutRecordsEmission<T>>): Promise<Run<T>> {
  const run = start(observable);
  await run.finished;
  return run;
}
