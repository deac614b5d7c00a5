/** `[#########.........]  45.0%  12,345/27,300 vectors  1,234/s  part 1/2  ETA 12s` sized to the terminal. */
export function formatProgressLine(
  progress: { done: number; total: number; unit: string; startedMs: number; nowMs: number; note?: string },
  columns = 80,
): string {
  const fraction = progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;
  const seconds = Math.max(1e-3, (progress.nowMs - progress.startedMs) / 1000);
  const rate = progress.done / seconds;
  const eta = rate > 0 && progress.done < progress.total ? (progress.total - progress.done) / rate : null;
  const tail =
    `${(fraction * 100).toFixed(1).padStart(5)}%  ${count(progress.done)}/${count(progress.total)} ${progress.unit}  ` +
    `${count(Math.round(rate))}/s${progress.note ? `  ${progress.note}` : ''}${eta !== null ? `  ETA ${formatSeconds(eta)}` : ''}`;
  const width = Math.max(10, Math.min(40, columns - tail.length - 4));
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${tail}`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
