/** CPU seconds (user + system) this process has used since `start` (a `process.cpuUsage()`). */
export function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return Math.round((used.user + used.system) / 1e4) / 100;
}
