import type { BuildIndexResult, FindDuplicatesResult, IndexManifest, QueryMatch } from 'vgg-index';
import { count, formatBytes, formatSeconds } from './progress-line.js';

/** One line naming an index: tap, metric, quantisation, size, run, and the untrained warning when it applies. */
export function describeIndex(uri: string, manifest: IndexManifest): string {
  const { settings, counts } = manifest;
  const untrained = manifest.run.model.untrained
    ? '  ** UNTRAINED model: neighbours reflect random features **'
    : '';
  return (
    `index ${uri}\n  ${manifest.tap.name} (${manifest.tap.dim}-d), ${settings.metric}, ${settings.quantization}; ` +
    `${count(counts.vectors)} vectors in ${manifest.parts.length} part${manifest.parts.length === 1 ? '' : 's'}; ` +
    `run ${manifest.run.runId} (${manifest.run.model.variant})${untrained}`
  );
}

export function formatBuildSummary(result: BuildIndexResult, seconds: number): string {
  const { manifest } = result;
  const bytes = manifest.parts.reduce((sum, p) => sum + p.indexBytes, 0);
  const { counts, settings } = manifest;
  const lines = [
    `built ${describeIndex(result.uri, manifest)}`,
    `  vectors   ${count(counts.vectors)} in ${formatSeconds(seconds)} (${count(Math.round(counts.vectors / Math.max(seconds, 1e-3)))}/s)` +
      `; ${count(counts.errorRows)} failed rows have no vector` +
      (counts.skippedRows > 0
        ? `; ${count(counts.skippedRows)} unusable vectors skipped (NaN or all zero)`
        : ''),
    `  files     ${formatBytes(bytes)} of index (${count(Math.round(bytes / counts.vectors))} bytes/vector) + sidecars`,
    `  settings  M=${settings.connectivity} efConstruction=${settings.expansionAdd} ef=${settings.expansionSearch}` +
      `${manifest.l2Normalized ? '; vectors are L2-normalised' : ''}`,
  ];
  if (manifest.run.model.untrained) {
    lines.push('  note      the run used seeded, UNTRAINED weights: its embeddings are random features.');
  }
  return lines.join('\n');
}

export function formatMatches(matches: readonly QueryMatch[]): string {
  const lines = ['  rank  distance  uri'];
  for (const m of matches) {
    lines.push(`  ${String(m.rank).padStart(4)}  ${m.distance.toFixed(5).padStart(8)}  ${m.uri}`);
  }
  if (matches.length === 0) lines.push('  (no neighbours)');
  return lines.join('\n');
}

export function formatDedupSummary(result: FindDuplicatesResult, largest = 5): string {
  const { summary } = result;
  const lines = [
    `near duplicates at distance <= ${summary.threshold} among ${count(summary.vectors)} vectors`,
    `  pairs     ${count(summary.pairs)} (${count(summary.exactPairs)} identical bytes, ${count(summary.nearPairs)} near)`,
    `  clusters  ${count(summary.clusters)}, holding ${count(summary.duplicateRows)} rows beyond one per cluster`,
    `  written   ${result.out} (pairs.parquet, clusters.parquet, summary.json)`,
  ];
  const bySize = new Map<number, { size: number; uris: string[] }>();
  for (const m of result.clusters) {
    const entry = bySize.get(m.cluster) ?? { size: m.size, uris: [] };
    entry.uris.push(m.uri);
    bySize.set(m.cluster, entry);
  }
  const top = [...bySize.entries()].sort((a, b) => b[1].size - a[1].size || a[0] - b[0]).slice(0, largest);
  if (top.length > 0) lines.push('  largest clusters:');
  for (const [cluster, { size, uris }] of top) {
    lines.push(`    #${cluster} (${size}): ${uris.slice(0, 3).join(', ')}${uris.length > 3 ? ', …' : ''}`);
  }
  return lines.join('\n');
}

export function formatIndexInfo(uri: string, m: IndexManifest): string {
  const lines = [
    describeIndex(uri, m),
    `  built ${m.createdAt} with ${m.library}; M=${m.settings.connectivity} efConstruction=${m.settings.expansionAdd} ef=${m.settings.expansionSearch}`,
    `  run ${m.run.uri} (manifest sha256 ${m.run.manifestSha256.slice(0, 12)}…)`,
  ];
  for (const p of m.parts) {
    lines.push(
      `  part ${p.part}: ids ${p.firstId}…${p.firstId + p.vectors - 1}, ${formatBytes(p.indexBytes)}, ${p.indexKey}`,
    );
  }
  return lines.join('\n');
}
