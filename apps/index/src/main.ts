#!/usr/bin/env node
import { homedir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import {
  buildIndex,
  DEFAULT_HNSW_SETTINGS,
  describeNeighbours,
  findDuplicates,
  INDEX_METRICS,
  INDEX_QUANTIZATIONS,
  type IndexMetric,
  type IndexQuantization,
  IndexReader,
  readIndexManifest,
  readNpyVectors,
  storedVectorOf,
} from 'vgg-index';
import { createS3Client, s3ClientOptionsFromEnv } from 'vgg-pipeline';
import { indexOption, parseNonNegativeNumber, parsePositiveInt } from './cli-flags.js';
import { describeIndex, formatBuildSummary, formatDedupSummary, formatMatches } from './format-output.js';
import { formatBytes, formatProgressLine } from './progress-line.js';

const deps = { s3: () => createS3Client(s3ClientOptionsFromEnv(process.env)) };
const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'vgg-index');

// Ctrl-C stops a build cleanly (its partial files are removed); a second one exits at once.
const abort = new AbortController();
process.on('SIGINT', () => {
  if (abort.signal.aborted) process.exit(130);
  abort.abort(new Error('interrupted'));
});
process.on('SIGTERM', () => abort.abort(new Error('terminated')));

/** Progress on stderr: a bar redrawn in place on a terminal, a line every 5 s otherwise. */
function progressReporter(unit: string) {
  const started = Date.now();
  // Off a terminal (CI logs), short jobs print nothing and long ones a line every 5 s.
  let lastLine = started;
  const tty = process.stderr.isTTY;
  return {
    update(done: number, total: number, note?: string) {
      const line = formatProgressLine(
        { done, total, unit, startedMs: started, nowMs: Date.now(), ...(note ? { note } : {}) },
        process.stderr.columns,
      );
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastLine > 5_000) {
        lastLine = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
    clear() {
      if (tty) process.stderr.write('\r\x1b[2K');
    },
    seconds: () => (Date.now() - started) / 1000,
  };
}

const program = new Command('vgg-index')
  .description(
    "Embedding indexes over a run's outputs: build an HNSW index of one tap (usearch), query it by image, URI or " +
      'vector, and find near-duplicate images. Indexes live in a local directory or under an s3:// prefix.',
  )
  .showHelpAfterError();

program
  .command('build')
  .description(
    "Build an index of one embedding tap of a finished run. Streams the run's shards (local or s3://) following its " +
      '_manifest.json; writes part files, sidecars (id -> uri, sha256, shard key, chunk, row) and index.json last.',
  )
  .argument('<run-output>', 'the run directory, <out>/<run-id>/ (local or s3://)')
  .addOption(
    indexOption(
      '--out <uri>',
      'where the index goes: local directory or s3://bucket/prefix',
    ).makeOptionMandatory(),
  )
  .addOption(indexOption('--tap <name>', "embedding tap to index (default: fc7, or the run's only tap)"))
  .addOption(
    indexOption('--metric <metric>', `distance: ${INDEX_METRICS.join(', ')}`)
      .choices(INDEX_METRICS)
      .default(DEFAULT_HNSW_SETTINGS.metric),
  )
  .addOption(
    indexOption('--quantization <q>', 'stored precision: f32, f16, or i8 (cos only); f16 halves f32 memory')
      .choices(INDEX_QUANTIZATIONS)
      .default(DEFAULT_HNSW_SETTINGS.quantization),
  )
  .addOption(
    indexOption('--connectivity <m>', 'HNSW edges per node (M)')
      .argParser(parsePositiveInt)
      .default(DEFAULT_HNSW_SETTINGS.connectivity),
  )
  .addOption(
    indexOption('--expansion-add <n>', 'HNSW candidates while inserting (efConstruction)')
      .argParser(parsePositiveInt)
      .default(DEFAULT_HNSW_SETTINGS.expansionAdd),
  )
  .addOption(
    indexOption('--expansion-search <n>', 'HNSW candidates per query (ef), stored as the default for queries')
      .argParser(parsePositiveInt)
      .default(DEFAULT_HNSW_SETTINGS.expansionSearch),
  )
  .addOption(
    indexOption(
      '--max-part-vectors <n>',
      "vectors per part (default: what fits in half this machine's memory); bigger runs get several parts",
    ).argParser(parsePositiveInt),
  )
  .addOption(indexOption('--threads <n>', 'native threads (default: all cores)').argParser(parsePositiveInt))
  .addOption(indexOption('--overwrite', 'replace an index already at --out'))
  .option('--json', 'print the index manifest as JSON instead of a summary')
  .action(async (runUri: string, values: BuildValues) => {
    const progress = progressReporter('vectors');
    const result = await buildIndex(
      {
        run: runUri,
        out: values.out,
        tap: values.tap ?? (await defaultTap(runUri)),
        metric: values.metric,
        quantization: values.quantization,
        connectivity: values.connectivity,
        expansionAdd: values.expansionAdd,
        expansionSearch: values.expansionSearch,
        ...(values.maxPartVectors !== undefined ? { maxPartVectors: values.maxPartVectors } : {}),
        ...(values.threads !== undefined ? { threads: values.threads } : {}),
        overwrite: Boolean(values.overwrite),
        signal: abort.signal,
        onProgress: (p) =>
          progress.update(
            p.vectors,
            p.expectedVectors,
            `part ${Math.min(p.part + 1, p.parts)}/${p.parts}${p.stage === 'saving' ? ' saving' : ''}`,
          ),
      },
      deps,
    );
    progress.clear();
    console.log(
      values.json ? JSON.stringify(result.manifest, null, 2) : formatBuildSummary(result, progress.seconds()),
    );
  });

program
  .command('query')
  .description(
    'Nearest neighbours of a query, searched in every part of the index and merged. The query is a stored image ' +
      '(--uri, as the run listed it), a vector (--vector, .npy of shape (D,) or (N, D)), or an image file (--image).',
  )
  .argument('<index>', 'index location (local directory or s3://)')
  .option('--image <file>', "an image, embedded with the run's own model and preprocessing")
  .option('--uri <uri>', 'an input URI of the run (its stored vector is used)')
  .option('--vector <file.npy>', 'query vector(s) as float32/float16/float64 .npy')
  .addOption(indexOption('-k, --k <n>', 'neighbours per query').argParser(parsePositiveInt).default(10))
  .addOption(
    indexOption('--expansion-search <n>', "candidates per query (ef; default: the index's)").argParser(
      parsePositiveInt,
    ),
  )
  .addOption(indexOption('--load', 'read parts into memory instead of memory-mapping them'))
  .addOption(
    indexOption('--cache-dir <dir>', 'where parts of s3:// indexes are downloaded').default(cacheDir),
  )
  .option('--json', 'machine-readable output')
  .action(async (indexUri: string, values: QueryValues) => {
    const given = [values.image, values.uri, values.vector].filter((v) => v !== undefined).length;
    if (given !== 1) throw new Error('Expected exactly one of --image, --uri or --vector');
    const reader = await IndexReader.open(
      indexUri,
      {
        mode: values.load ? 'load' : 'view',
        cacheDir: values.cacheDir,
        ...(values.expansionSearch !== undefined ? { expansionSearch: values.expansionSearch } : {}),
      },
      deps,
    );
    try {
      let vectors: Float32Array;
      let label: string;
      if (values.vector !== undefined) {
        const npy = readNpyVectors(await readFile(values.vector), values.vector);
        vectors = npy.data;
        label = `${values.vector} (${npy.rows} × ${npy.dim})`;
      } else if (values.uri !== undefined) {
        // Runs list local inputs by absolute path; accept a relative one too.
        const local = !/^[a-z][a-z0-9+.-]*:\/\//i.test(values.uri) ? path.resolve(values.uri) : values.uri;
        const stored =
          (await storedVectorOf(reader, values.uri, deps)) ??
          (local !== values.uri ? await storedVectorOf(reader, local, deps) : null);
        if (stored === null) {
          throw new Error(
            `${values.uri} is not in this index (the run did not list it, or it failed); query an image file with --image`,
          );
        }
        vectors = stored.vector;
        label = `${values.uri} (id ${stored.row.id})`;
      } else {
        throw new Error(
          'query --image is not available yet: it needs the run contract that maps a manifest to its model (issue 10); use --uri or --vector',
        );
      }
      const results = await describeNeighbours(
        reader,
        await reader.search(reader.prepareQueries(vectors), values.k),
      );
      if (values.json) {
        console.log(JSON.stringify({ index: reader.uri, query: label, k: values.k, results }, null, 2));
        return;
      }
      console.log(describeIndex(reader.uri, reader.manifest));
      results.forEach((matches, q) => {
        console.log(`query ${label}${results.length > 1 ? ` [${q}]` : ''}`);
        console.log(formatMatches(matches));
      });
    } finally {
      reader.close();
    }
  });

program
  .command('dedup')
  .description(
    'Find near-duplicate images: pairs within --threshold of each other (in the index metric) and their clusters ' +
      '(connected components); identical files (same sha256) are always one cluster. Writes Parquet.',
  )
  .argument('<index>', 'index location (local directory or s3://)')
  .addOption(
    indexOption('--threshold <distance>', 'largest distance of a near duplicate (cos: 1 - cosine similarity)')
      .argParser(parseNonNegativeNumber)
      .makeOptionMandatory(),
  )
  .addOption(
    indexOption('--neighbours <n>', 'neighbours examined per image').argParser(parsePositiveInt).default(10),
  )
  .addOption(
    indexOption('--out <uri>', 'where the Parquet files go (default: <index>/dedup/)', 'VGG_INDEX_DEDUP_'),
  )
  .addOption(
    indexOption('--cache-dir <dir>', 'where parts of s3:// indexes are downloaded').default(cacheDir),
  )
  .option('--json', 'print the summary as JSON')
  .action(async (indexUri: string, values: DedupValues) => {
    const progress = progressReporter('images');
    const result = await findDuplicates(
      {
        index: indexUri,
        threshold: values.threshold,
        neighbours: values.neighbours,
        cacheDir: values.cacheDir,
        ...(values.out !== undefined ? { out: values.out } : {}),
        signal: abort.signal,
        onProgress: (p) => progress.update(p.vectors, p.total),
      },
      deps,
    );
    progress.clear();
    console.log(
      values.json
        ? JSON.stringify({ out: result.out, ...result.summary }, null, 2)
        : formatDedupSummary(result),
    );
  });

program
  .command('info')
  .description("Show an index's manifest: run, tap, settings, counts and parts (reads index.json only).")
  .argument('<index>', 'index location')
  .option('--json', 'print index.json')
  .action(async (indexUri: string, values: { json?: boolean }) => {
    const m = await readIndexManifest(indexUri, deps);
    if (values.json) {
      console.log(JSON.stringify(m, null, 2));
      return;
    }
    console.log(describeIndex(indexUri, m));
    console.log(
      `  built ${m.createdAt} with ${m.library}; M=${m.settings.connectivity} efConstruction=${m.settings.expansionAdd} ef=${m.settings.expansionSearch}`,
    );
    console.log(`  run ${m.run.uri} (manifest sha256 ${m.run.manifestSha256.slice(0, 12)}…)`);
    for (const p of m.parts) {
      console.log(
        `  part ${p.part}: ids ${p.firstId}…${p.firstId + p.vectors - 1}, ${formatBytes(p.indexBytes)}, ${p.indexKey}`,
      );
    }
  });

interface BuildValues {
  out: string;
  tap?: string;
  metric: IndexMetric;
  quantization: IndexQuantization;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  maxPartVectors?: number;
  threads?: number;
  overwrite?: boolean;
  json?: boolean;
}

interface QueryValues {
  image?: string;
  uri?: string;
  vector?: string;
  k: number;
  expansionSearch?: number;
  load?: boolean;
  cacheDir: string;
  json?: boolean;
}

interface DedupValues {
  threshold: number;
  neighbours: number;
  out?: string;
  cacheDir: string;
  json?: boolean;
}

/** fc7 when the run has it, else its only tap; otherwise the user must choose. */
async function defaultTap(runUri: string): Promise<string> {
  const { openRun } = await import('vgg-index');
  const run = await openRun(runUri, deps);
  const taps = run.manifest.taps.map((t) => t.name);
  if (taps.includes('fc7')) return 'fc7';
  if (taps.length === 1) return taps[0] as string;
  throw new Error(
    taps.length === 0
      ? `Run ${run.manifest.runId} wrote no embeddings; run it again with --taps fc7`
      : `Expected --tap, one of ${taps.join(', ')}`,
  );
}

program.parseAsync(process.argv).catch((error: unknown) => {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  console.error(`vgg-index: ${(error as Error).message}`);
  process.exit(1);
});
