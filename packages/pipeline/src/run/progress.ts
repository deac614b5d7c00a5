import type { RunStatus } from './run-store-types.js';

export interface RunProgress {
  status: RunStatus;
  /** Images per second over the run so far (committed rows / elapsed). */
  imagesPerSecond: number;
  /** Seconds left at the current rate, or null when unknown. */
  etaSeconds: number | null;
  fraction: number | null;
}

export function progressOf(status: RunStatus, now = Date.now()): RunProgress {
  const started = Date.parse(status.spec.createdAt);
  const lastCommit = status.records.reduce((t, r) => Math.max(t, Date.parse(r.committedAt)), started);
  const end = status.state === 'finalized' ? lastCommit : now;
  const elapsed = Math.max(0.001, (end - started) / 1000);
  const imagesPerSecond = status.rows / elapsed;
  // Tar shards hold an unknown number of images until read: such runs progress by chunks.
  const byChunks = (status.tarShards ?? 0) > 0;
  const total = byChunks ? status.totalChunks : status.totalInputs;
  const done = byChunks ? status.committedChunks : status.rows;
  const fraction = total ? done / total : total === 0 ? 1 : null;
  const perSecond = byChunks ? status.committedChunks / elapsed : imagesPerSecond;
  const etaSeconds =
    total !== null && perSecond > 0 && status.state !== 'finalized'
      ? Math.max(0, (total - done) / perSecond)
      : null;
  return { status, imagesPerSecond, etaSeconds, fraction };
}
