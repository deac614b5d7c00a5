import type { DistanceDistribution } from './distance-distribution.js';
import type { RunReport } from './run-report.js';

const esc = (value: unknown): string => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (n: number) => n.toLocaleString('en-US');
const pct = (part: number, whole: number) => (whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(1)}%`);

/**
 * The run report as one self-contained HTML page: styles inline, charts as inline SVG, thumbnails as data URIs, no
 * script and no request to anywhere, so it can be mailed, archived or opened offline.
 */
export function renderRunReport(report: RunReport): string {
  const { totals, model } = report;
  const wallS = wallSeconds(report);
  const rate = wallS > 0 ? totals.rows / wallS : 0;
  // A pair run's rows are pairs, shown with their distances instead of labels.
  const noun = report.pairs ? 'pairs' : 'images';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Run ${esc(report.runId)} — vgg-batch report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 10px;border-bottom:1px solid #d9dde3;padding-bottom:4px}
.muted{color:#5b6470}.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px}
.card{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:10px 12px}
.card b{display:block;font-size:22px}.card.bad b{color:#b42318}
.warn{background:#fff4e5;border:1px solid #f5a524;border-radius:6px;padding:10px 12px;margin:14px 0;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d9dde3}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceef1;vertical-align:top}th{background:#f0f2f5}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:6px}.grid figure{margin:0;width:96px}
.grid img,.grid .na{width:96px;height:96px;border-radius:4px;display:block;object-fit:cover;background:#e4e7eb}
.grid .na{font-size:11px;color:#5b6470;display:flex;align-items:center;justify-content:center;text-align:center}
.label h3{font-size:14px;margin:14px 0 6px}
svg text{font:11px system-ui,sans-serif;fill:#5b6470}
</style>
</head>
<body><main>
<h1>Run <span data-testid="run-id">${esc(report.runId)}</span></h1>
<div class="muted">${esc(report.state)} · created ${esc(report.createdAt)}${report.finalizedAt ? ` · finalised ${esc(report.finalizedAt)}` : ''} · outputs <span class="mono">${esc(report.out)}</span></div>
${model.untrained ? `<div class="warn" data-testid="untrained">UNTRAINED model: seeded random weights (seed ${esc(model.seed)}). ${report.pairs ? 'Its distances are not perceptual; pass --weights for real ones.' : 'Its labels are meaningless; pass --weights or --onnx to classify for real.'}</div>` : ''}
<h2>Counts</h2>
<div class="cards" data-testid="counts">
${card('inputs', totals.inputs === null ? '—' : num(totals.inputs))}
${card('rows', num(totals.rows))}
${card('ok', `${num(totals.ok)} <small class="muted">${pct(totals.ok, totals.rows)}</small>`)}
${card('errors', `${num(totals.error)} <small class="muted">${pct(totals.error, totals.rows)}</small>`, totals.error > 0)}
${card('duplicates', num(totals.duplicates))}
${card('chunks', num(totals.chunks))}
${card(`${noun}/s`, rate.toFixed(1))}
${card('wall time', `${wallS.toFixed(1)} s`)}
</div>
<h2>Throughput over time</h2>
${throughputChart(report)}
<h2>Errors by reason</h2>
${errorsTable(report)}
${report.pairs ? `<h2>Perceptual distance</h2>\n${distanceSection(report.pairs.distances)}` : `<h2>Top labels</h2>\n${labelGrids(report)}`}
<h2>Workers</h2>
${workersTable(report)}
<h2>Model</h2>
<table data-testid="model"><tbody>
<tr><th>variant</th><td>${esc(model.variant)}</td></tr>
<tr><th>weights</th><td>${esc(model.source)}${model.untrained ? ' (untrained)' : ''}</td></tr>
<tr><th>weights sha256</th><td class="mono">${esc(model.weightsSha256 ?? 'not yet bound')}</td></tr>
<tr><th>providers</th><td>${esc(model.providers.join(', ') || '—')}</td></tr>
<tr><th>preprocessing</th><td class="mono">${esc(JSON.stringify(report.preprocessing))}</td></tr>
</tbody></table>
<p class="muted">Generated ${esc(report.generatedAt)} by vgg-producer report.</p>
</main></body></html>
`;
}

function card(name: string, value: string, bad = false): string {
  return `<div class="card${bad ? ' bad' : ''}" data-name="${esc(name)}"><span class="muted">${esc(name)}</span><b>${value}</b></div>`;
}

function wallSeconds(report: RunReport): number {
  const last = report.commits.at(-1)?.at;
  if (last === undefined) return 0;
  return Math.max(0, (Date.parse(last) - Date.parse(report.createdAt)) / 1000);
}

/** Images per second in equal time slices from the run's creation to its last commit, as SVG bars. */
function throughputChart(report: RunReport): string {
  const start = Date.parse(report.createdAt);
  const times = report.commits.map((c) => (Date.parse(c.at) - start) / 1000);
  const end = Math.max(...times, 0);
  if (report.commits.length === 0 || end <= 0) return '<p class="muted">No chunk committed yet.</p>';
  const slices = Math.min(40, Math.max(5, report.commits.length));
  const width = end / slices;
  const rates = Array.from({ length: slices }, () => 0);
  report.commits.forEach((c, i) => {
    const slice = Math.min(slices - 1, Math.floor((times[i] ?? 0) / width));
    rates[slice] = (rates[slice] ?? 0) + c.rows / width;
  });
  const max = Math.max(...rates, 1e-9);
  const [w, h, left, bottom] = [1000, 220, 48, 28];
  const bw = (w - left) / slices;
  const bars = rates
    .map((r, i) => {
      const bh = ((h - bottom - 10) * r) / max;
      const from = (i * width).toFixed(1);
      const to = ((i + 1) * width).toFixed(1);
      return `<rect x="${(left + i * bw + 1).toFixed(1)}" y="${(h - bottom - bh).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="#3b82f6"><title>${from}–${to} s: ${r.toFixed(1)} images/s</title></rect>`;
    })
    .join('');
  return `<svg data-testid="throughput" viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="images per second over time">
<line x1="${left}" y1="${h - bottom}" x2="${w}" y2="${h - bottom}" stroke="#9aa3ad"/>
<line x1="${left}" y1="10" x2="${left}" y2="${h - bottom}" stroke="#9aa3ad"/>
<text x="${left - 6}" y="16" text-anchor="end">${max.toFixed(1)}</text><text x="${left - 6}" y="${h - bottom}" text-anchor="end">0</text>
<text x="4" y="${h / 2}" transform="rotate(-90 10 ${h / 2})">images/s</text>
<text x="${left}" y="${h - 8}">0 s</text><text x="${w}" y="${h - 8}" text-anchor="end">${end.toFixed(1)} s after submit</text>
${bars}</svg>`;
}

function errorsTable(report: RunReport): string {
  if (report.errors.length === 0) return '<p data-testid="errors">No errors.</p>';
  const rows = report.errors
    .map(
      (e) =>
        `<tr><td><code>${esc(e.reason)}</code></td><td class="n">${num(e.count)}</td><td>${e.examples.map((u) => `<div class="mono">${esc(u)}</div>`).join('')}</td></tr>`,
    )
    .join('');
  return `<table data-testid="errors"><thead><tr><th>reason</th><th class="n">rows</th><th>examples</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function labelGrids(report: RunReport): string {
  if (report.labels.length === 0) return '<p class="muted">No ok rows with labels.</p>';
  return report.labels
    .map((l) => {
      const tiles = l.thumbnails
        .map((t) =>
          'dataUri' in t
            ? `<figure><img src="${t.dataUri}" alt="${esc(t.uri)}" title="${esc(t.uri)}"></figure>`
            : `<figure><div class="na" title="${esc(t.unavailable)}">unavailable</div></figure>`,
        )
        .join('');
      return `<section class="label" data-testid="label"><h3>${esc(l.label)} <span class="muted">${num(l.count)} ${l.count === 1 ? 'image' : 'images'}</span></h3><div class="grid">${tiles}</div></section>`;
    })
    .join('\n');
}

/** Quantiles of the ok pairs' `perceptual_distance` and their histogram, as a table and SVG bars. */
function distanceSection(d: DistanceDistribution | null): string {
  if (d === null) return '<p class="muted" data-testid="distances">No ok pairs.</p>';
  const value = (n: number) => n.toPrecision(4);
  const cells = (['min', 'p10', 'p25', 'median', 'p75', 'p90', 'max', 'mean'] as const)
    .map((name) => `<td class="n" data-name="${name}">${value(d[name])}</td>`)
    .join('');
  const table = `<table data-testid="distances"><thead><tr><th class="n">pairs</th><th class="n">min</th><th class="n">p10</th><th class="n">p25</th><th class="n">median</th><th class="n">p75</th><th class="n">p90</th><th class="n">max</th><th class="n">mean</th></tr></thead><tbody><tr><td class="n" data-name="count">${num(d.count)}</td>${cells}</tr></tbody></table>`;
  const most = Math.max(...d.histogram.map((b) => b.count), 1);
  const [w, h, left, bottom] = [1000, 180, 48, 28];
  const bw = (w - left) / d.histogram.length;
  const bars = d.histogram
    .map((b, i) => {
      const bh = ((h - bottom - 10) * b.count) / most;
      return `<rect x="${(left + i * bw + 1).toFixed(1)}" y="${(h - bottom - bh).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="#8b5cf6"><title>${value(b.from)}–${value(b.to)}: ${num(b.count)} pairs</title></rect>`;
    })
    .join('');
  const chart = `<svg data-testid="distance-histogram" viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="pairs by perceptual distance">
<line x1="${left}" y1="${h - bottom}" x2="${w}" y2="${h - bottom}" stroke="#9aa3ad"/>
<text x="${left - 6}" y="16" text-anchor="end">${num(most)}</text><text x="${left - 6}" y="${h - bottom}" text-anchor="end">0</text>
<text x="${left}" y="${h - 8}">${value(d.min)}</text><text x="${w}" y="${h - 8}" text-anchor="end">${value(d.max)} perceptual_distance</text>
${bars}</svg>`;
  return `${table}\n${chart}`;
}

function workersTable(report: RunReport): string {
  if (report.workers.length === 0) return '<p class="muted">No worker has committed a chunk yet.</p>';
  const rows = report.workers
    .map((w) => {
      const seconds = (Date.parse(w.last) - Date.parse(w.first)) / 1000;
      return `<tr><td class="mono">${esc(w.workerId)}</td><td>${esc(w.provider)}</td><td class="n">${num(w.chunks)}</td><td class="n">${num(w.rows)}</td><td class="n">${num(w.ok)}</td><td class="n">${num(w.error)}</td><td class="n">${seconds > 0 ? (w.rows / seconds).toFixed(1) : '—'}</td><td>${esc(w.first)} – ${esc(w.last)}</td></tr>`;
    })
    .join('');
  return `<table data-testid="workers"><thead><tr><th>worker</th><th>provider</th><th class="n">chunks</th><th class="n">rows</th><th class="n">ok</th><th class="n">errors</th><th class="n">rows/s between first and last commit</th><th>commits</th></tr></thead><tbody>${rows}</tbody></table>`;
}
