/**
 * The pipeline under test, as a process of its own (its CPU is its own, and the bench's load
 * generator does not share its event loop): the CDC connector and one fan-out worker, as
 * `fanout run` runs them, on the benchmark deployment's topics and groups.
 *
 *   node bench/stream/pipeline.ts [key=value config settings...]
 *
 * Prints `ready` and its Node flags once both run; stops gracefully on SIGTERM. The parent side is {@link startPipeline}.
 */
import '../../connectors/kafka/threadpool.ts'; // first: before anything uses libuv's thread pool
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Context } from '../../cli/context.ts';
import { startRun } from '../../cli/commands/run.ts';
import { NODE_FLAGS } from '../node-flags.ts';

export interface PipelineProcess {
  readonly pid: number;
  /** The Node flags it runs with, as it reports them (`process.execArgv`). */
  readonly nodeFlags: readonly string[];
  /** Stops it gracefully; resolves once it exited. */
  readonly stop: () => Promise<void>;
}

/** Spawns the pipeline process and waits until it says it is ready. */
export async function startPipeline(sets: readonly string[]): Promise<PipelineProcess> {
  // The product's Node flags: the pipeline measured as `fanout run` runs it.
  const child = spawn(process.execPath, [...NODE_FLAGS, import.meta.filename, ...sets], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  // The bench ending any way (bench/exit.ts turns signals into an exit) stops the pipeline too.
  const stopOnExit = (): void => void child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  void exited.then(() => process.off('exit', stopOnExit));
  const nodeFlags = await new Promise<string[]>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += String(chunk);
      const ready = /^ready (.*)\n/m.exec(out);
      if (ready) resolve(JSON.parse(ready[1]!) as string[]);
    });
    void exited.then(([code]) => reject(new Error(`the pipeline process exited (${code})`)));
  });
  return {
    pid: child.pid!,
    nodeFlags,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

if (process.argv[1] === import.meta.filename) {
  const ctx = new Context({ set: process.argv.slice(2) });
  const running = await startRun(ctx, '0');
  process.stdout.write(`ready ${JSON.stringify(process.execArgv)}\n`);
  const stop = async (): Promise<void> => {
    await running.stop();
    await ctx.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  await running.done.catch((err: unknown) => {
    process.stderr.write(`pipeline failed: ${String(err)}\n`);
    process.exit(1);
  });
}
