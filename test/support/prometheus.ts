/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests that scrape an endpoint.
 * The npm parser of this format (parse-prometheus-text-format 1.1) drops the labels of histograms, so series
 * such as `vgg_worker_stage_seconds{stage="fetch"}` could not be told apart; this one follows the format's grammar
 * (https://prometheus.io/docs/instrumenting/exposition_formats/) and checks what a scraper relies on: one TYPE per
 * family before its samples, valid names, escaped label values, numeric values, and for histograms cumulative
 * buckets ending in `+Inf` that equal `_count`.
 */

export interface Sample {
  labels: Record<string, string>;
  /** Counters, gauges and untyped samples. */
  value?: number;
  /** Histograms: cumulative counts by upper bound (`le`, as written). */
  buckets?: Record<string, number>;
  count?: number;
  sum?: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Parses an exposition text into families by name; throws naming the line for anything the format forbids. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const fail = (n: number, line: string, why: string): never => {
    throw new Error(`exposition line ${n + 1}: ${why}: ${line}`);
  };
  const lines = text.split('\n');
  lines.forEach((line, n) => {
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, keyword, name = '', rest = ''] = m;
      if (!NAME.test(name)) fail(n, line, 'bad metric name');
      const family = familyOf(families, name);
      if (keyword === 'HELP') family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      else {
        if (!TYPES.has(rest)) fail(n, line, 'unknown type');
        if (family.samples.length > 0) fail(n, line, 'TYPE after samples');
        family.type = rest as MetricFamily['type'];
      }
      return;
    }
    const { name, labels, value } = parseSample(line, (why) => fail(n, line, why));
    const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
    const base = histogram?.[1];
    if (histogram && base !== undefined && families.get(base)?.type === 'histogram') {
      const family = familyOf(families, base);
      const { le, ...series } = labels;
      const sample = seriesOf(family, series);
      if (histogram[2] === 'bucket') {
        if (le === undefined) fail(n, line, 'bucket without le');
        sample.buckets = { ...sample.buckets, [le as string]: value };
      } else if (histogram[2] === 'sum') sample.sum = value;
      else sample.count = value;
      return;
    }
    const family = familyOf(families, name);
    if (family.type === 'histogram') fail(n, line, 'plain sample in a histogram family');
    seriesOf(family, labels).value = value;
  });
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    for (const sample of family.samples) {
      const counts = Object.entries(sample.buckets ?? {});
      const sorted = counts.map(([le, c]) => [numberOf(le), c] as const).sort((a, b) => a[0] - b[0]);
      if (sorted.at(-1)?.[0] !== Number.POSITIVE_INFINITY || sorted.at(-1)?.[1] !== sample.count)
        throw new Error(`${family.name}${JSON.stringify(sample.labels)}: +Inf bucket does not equal _count`);
      if (sorted.some(([, c], i) => i > 0 && c < (sorted[i - 1]?.[1] ?? 0)))
        throw new Error(`${family.name}${JSON.stringify(sample.labels)}: buckets are not cumulative`);
    }
  }
  return families;
}

function familyOf(families: Map<string, MetricFamily>, name: string): MetricFamily {
  let family = families.get(name);
  if (family === undefined) {
    family = { name, help: '', type: 'untyped', samples: [] };
    families.set(name, family);
  }
  return family;
}

function seriesOf(family: MetricFamily, labels: Record<string, string>): Sample {
  const key = JSON.stringify(Object.entries(labels).sort());
  let sample = family.samples.find((s) => JSON.stringify(Object.entries(s.labels).sort()) === key);
  if (sample === undefined) {
    sample = { labels };
    family.samples.push(sample);
  }
  return sample;
}

/** `name{label="value",...} value [timestamp]`, label values with \\, \" and \n escapes. */
function parseSample(line: string, fail: (why: string) => never) {
  let i = 0;
  while (i < line.length && !'{ \t'.includes(line[i] ?? '')) i++;
  const name = line.slice(0, i);
  if (!NAME.test(name)) fail('bad metric name');
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === '}') break;
      const eq = line.indexOf('=', i);
      const label = line.slice(i, eq).trim();
      if (eq < 0 || !LABEL.test(label)) fail('bad label name');
      if (label in labels) fail(`label ${label} twice`);
      i = eq + 1;
      if (line[i] !== '"') fail('label value not quoted');
      let value = '';
      for (i++; ; i++) {
        const c = line[i];
        if (c === undefined) fail('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[++i];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else fail('bad escape in label value');
        } else value += c;
      }
      labels[label] = value;
      i++;
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') fail('expected , or } after a label');
    }
    i++;
  }
  const fields = line
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '')
    fail('expected a value and an optional timestamp');
  const text = fields[0] ?? '';
  const value = numberOf(text);
  if (Number.isNaN(value) && text !== 'NaN') fail('value is not a number');
  if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) fail('timestamp is not an integer');
  return { name, labels, value };
}

/** A Go float as the format writes it: decimals, exponents, `+Inf`, `-Inf`, `NaN`. */
function numberOf(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return text.trim() === '' ? Number.NaN : Number(text);
}

/** The series of `name` whose labels include `labels`. */
export function samples(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  const family = families.get(name);
  if (family === undefined) throw new Error(`no metric family ${name} in the scrape`);
  return family.samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one series of `name` with `labels`: its value, or a histogram's count. */
export function seriesValue(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = samples(families, name, labels);
  const [only] = found;
  if (found.length !== 1 || only === undefined)
    throw new Error(`${found.length} series of ${name} ${JSON.stringify(labels)}`);
  const value = only.value ?? only.count;
  if (value === undefined) throw new Error(`${name} ${JSON.stringify(labels)} has no value`);
  return value;
}
