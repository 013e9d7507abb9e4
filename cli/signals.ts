/**
 * The one place that handles process signals: the first SIGINT/SIGTERM asks `stop` to finish
 * gracefully; a second one, or the deadline passing, exits at once.
 */
export function onShutdown(
  stop: () => Promise<void>,
  deadlineMs: number,
  log: (msg: string) => void,
): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    log(`${signal}: stopping (deadline ${deadlineMs} ms)`);
    const timer = setTimeout(() => {
      log('graceful stop missed its deadline: exiting');
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    stop().then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
