/** Reads what infra/ declares: the Kubernetes manifests, the kustomizations and the worker's metrics contract. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const infraDir = path.join(repoRoot, 'infra');
export const k8sDir = path.join(infraDir, 'k8s');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface Manifest {
  /** Path relative to infra/k8s. */
  file: string;
  doc: K8sObject;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.yaml'))
    .map((e) => path.relative(k8sDir, path.join(e.parentPath, e.name)))
    .sort();
}

/** Every Kubernetes object under infra/k8s, kustomization files excepted. */
export function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of yamlFiles(k8sDir)) {
    if (path.basename(file) === 'kustomization.yaml') continue;
    for (const document of parseAllDocuments(readFileSync(path.join(k8sDir, file), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
      const doc = document.toJS() as K8sObject | null;
      if (doc !== null) out.push({ file, doc });
    }
  }
  return out;
}

export interface Kustomization {
  /** Directory relative to infra/k8s. */
  dir: string;
  namespace?: string;
  resources: string[];
  images: { name: string; newName?: string; newTag?: string }[];
  configMapGenerator: { name: string; files: string[] }[];
}

export function loadKustomizations(): Kustomization[] {
  return yamlFiles(k8sDir)
    .filter((f) => path.basename(f) === 'kustomization.yaml')
    .map((file) => {
      const k = parseYaml(readFileSync(path.join(k8sDir, file), 'utf8')) as Partial<Kustomization>;
      return {
        dir: path.dirname(file),
        ...(k.namespace ? { namespace: k.namespace } : {}),
        resources: k.resources ?? [],
        images: k.images ?? [],
        configMapGenerator: k.configMapGenerator ?? [],
      };
    });
}

export function objectName(doc: K8sObject): string {
  return `${doc.kind}/${doc.metadata.name ?? `${doc.metadata.generateName}*`}`;
}

/** The pod template of a workload (Deployment, StatefulSet, Job), or undefined for other kinds. */
export function podSpecOf(doc: K8sObject): IPodSpec | undefined {
  const spec = doc.spec as { template?: { spec?: IPodSpec } } | undefined;
  return ['Deployment', 'StatefulSet', 'Job'].includes(doc.kind) ? spec?.template?.spec : undefined;
}

export function envOf(container: IContainer): Map<string, string | undefined> {
  return new Map((container.env ?? []).map((e) => [e.name, e.value]));
}

export interface MetricsContract {
  port: number;
  portFlag: string;
  portEnv: string;
  paths: { metrics: string; liveness: string; readiness: string };
  /** Metric names of the table in "### Metrics". */
  metrics: Set<string>;
  /** Environment variables the contract adds to the worker. */
  env: string[];
}

/** The worker's metrics contract, as infra/README.md states it. */
export function readMetricsContract(): MetricsContract {
  const text = readFileSync(path.join(infraDir, 'README.md'), 'utf8');
  const section = text.slice(text.indexOf("## The worker's metrics contract"));
  const port =
    /`(?:vgg-worker )?(--metrics-port) <port>`, environment twin `(VGG_[A-Z_]+)`, default \*\*(\d+)\*\*/.exec(
      section,
    );
  const host = /`--metrics-host <address>`, twin `(VGG_[A-Z_]+)`/.exec(section);
  const pathOf = (meaning: string) => {
    const row = section.split('\n').find((l) => l.startsWith('| `GET /') && l.includes(meaning));
    const found = row && /`GET (\/[a-z]+)`/.exec(row)?.[1];
    if (!found) throw new Error(`infra/README.md: no endpoint row mentioning ${meaning}`);
    return found;
  };
  if (!port || !host)
    throw new Error('infra/README.md: the metrics contract names no --metrics-port/--metrics-host');
  const table = section.slice(section.indexOf('### Metrics'), section.indexOf('### Autoscaling'));
  const metrics = new Set<string>();
  for (const line of table.split('\n').filter((l) => l.startsWith('| `'))) {
    const firstCell = line.split('|')[1] ?? '';
    for (const m of firstCell.matchAll(/`([a-z][a-z0-9_]+)`/g)) if (m[1]) metrics.add(m[1]);
  }
  return {
    port: Number(port[3]),
    portFlag: port[1] ?? '',
    portEnv: port[2] ?? '',
    paths: { metrics: pathOf('Prometheus'), liveness: pathOf('liveness'), readiness: pathOf('readiness') },
    metrics,
    env: [port[2] ?? '', host[1] ?? ''],
  };
}
