/**
 * `vgg-producer report` in a real browser: a run through a real worker, the report written by the CLI, then opened
 * in Debian's Chromium (headless, driven by playwright-core) and asserted on as rendered. CI installs chromium
 * (.ci/run); elsewhere the test is skipped when /usr/bin/chromium is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSampleImages } from 'vgg-local-kit';
import { duckdbQuery, listFiles, PAIR_TEST_MODEL, PipelineHarness } from './support/pipeline-harness.js';
import { s3ClientForTests } from './support/s3.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs it`);
const producerMain = path.resolve(import.meta.dirname, '../apps/producer/dist/main.js');
const run = promisify(execFile);

let browser: Browser;
let h: PipelineHarness;

beforeAll(async () => {
  if (!available) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // The flags keep Chromium from calling home: this machine's network is closed.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

describe.skipIf(!available)('vgg-producer report', () => {
  it('writes one self-contained page that shows counts, throughput, errors with examples, thumbnails, workers and the untrained model', async () => {
    h = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    const dir = await mkdtemp(path.join(tmpdir(), 'vgg-report-'));
    await ensureSampleImages({ dir, count: 16 });
    const images = (await listFiles(path.join(dir, 'generated'))).map((f) => path.join(dir, 'generated', f));
    const missing = path.join(dir, 'missing.jpg');
    const broken = path.join(dir, 'broken.jpg');
    await writeFile(broken, 'not an image at all');
    const manifest = path.join(dir, 'inputs.txt');
    await writeFile(manifest, [...images, missing, broken].join('\n'));
    await h.startWorker();
    await h.submit({ sources: [manifest], out: path.join(dir, 'out'), runId: 'report-run', chunkSize: 6 });
    const status = await h.waitForRun('report-run');
    expect(status.rows).toBe(images.length + 2);

    const file = path.join(dir, 'report.html');
    const { stdout } = await run(process.execPath, [producerMain, 'report', 'report-run', '--out', file], {
      env: { ...process.env, REDIS_URL: h.redisUrl, VGG_PREFIX: h.prefix },
    });
    expect(stdout.trim()).toBe(file);
    const html = await readFile(file, 'utf8');

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('data:')) requests.push(request.url());
    });
    await page.goto(pathToFileURL(file).href);
    // Self-contained: the page itself is the only thing loaded.
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(await page.title()).toContain('report-run');
    // innerText, not textContent: the test reads what the page shows, as rendered.
    const card = (name: string) =>
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is asserted
      page.locator(`[data-name="${name}"] b`).innerText();
    expect(await card('rows')).toBe(String(status.rows));
    expect((await card('ok')).split(/\s/)[0]).toBe(String(status.ok));
    expect((await card('errors')).split(/\s/)[0]).toBe(String(status.error));
    expect(await page.getByTestId('untrained').isVisible()).toBe(true);

    // Each error reason with its count and its example URI.
    const reasons = new Map<string, number>();
    for (const r of status.records)
      for (const [reason, n] of Object.entries(r.errorsByReason))
        reasons.set(reason, (reasons.get(reason) ?? 0) + n);
    const errorRows = await page.getByTestId('errors').locator('tbody tr').allInnerTexts();
    expect(errorRows).toHaveLength(reasons.size);
    const errorsText = errorRows.join('\n');
    for (const [reason, n] of reasons) expect(errorsText).toContain(`${reason}\t${n}`);
    expect(errorsText).toContain(missing);
    expect(errorsText).toContain(broken);

    // Thumbnail grids for the top labels: decoded images of 96 px, as many as each label has (up to 8).
    const labels = new Map<string, number>();
    for (const r of status.records)
      for (const [label, n] of Object.entries(r.top1Histogram))
        labels.set(label, (labels.get(label) ?? 0) + n);
    const sections = page.getByTestId('label');
    expect(await sections.count()).toBe(Math.min(6, labels.size));
    const first = [...labels].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]!;
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is asserted
    expect(await sections.first().locator('h3').innerText()).toContain(first[0]);
    expect(await sections.first().locator('img').count()).toBe(Math.min(8, first[1]));
    const sizes = await page.$$eval('[data-testid="label"] img', (imgs) =>
      imgs.map((img) => {
        const { complete, naturalWidth } = img as unknown as { complete: boolean; naturalWidth: number };
        return complete ? naturalWidth : -1;
      }),
    );
    expect(sizes.length).toBeGreaterThan(0);
    expect(new Set(sizes)).toEqual(new Set([96]));

    // Throughput bars cover the run, and the one worker's row adds up.
    const bars = await page.$$eval('[data-testid="throughput"] rect', (rects) =>
      rects.map((r) => Number(r.getAttribute('height'))),
    );
    expect(bars.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...bars)).toBeGreaterThan(0);
    const workers = await page.getByTestId('workers').locator('tbody tr').allInnerTexts();
    expect(workers).toHaveLength(1);
    expect(workers[0]).toContain(status.records[0]!.workerId);
    expect(workers[0]).toContain(`\t${status.records.length}\t${status.rows}\t`);
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is asserted
    expect(await page.getByTestId('model').innerText()).toContain(status.modelSha256 ?? 'missing sha');

    const shot = path.join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.info(`report screenshot: ${shot} (${html.length} bytes of HTML)`);
    await page.close();
  });

  it("shows a pair run's distance distribution and its failed pairs, with no label grids", async () => {
    const pairs = await PipelineHarness.create(inject('redisUrl'), s3ClientForTests());
    try {
      const dir = await mkdtemp(path.join(tmpdir(), 'vgg-report-pairs-'));
      const fixtures = path.resolve(import.meta.dirname, '../packages/vgg-core/test-fixtures/pairs');
      for (const name of ['a.png', 'b.png', 'c.png'])
        await copyFile(path.join(fixtures, name), path.join(dir, name));
      await writeFile(
        path.join(dir, 'pairs.csv'),
        'a,b\na.png,b.png\nb.png,c.png\na.png,c.png\nc.png,a.png\na.png,gone.png\n',
      );
      await pairs.startWorker();
      const out = path.join(dir, 'out');
      await pairs.submit({
        sources: [],
        pairs: path.join(dir, 'pairs.csv'),
        out,
        runId: 'report-pairs',
        chunkSize: 2,
        ...PAIR_TEST_MODEL,
      });
      await pairs.waitForRun('report-pairs', 180_000);
      const file = path.join(dir, 'report.html');
      await run(process.execPath, [producerMain, 'report', 'report-pairs', '--out', file], {
        env: { ...process.env, REDIS_URL: pairs.redisUrl, VGG_PREFIX: pairs.prefix },
      });
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(pathToFileURL(file).href);
      const stored = (
        await duckdbQuery(
          `SELECT perceptual_distance AS d FROM read_parquet('${path.join(out, 'report-pairs', 'shards', '*.parquet')}')
           WHERE status = 'ok' ORDER BY d`,
        )
      ).map((r) => r.d as number);
      expect(stored).toHaveLength(4);
      const cell = (name: string) =>
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is asserted
        page.getByTestId('distances').locator(`[data-name="${name}"]`).innerText();
      expect(await cell('count')).toBe('4');
      expect(Number(await cell('min'))).toBeCloseTo(stored[0]!, 3);
      expect(Number(await cell('max'))).toBeCloseTo(stored[3]!, 3);
      // The median of four is halfway between the middle two.
      expect(Number(await cell('median'))).toBeCloseTo((stored[1]! + stored[2]!) / 2, 3);
      const bars = await page.$$eval('[data-testid="distance-histogram"] rect', (rects) =>
        rects.map((r) => Number(r.getAttribute('height'))),
      );
      expect(bars).toHaveLength(20);
      expect(bars.filter((h) => h > 0).length).toBeGreaterThan(1);
      // The failed pair with its reason and both images.
      const errorRows = await page.getByTestId('errors').locator('tbody tr').allInnerTexts();
      expect(errorRows).toHaveLength(1);
      expect(errorRows[0]).toContain('b:not_found\t1');
      expect(errorRows[0]).toContain(`${path.join(dir, 'a.png')} ↔ ${path.join(dir, 'gone.png')}`);
      expect(await page.getByTestId('label').count()).toBe(0);
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is asserted
      expect(await page.locator('[data-name="pairs/s"] b').innerText()).toMatch(/^\d/);
      await page.close();
    } finally {
      await pairs.close();
    }
  });
});
