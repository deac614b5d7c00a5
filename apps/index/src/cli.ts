import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { type Env, FlagSet } from 'vgg-cli-kit';
import { MODEL_FLAGS, modelOptionsOf } from 'vgg-core';
import {
  BUILD_FLAGS,
  buildIndex,
  DEDUP_FLAGS,
  describeNeighbours,
  embedImages,
  findDuplicates,
  INFO_FLAGS,
  IndexReader,
  openRun,
  QUERY_FLAGS,
  readIndexManifest,
  readNpyVectors,
  storedVectorOf,
} from 'vgg-index';
import { createS3Client, type OpenObjectStoreDeps, s3ClientOptionsFromEnv } from 'vgg-pipeline';
import {
  describeIndex,
  formatBuildSummary,
  formatDedupSummary,
  formatIndexInfo,
  formatMatches,
} from './format-output.js';
import { formatProgressLine } from './progress-line.js';

/** What vgg-index reads and writes besides its arguments. */
export interface IndexIo {
  env: Env;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Default cache directory for the parts of s3:// indexes. */
  cacheDir: string;
  /** Aborted on SIGINT/SIGTERM: a build stops and removes what it wrote. */
  signal: AbortSignal;
}

const ENV_PREFIX = 'VGG_INDEX_';

/** `vgg-index`: build, query and dedup embedding indexes of a run's outputs. */
export function indexProgram(io: IndexIo): Command {
  const deps: OpenObjectStoreDeps = { s3: () => createS3Client(s3ClientOptionsFromEnv(io.env)) };
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const buildFlags = new FlagSet(BUILD_FLAGS, { envPrefix: ENV_PREFIX });
  const queryFlags = new FlagSet(QUERY_FLAGS, { envPrefix: ENV_PREFIX, defaults: { cacheDir: io.cacheDir } });
  const dedupFlags = new FlagSet(DEDUP_FLAGS, { envPrefix: ENV_PREFIX, defaults: { cacheDir: io.cacheDir } });
  const infoFlags = new FlagSet(INFO_FLAGS, { envPrefix: ENV_PREFIX });

  const program = new Command('vgg-index')
    .description(
      "Embedding indexes over a run's outputs: build an HNSW index of one tap (usearch), query it by image, URI or " +
        'vector, and find near-duplicate images. Indexes live in a local directory or under an s3:// prefix.',
    )
    .showHelpAfterError();

  buildFlags
    .addTo(
      program
        .command('build')
        .description(
          "Build an index of one embedding tap of a finished run. Streams the run's shards (local or s3://) following " +
            'its _manifest.json; writes part files, sidecars (id -> uri, sha256, shard key, chunk, row) and index.json last.',
        )
        .argument('<run-output>', 'the run directory, <out>/<run-id>/ (local or s3://)'),
    )
    .action(async (runUri: string, _options: unknown, command: Command) => {
      const { json, tap, ...options } = buildFlags.read(command, io.env);
      const progress = progressReporter(io.stderr, 'vectors');
      const result = await buildIndex(
        {
          ...options,
          run: runUri,
          tap: tap ?? (await defaultTap(runUri, deps)),
          signal: io.signal,
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
      out(json ? JSON.stringify(result.manifest, null, 2) : formatBuildSummary(result, progress.seconds()));
    });

  queryFlags
    .addTo(
      program
        .command('query')
        .description(
          'Nearest neighbours of a query, searched in every part of the index and merged: an image file (--image, ' +
            "embedded with the run's model and preprocessing), an input of the run (--uri) or vectors (--vector).",
        )
        .argument('<index>', 'index location (local directory or s3://)'),
    )
    // The usual short form of --k; both set the same value.
    .addOption(new Option('-k <n>').hideHelp())
    .action(async (indexUri: string, _options: unknown, command: Command) => {
      const flags = queryFlags.read(command, io.env);
      const given = [flags.image, flags.uri, flags.vector].filter((v) => v !== undefined);
      if (given.length !== 1) {
        throw new Error(`Expected exactly one of --image, --uri or --vector but received ${given.length}`);
      }
      const reader = await IndexReader.open(
        indexUri,
        {
          mode: flags.load ? 'load' : 'view',
          ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
          ...(flags.expansionSearch !== undefined ? { expansionSearch: flags.expansionSearch } : {}),
        },
        deps,
      );
      try {
        let vectors: Float32Array;
        let label: string;
        if (flags.vector !== undefined) {
          const npy = readNpyVectors(await readFile(flags.vector), flags.vector);
          vectors = npy.data;
          label = `${flags.vector} (${npy.rows} × ${npy.dim})`;
        } else if (flags.uri !== undefined) {
          // Runs list local inputs by absolute path; accept a relative one too.
          const uri = flags.uri;
          const local = /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) ? uri : path.resolve(uri);
          const stored =
            (await storedVectorOf(reader, uri, deps)) ??
            (local !== uri ? await storedVectorOf(reader, local, deps) : null);
          if (stored === null) {
            throw new Error(
              `${uri} is not in this index (the run did not list it, or it failed); query the file with --image`,
            );
          }
          vectors = stored.vector;
          label = `${uri} (id ${stored.row.id})`;
        } else {
          const image = flags.image as string;
          // Without model flags the run's own model options (recorded in its manifest) are used.
          const modelGiven = Object.keys(MODEL_FLAGS).some((key) => {
            const value = flags[key as keyof typeof MODEL_FLAGS];
            return value !== undefined && value !== false;
          });
          vectors = await embedImages(
            reader.manifest,
            [image],
            modelGiven ? { model: modelOptionsOf(flags) } : {},
          );
          label = image;
        }
        const results = await describeNeighbours(
          reader,
          await reader.search(reader.prepareQueries(vectors), flags.k),
        );
        if (flags.json) {
          out(JSON.stringify({ index: reader.uri, query: label, k: flags.k, results }, null, 2));
          return;
        }
        out(describeIndex(reader.uri, reader.manifest));
        results.forEach((matches, q) => {
          out(`query ${label}${results.length > 1 ? ` [${q}]` : ''}`);
          out(formatMatches(matches));
        });
      } finally {
        reader.close();
      }
    });

  dedupFlags
    .addTo(
      program
        .command('dedup')
        .description(
          'Find near-duplicate images: pairs within --threshold of each other (in the index metric) and their clusters ' +
            '(connected components); identical files (same sha256) are always one cluster. Writes Parquet.',
        )
        .argument('<index>', 'index location (local directory or s3://)'),
    )
    .action(async (indexUri: string, _options: unknown, command: Command) => {
      const { json, ...options } = dedupFlags.read(command, io.env);
      const progress = progressReporter(io.stderr, 'images');
      const result = await findDuplicates(
        {
          ...options,
          index: indexUri,
          signal: io.signal,
          onProgress: (p) => progress.update(p.vectors, p.total),
        },
        deps,
      );
      progress.clear();
      out(
        json ? JSON.stringify({ out: result.out, ...result.summary }, null, 2) : formatDedupSummary(result),
      );
    });

  infoFlags
    .addTo(
      program
        .command('info')
        .description(
          "Show an index's manifest: run, tap, settings, counts and parts (reads index.json only).",
        )
        .argument('<index>', 'index location'),
    )
    .action(async (indexUri: string, _options: unknown, command: Command) => {
      const { json } = infoFlags.read(command, io.env);
      const manifest = await readIndexManifest(indexUri, deps);
      out(json ? JSON.stringify(manifest, null, 2) : formatIndexInfo(indexUri, manifest));
    });

  return program;
}

/** fc7 when the run has it, else its only tap; otherwise the user must choose. */
async function defaultTap(runUri: string, deps: OpenObjectStoreDeps): Promise<string> {
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

/** Progress on stderr: a bar redrawn in place on a terminal; off a terminal, a line every 5 s of long jobs. */
function progressReporter(stderr: NodeJS.WriteStream, unit: string) {
  const started = Date.now();
  let lastLine = started;
  const tty = stderr.isTTY === true;
  return {
    update(done: number, total: number, note?: string) {
      const line = formatProgressLine(
        { done, total, unit, startedMs: started, nowMs: Date.now(), ...(note ? { note } : {}) },
        stderr.columns,
      );
      if (tty) stderr.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastLine > 5_000) {
        lastLine = Date.now();
        stderr.write(`${line}\n`);
      }
    },
    clear() {
      if (tty) stderr.write('\r\x1b[2K');
    },
    seconds: () => (Date.now() - started) / 1000,
  };
}
