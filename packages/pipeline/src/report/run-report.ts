import type { S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { fetchInput } from '../inputs/fetch-input.js';
import type { Manifest } from '../run/manifest.js';
import { parseManifest } from '../run/manifest.js';
import { requestedModelIdentity } from '../run/model-binding.js';
import { MANIFEST_KEY, openRunOutput } from '../run/output-layout.js';
import type { RunStore } from '../run/run-store.js';
import { runNotFound } from '../errors.js';
import { readShardPairColumns, readShardReportColumns } from '../formats/shard-reader.js';
import { redactUri } from '../uri.js';
import { type DistanceDistribution, distanceDistribution } from './distance-distribution.js';

/** Everything the HTML report shows, gathered from Redis, the manifest and the shards. */
export interface RunReport {
  runId: string;
  state: string;
  createdAt: string;
  finalizedAt: string | null;
  out: string;
  totals: {
    inputs: number | null;
    rows: number;
    ok: number;
    error: number;
    duplicates: number;
    chunks: number;
  };
  model: {
    variant: string;
    source: string;
    untrained: boolean;
    seed: number | null;
    weightsSha256: string | null;
    providers: string[];
  };
  preprocessing: Record<string, unknown>;
  /** Committed rows over time: one point per chunk commit, in commit order. */
  commits: { at: string; rows: number; ok: number; error: number; workerId: string }[];
  errors: { reason: string; count: number; examples: string[] }[];
  /** Top-1 labels with thumbnails; empty for a pair run. */
  labels: { label: string; count: number; thumbnails: Thumbnail[] }[];
  /** A pair run (`--pairs`): its rows are pairs, and the report shows their distances instead of labels. */
  pairs: { distances: DistanceDistribution | null } | null;
  workers: {
    workerId: string;
    provider: string;
    chunks: number;
    rows: number;
    ok: number;
    error: number;
    first: string;
    last: string;
  }[];
  generatedAt: string;
}

/** A small JPEG of an ok image, inline, or why there is none. */
export type Thumbnail = { uri: string; dataUri: string } | { uri: string; unavailable: string };

export interface RunReportOptions {
  runStore: RunStore;
  s3: S3Client | (() => S3Client);
  /** Labels with a thumbnail grid. Default 6. */
  topLabels?: number;
  /** Thumbnails per label. Default 8. */
  thumbnailsPerLabel?: number;
  /** Example URIs per error reason. Default 5. */
  examplesPerReason?: number;
  /** Thumbnail edge in pixels. Default 96. */
  thumbnailPx?: number;
}

/**
 * Gathers a run's report: counts and per-chunk commit times from Redis, model provenance from the manifest (the
 * requested model before the run is finalised), error examples and top-label images from its shards. Thumbnails
 * are fetched like inputs (local, s3://, http(s)) and shrunk to inline JPEGs, so the page is one file.
 */
export async function collectRunReport(runId: string, options: RunReportOptions): Promise<RunReport> {
  const status = await options.runStore.status(runId);
  if (!status) throw runNotFound(runId);
  const { spec } = status;
  const store = openRunOutput(spec.output.out, runId, { s3: options.s3 });
  let manifest: Manifest | null = null;
  if (status.state === 'finalized' && (await store.exists(MANIFEST_KEY))) {
    manifest = parseManifest(await store.get(MANIFEST_KEY));
  }
  const requested = requestedModelIdentity(spec.model);
  // The run's own --redact-params as well as the built-in list, as its outputs are redacted.
  const redact = (uri: string) => redactUri(uri, spec.output.redactParams ?? []);
  const records = [...status.records].sort((a, b) => a.committedAt.localeCompare(b.committedAt));

  const errors = new Map<string, { count: number; examples: string[] }>();
  const labels = new Map<string, { count: number; uris: string[] }>();
  for (const record of records) {
    for (const [reason, n] of Object.entries(record.errorsByReason)) {
      const entry = errors.get(reason) ?? { count: 0, examples: [] };
      entry.count += n;
      errors.set(reason, entry);
    }
    for (const [label, n] of Object.entries(record.top1Histogram)) {
      const entry = labels.get(label) ?? { count: 0, uris: [] };
      entry.count += n;
      labels.set(label, entry);
    }
  }
  // A pair run's shards hold distances, not labels: every shard is read for their distribution.
  const pairRun = spec.output.pairs !== undefined;
  const distances: number[] = [];
  if (pairRun) {
    for (const record of records) {
      const columns = await readShardPairColumns(await store.get(record.shardKey));
      columns.uri.forEach((uri, i) => {
        const distance = columns.distance[i];
        if (columns.status[i] === 'ok' && distance !== null && distance !== undefined)
          distances.push(distance);
        const reason = columns.error[i];
        const entry = reason ? errors.get(reason) : undefined;
        if (columns.status[i] !== 'ok' && entry && entry.examples.length < (options.examplesPerReason ?? 5))
          entry.examples.push(`${redact(uri)} ↔ ${redact(columns.b[i] ?? '')}`);
      });
    }
    labels.clear();
  }
  const topLabels = [...labels]
    .sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0]))
    .slice(0, options.topLabels ?? 6);
  const wanted = new Set(topLabels.map(([label]) => label));
  const perLabel = options.thumbnailsPerLabel ?? 8;
  const perReason = options.examplesPerReason ?? 5;
  // Shards are read until every error reason has its examples and every top label its images (a pair run's were
  // all read above).
  for (const record of pairRun ? [] : records) {
    const done =
      [...errors.values()].every((e) => e.examples.length >= Math.min(perReason, e.count)) &&
      topLabels.every(([, l]) => l.uris.length >= Math.min(perLabel, l.count));
    if (done) break;
    const columns = await readShardReportColumns(await store.get(record.shardKey));
    columns.uri.forEach((uri, i) => {
      const reason = columns.error[i];
      if (columns.status[i] !== 'ok' && reason) {
        const entry = errors.get(reason);
        if (entry && entry.examples.length < perReason) entry.examples.push(redact(uri));
        return;
      }
      const label = columns.top1[i];
      const entry = label ? labels.get(label) : undefined;
      if (label && wanted.has(label) && entry && entry.uris.length < perLabel) entry.uris.push(uri);
    });
  }

  const px = options.thumbnailPx ?? 96;
  const labelRows = [];
  for (const [label, { count, uris }] of topLabels) {
    const thumbnails = await Promise.all(uris.map((uri) => thumbnail(uri, redact(uri), px, options.s3)));
    labelRows.push({ label, count, thumbnails });
  }

  const workers = new Map<string, RunReport['workers'][number]>();
  for (const r of records) {
    const w = workers.get(r.workerId) ?? {
      workerId: r.workerId,
      provider: r.provider,
      chunks: 0,
      rows: 0,
      ok: 0,
      error: 0,
      first: r.committedAt,
      last: r.committedAt,
    };
    w.chunks += 1;
    w.rows += r.rows;
    w.ok += r.ok;
    w.error += r.error;
    w.last = r.committedAt;
    workers.set(r.workerId, w);
  }

  return {
    runId,
    state: status.state,
    createdAt: spec.createdAt,
    finalizedAt: manifest?.finalizedAt ?? status.manifestWrittenAt,
    out: redact(`${spec.output.out.replace(/\/+$/, '')}/${runId}`),
    totals: {
      inputs: status.totalInputs,
      rows: status.rows,
      ok: status.ok,
      error: status.error,
      duplicates: records.reduce((n, r) => n + (r.duplicates ?? 0), 0),
      chunks: status.totalChunks ?? records.length,
    },
    model: {
      variant: manifest?.model.variant ?? requested.variant,
      source: manifest?.model.source ?? requested.source,
      untrained: manifest?.model.untrained ?? requested.untrained,
      seed: manifest?.model.seed ?? requested.seed,
      weightsSha256: manifest?.model.weightsSha256 ?? status.modelSha256,
      providers: manifest?.model.providers ?? [...new Set(records.map((r) => r.provider))].sort(),
    },
    preprocessing: (manifest?.preprocessing as Record<string, unknown> | undefined) ?? { ...spec.preprocess },
    commits: records.map((r) => ({
      at: r.committedAt,
      rows: r.rows,
      ok: r.ok,
      error: r.error,
      workerId: r.workerId,
    })),
    errors: [...errors]
      .map(([reason, e]) => ({ reason, ...e }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
    labels: labelRows,
    pairs: pairRun ? { distances: distanceDistribution(distances) } : null,
    workers: [...workers.values()].sort((a, b) => b.rows - a.rows || a.workerId.localeCompare(b.workerId)),
    generatedAt: new Date().toISOString(),
  };
}

async function thumbnail(
  uri: string,
  shown: string,
  px: number,
  s3: RunReportOptions['s3'],
): Promise<Thumbnail> {
  try {
    const { bytes } = await fetchInput(uri, { s3, maxBytes: 64 * 1024 * 1024 });
    const jpeg = await sharp(bytes, { failOn: 'none', limitInputPixels: 100_000_000 })
      .rotate()
      .resize(px, px, { fit: 'cover' })
      .jpeg({ quality: 70 })
      .toBuffer();
    return { uri: shown, dataUri: `data:image/jpeg;base64,${jpeg.toString('base64')}` };
  } catch (error) {
    return { uri: shown, unavailable: (error as Error).message.slice(0, 200) };
  }
}
