import { type DistanceTally, mergeDistances } from './chunk-record.js';
import { redactedModelSpec } from './model-binding.js';
import type { RunProgress } from './progress.js';
import type { RunSpec } from './run-spec.js';

/** What a run's rows are, for summaries: `pairs` for a pair run (`--pairs`), else `images`. */
export function rowNoun(spec: Pick<RunSpec, 'output'>): 'pairs' | 'images' {
  return spec.output.pairs !== undefined ? 'pairs' : 'images';
}

/** `min 0.0123  mean 0.210  max 0.874 (perceptual_distance of 8 ok pairs)`, or null without distances. */
export function formatDistances(distance: DistanceTally | null): string | null {
  if (distance === null || distance.count === 0) return null;
  const value = (n: number) => n.toPrecision(4);
  return `min ${value(distance.min)}  mean ${value(distance.sum / distance.count)}  max ${value(distance.max)} (perceptual_distance of ${distance.count} ok pair${distance.count === 1 ? '' : 's'})`;
}

/** A human summary of a run: state, counts, rate, ETA and the most common errors. */
export function formatStatus(progress: RunProgress): string {
  const { status } = progress;
  const tarShards = status.tarShards ?? 0;
  // With tar shards, the number of images is known only once every shard is read.
  const total = tarShards > 0 ? null : status.totalInputs;
  const model = redactedModelSpec(status.spec.model, status.spec.output.redactParams);
  const { runId } = status.spec;
  const noun = rowNoun(status.spec);
  const again = `submit the run again with the same sources and --run ${runId} to enqueue them again`;
  const stuck = status.stuck.length;
  const state =
    stuck > 0 && status.state !== 'cancelled'
      ? `stuck: ${stuck} chunk${stuck === 1 ? '' : 's'} failed for good without its error rows written; ${again}`
      : `${status.state}${status.state === 'enqueuing' ? ' (producer still listing inputs)' : ''}`;
  const lines = [
    `run ${runId}  ${state}`,
    `  out      ${status.spec.output.out}/${status.spec.runId}/`,
    `  model    ${model.model}${model.weights ? ` weights=${model.weights}` : model.onnx ? ` onnx=${model.onnx}` : ` UNTRAINED (seeded init, seed ${model.seed})`}`,
    `  ${noun.padEnd(8)} ${status.rows}${total !== null ? ` / ${total}` : ''} done, ${status.ok} ok, ${status.error} failed${tarShards > 0 ? ` (inputs include ${tarShards} tar shards)` : ''}`,
    `  chunks   ${status.committedChunks}${status.totalChunks !== null ? ` / ${status.totalChunks}` : ''}`,
    `  rate     ${progress.imagesPerSecond.toFixed(1)} ${noun}/s${progress.etaSeconds !== null ? `, ETA ${formatDuration(progress.etaSeconds)}` : ''}`,
  ];
  const distances = formatDistances(mergeDistances(status.records));
  if (distances !== null) lines.push(`  distance ${distances}`);
  const modelError = status.modelError;
  if (modelError) {
    lines.push(
      modelError.permanent
        ? `  failed   the model could not be loaded, so the run's chunks fail: ${modelError.message}. Fix the model file, then run \`vgg-producer retry-failed ${status.spec.runId}\``
        : `  model    could not be loaded yet (retrying): ${modelError.message}`,
    );
  }
  const reasons = new Map<string, number>();
  for (const r of status.records) {
    for (const [reason, n] of Object.entries(r.errorsByReason))
      reasons.set(reason, (reasons.get(reason) ?? 0) + n);
  }
  if (reasons.size > 0) {
    const list = [...reasons].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason} ${n}`);
    lines.push(`  errors   ${list.join(', ')}`);
  }
  for (const chunk of status.stuck.slice(0, 5))
    lines.push(`  stuck    chunk ${chunk.chunkIndex}: ${chunk.reason} (${chunk.workerId}, ${chunk.at})`);
  if (status.finalizeError !== null && status.state === 'running')
    lines.push(
      `  manifest not written: ${status.finalizeError}; submit the run again with the same sources and --run ${runId} to finalise it`,
    );
  if (status.state === 'finalized')
    lines.push(`  manifest ${status.spec.output.out}/${status.spec.runId}/_manifest.json`);
  return lines.join('\n');
}

/** `[#########.........]  45.0%  123/273  12.3 img/s  ETA 1m05s` sized to the terminal. */
export function formatProgressBar(progress: RunProgress, columns = 80): string {
  const { status } = progress;
  const fraction = progress.fraction ?? 0;
  const totalImages = (status.tarShards ?? 0) > 0 ? '?' : (status.totalInputs ?? '?');
  const rate = rowNoun(status.spec) === 'pairs' ? 'pairs/s' : 'img/s';
  const tail = `${(fraction * 100).toFixed(1).padStart(5)}%  ${status.rows}/${totalImages}  ${progress.imagesPerSecond.toFixed(1)} ${rate}${progress.etaSeconds !== null ? `  ETA ${formatDuration(progress.etaSeconds)}` : ''}${status.error ? `  ${status.error} failed` : ''}`;
  const width = Math.max(10, Math.min(50, columns - tail.length - 4));
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${tail}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
