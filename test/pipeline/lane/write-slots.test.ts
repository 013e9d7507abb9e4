import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Priority } from '../../../pipeline/lane/credit.ts';
import { WriteSlots } from '../../../pipeline/lane/write-slots.ts';

/** Writes that end when the test says so, logged in the order they start. */
function harness(slots: WriteSlots) {
  const started: string[] = [];
  const running = new Map<string, Subject<void>>();
  const done: string[] = [];
  const submit = (name: string, priority: Priority) =>
    slots
      .run(priority, () => {
        started.push(name);
        const s = new Subject<void>();
        running.set(name, s);
        return s;
      })
      .subscribe({ complete: () => done.push(name) });
  const end = (name: string): void => {
    const s = running.get(name)!;
    running.delete(name);
    s.complete();
  };
  return { started, running, done, submit, end };
}

describe('WriteSlots (timeline writes in flight, small first)', () => {
  it('runs at most its capacity at once, and a small write queued after bulk ones first', () => {
    const slots = new WriteSlots(2);
    const h = harness(slots);
    for (const b of ['b1', 'b2', 'b3', 'b4']) h.submit(b, 'bulk');
    h.submit('s1', 'small');
    expect(h.started).toEqual(['b1', 'b2']);
    expect(slots.waiting('bulk')).toBe(2);
    h.end('b1');
    expect(h.started).toEqual(['b1', 'b2', 's1']); // ahead of b3, queued before it
    h.end('b2');
    h.end('s1');
    expect(h.started).toEqual(['b1', 'b2', 's1', 'b3', 'b4']);
    expect(slots.running()).toBe(2);
  });

  it('never starves bulk: while a bulk write waits, small ones hold all slots but one', () => {
    const slots = new WriteSlots(4);
    const h = harness(slots);
    let small = 0;
    const more = (): void => {
      while (slots.waiting('small') < 8) h.submit(`s${small++}`, 'small');
    };
    more();
    for (let i = 0; i < 3; i++) h.submit(`b${i}`, 'bulk');
    // Small writes always waiting (4 of them running first), ending one at a time oldest first:
    // every bulk write still runs.
    for (let step = 0; step < 40 && h.done.filter((n) => n.startsWith('b')).length < 3; step++) {
      const [oldest] = h.running.keys();
      h.end(oldest!);
      more();
      expect(slots.running()).toBe(4);
      if (slots.waiting('bulk') > 0) expect(slots.running('small')).toBeLessThanOrEqual(3);
    }
    expect(h.done.filter((n) => n.startsWith('b'))).toEqual(['b0', 'b1', 'b2']);
    expect(slots.waiting('small')).toBe(8); // small went on the whole time
  });

  it('takes a write unsubscribed while queued out of the queue, and frees the slot of a running one', () => {
    const slots = new WriteSlots(1);
    const h = harness(slots);
    const first = h.submit('a', 'small');
    const second = h.submit('b', 'small');
    h.submit('c', 'small');
    second.unsubscribe();
    first.unsubscribe(); // running: its slot frees, c (not b) starts
    expect(h.started).toEqual(['a', 'c']);
    expect(slots.running()).toBe(1);
    expect(slots.waiting('small')).toBe(0);
  });

  it('passes a failed write on and frees its slot', () => {
    const slots = new WriteSlots(1);
    const errors: unknown[] = [];
    const boom = new Subject<void>();
    slots.run('bulk', () => boom).subscribe({ error: (e: unknown) => errors.push(e) });
    const h = harness(slots);
    h.submit('next', 'bulk');
    boom.error(new Error('write failed'));
    expect(errors).toHaveLength(1);
    expect(h.started).toEqual(['next']);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new WriteSlots(0)).toThrow(/positive integer/);
  });
});
