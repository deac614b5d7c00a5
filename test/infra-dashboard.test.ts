/**
 * The Grafana dashboard (infra/k8s/monitoring/vgg-workers.json) against the worker's metrics contract in
 * infra/README.md: it may query only metrics the contract defines, and it shows every vgg_worker_ metric.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { k8sDir, readMetricsContract } from './support/infra.js';

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const dashboard = JSON.parse(
  readFileSync(path.join(k8sDir, 'monitoring', 'vgg-workers.json'), 'utf8'),
) as Dashboard;
const contract = readMetricsContract();
const queries = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })),
);

/** Metric names in a PromQL expression, histogram series (_bucket, _sum, _count) mapped to their histogram. */
function metricsIn(expr: string): string[] {
  const names = [...expr.matchAll(/\b((?:vgg|bullmq|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1] ?? '');
  return names.map((n) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return contract.metrics.has(base) ? base : n;
  });
}

describe('Grafana dashboard', () => {
  it('is a dashboard whose panels all query Prometheus through its datasource variable', () => {
    expect(dashboard.uid).toBe('vgg-batch-workers');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const data = dashboard.panels.filter((p) => p.type !== 'row');
    expect(data.length).toBeGreaterThan(15);
    for (const panel of data) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) {
        expect(t.refId, panel.title).toBeTruthy();
        expect(t.expr, panel.title).toBeTruthy();
        // Every variable an expression uses is defined.
        for (const v of (t.expr ?? '').matchAll(/\$([a-z_]+)/g))
          if (!v[1]?.startsWith('_'))
            expect(variables.has(v[1] ?? ''), `${panel.title}: $${v[1]}`).toBe(true);
      }
    }
  });

  it('lays out panels without overlaps on the 24-column grid', () => {
    const taken = new Map<string, string>();
    for (const p of dashboard.panels) {
      const { h, w, x, y } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row++) {
        for (let col = x; col < x + w; col++) {
          const cell = `${row},${col}`;
          expect(taken.get(cell), `${p.title} overlaps`).toBeUndefined();
          taken.set(cell, p.title);
        }
      }
    }
  });

  it('queries only metrics of the contract and shows every vgg_worker_ metric', () => {
    const used = new Set(queries.flatMap((q) => metricsIn(q.expr)));
    expect([...used].filter((m) => !contract.metrics.has(m))).toEqual([]);
    const workerMetrics = [...contract.metrics].filter((m) => m.startsWith('vgg_worker_'));
    expect(workerMetrics.length).toBeGreaterThanOrEqual(8);
    expect(workerMetrics.filter((m) => !used.has(m))).toEqual([]);
  });

  it('takes the maximum, never the sum, of queue counts that every worker reports alike', () => {
    const queue = queries.filter((q) => q.expr.includes('bullmq_job_count'));
    expect(queue.length).toBeGreaterThan(0);
    for (const q of queue) expect(q.expr, q.panel).toMatch(/max(?: by \([a-z, ]+\) ?)?\(bullmq_job_count\{/);
  });
});
