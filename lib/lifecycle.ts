/**
 * The lifecycle of a long-running service (the CDC connector, the fan-out worker): explicit
 * states and, per method, the states it may be called in (KafkaJS's transaction manager guards its
 * methods the same way). `failed` and `stopped` are final. A call from any other state is a bug in
 * the owner, not a runtime condition: it throws, naming the method and both states.
 */
import { FanoutError } from './errors.ts';

export type LifecycleState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

type Method = 'started' | 'drain' | 'fail' | 'stopped';

const TRANSITIONS: Readonly<
  Record<Method, { readonly from: readonly LifecycleState[]; readonly to: LifecycleState }>
> = {
  started: { from: ['starting'], to: 'running' },
  drain: { from: ['starting', 'running'], to: 'draining' },
  fail: { from: ['starting', 'running', 'draining'], to: 'failed' },
  // From starting: closed before it ran. From running: its work ended without a drain.
  stopped: { from: ['starting', 'running', 'draining'], to: 'stopped' },
};

export class Lifecycle {
  readonly #owner: string;
  #state: LifecycleState = 'starting';

  /** `owner` names the service in the error an illegal call throws. */
  constructor(owner: string) {
    this.#owner = owner;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** True in any of these states. */
  is(...states: readonly LifecycleState[]): boolean {
    return states.includes(this.#state);
  }

  /** starting → running: it has started its work. */
  started(): void {
    this.#move('started');
  }

  /** starting | running → draining: a graceful stop has begun. */
  drain(): void {
    this.#move('drain');
  }

  /** starting | running | draining → failed (final). */
  fail(): void {
    this.#move('fail');
  }

  /** starting | running | draining → stopped (final). */
  stopped(): void {
    this.#move('stopped');
  }

  #move(method: Method): void {
    const { from, to } = TRANSITIONS[method];
    if (!from.includes(this.#state))
      throw new FanoutError(
        'ILLEGAL_TRANSITION',
        `${this.#owner}: ${method}() cannot move ${this.#state} to ${to} (only from ${from.join(' or ')})`,
        { retriable: false },
      );
    this.#state = to;
  }
}
