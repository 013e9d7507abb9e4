/**
 * The Node flags the product runs with (./fanout, the Dockerfile): every process a bench times as
 * the product is started with them, so it is measured as users run it. Without them V8 sizes the
 * heap for the host (a young generation of up to 2 × 64 MiB here), not for the worker.
 */
export const NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=16',
  '--max-old-space-size=1024',
];
