import { describe, expect, it } from 'vitest';
import { FanoutError } from '../../lib/errors.ts';
import { Lifecycle, type LifecycleState } from '../../lib/lifecycle.ts';

type Method = 'started' | 'drain' | 'fail' | 'stopped';
const METHODS: readonly Method[] = ['started', 'drain', 'fail', 'stopped'];
const STATES: readonly LifecycleState[] = ['starting', 'running', 'draining', 'stopped', 'failed'];

/** A lifecycle driven to `state` through legal calls. */
function at(state: LifecycleState): Lifecycle {
  const l = new Lifecycle('test service');
  const path: Record<LifecycleState, readonly Method[]> = {
    starting: [],
    running: ['started'],
    draining: ['started', 'drain'],
    stopped: ['started', 'drain', 'stopped'],
    failed: ['started', 'fail'],
  };
  for (const m of path[state]) l[m]();
  expect(l.state).toBe(state);
  return l;
}

/** Every legal (state, method) pair and where it leads; every other pair throws. */
const LEGAL: Readonly<Record<LifecycleState, Partial<Record<Method, LifecycleState>>>> = {
  starting: { started: 'running', drain: 'draining', fail: 'failed', stopped: 'stopped' },
  running: { drain: 'draining', fail: 'failed', stopped: 'stopped' },
  draining: { fail: 'failed', stopped: 'stopped' },
  stopped: {},
  failed: {},
};

describe('Lifecycle', () => {
  it('starts in starting', () => {
    expect(new Lifecycle('x').state).toBe('starting');
  });

  for (const from of STATES) {
    for (const method of METHODS) {
      const to = LEGAL[from][method];
      if (to) {
        it(`${method}() moves ${from} to ${to}`, () => {
          const l = at(from);
          l[method]();
          expect(l.state).toBe(to);
        });
      } else {
        it(`${method}() from ${from} throws and leaves the state alone`, () => {
          const l = at(from);
          let thrown: unknown;
          try {
            l[method]();
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeInstanceOf(FanoutError);
          expect(thrown).toMatchObject({ code: 'ILLEGAL_TRANSITION', retriable: false });
          expect((thrown as Error).message).toMatch(
            new RegExp(`^test service: ${method}\\(\\) cannot move ${from} to \\w+`),
          );
          expect(l.state).toBe(from);
        });
      }
    }
  }

  it('is() tells whether the state is one of those given', () => {
    const l = at('running');
    expect(l.is('starting', 'running')).toBe(true);
    expect(l.is('draining')).toBe(false);
  });
});
