import cliProgress from 'cli-progress';

/** A progress bar on a terminal; on a pipe (CI, logs) a line every `every` percent instead. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

export function progress(
  label: string,
  total: number,
  out: NodeJS.WriteStream = process.stderr,
): Progress {
  if (out.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: out,
        format: `${label} [{bar}] {percentage}% {value}/{total} {rate}/s eta {eta_formatted}`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    const started = Date.now();
    bar.start(total, 0, { rate: 0 });
    // The bar hides the cursor: a Ctrl-C (or SIGTERM), or a failure, must give it back before the
    // process ends, or the user's shell is left without one. The signal is then raised again, so it
    // ends the process as it would have (unless the command handles it itself).
    const onSignal = (signal: NodeJS.Signals): void => {
      stop();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    const stop = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', stop);
      bar.stop();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', stop); // a failure ends the command with the bar still drawn
    return {
      update: (done) =>
        bar.update(done, {
          rate: Math.round(done / Math.max((Date.now() - started) / 1000, 0.001)),
        }),
      stop,
    };
  }
  let lastDecile = -1;
  const started = Date.now();
  return {
    update(done) {
      const decile = Math.floor((done / Math.max(total, 1)) * 10);
      if (decile === lastDecile) return;
      lastDecile = decile;
      const rate = Math.round(done / Math.max((Date.now() - started) / 1000, 0.001));
      out.write(`${label} ${done}/${total} (${decile * 10}%) ${rate}/s\n`);
    },
    stop() {},
  };
}
