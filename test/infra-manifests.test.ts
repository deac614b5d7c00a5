/**
 * The Kubernetes manifests under infra/k8s: schemas (Kubernetes, KEDA, prometheus-operator), field names, and the
 * operational promises they make (security, resources, probes on the metrics contract, graceful stops, autoscaling
 * on every unfinished chunk, Redis with the project's settings).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { QueueKeys } from 'bullmq';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KEY_PREFIX, DEFAULT_QUEUE_NAME } from 'vgg-pipeline';
import {
  envOf,
  type K8sObject,
  k8sDir,
  loadKustomizations,
  loadManifests,
  objectName,
  podSpecOf,
  readMetricsContract,
  repoRoot,
} from './support/infra.js';

const run = promisify(execFile);
const manifests = loadManifests();
const contract = readMetricsContract();

type Validating = { validate(): void };
const MODELS: Record<string, new (data: never) => Validating> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

/** Property names that the schemas' compiled validators know, to catch misspelt fields they would let through. */
function schemaPropertyNames(): Set<string> {
  const dirs = ['kubernetes-models', '@kubernetes-models/apimachinery', '@kubernetes-models/keda']
    .concat('@kubernetes-models/prometheus-operator')
    .map((p) => path.join(repoRoot, 'node_modules', p, '_schemas'));
  const names = new Set<string>();
  for (const dir of dirs) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
      const source = readFileSync(path.join(dir, file), 'utf8');
      const pattern =
        /data\.([A-Za-z_$][\w$]*)|data\["([^"]+)"\]|parentDataProperty:"([^"]+)"|missingProperty:"([^"]+)"/g;
      for (const m of source.matchAll(pattern)) names.add(m[1] ?? m[2] ?? m[3] ?? m[4] ?? '');
    }
  }
  return names;
}

/** Maps whose keys are the user's (labels, selectors, quantities, trigger metadata), not schema fields. */
function isFreeForm(kind: string, at: string, key: string): boolean {
  if (['labels', 'annotations', 'matchLabels', 'data', 'requests', 'limits', 'nodeSelector'].includes(key))
    return true;
  if (kind === 'Service' && at === '.spec' && key === 'selector') return true;
  return kind === 'ScaledObject' && /\.triggers\[\d+\]$/.test(at) && key === 'metadata';
}

function unknownFields(doc: K8sObject, known: Set<string>): string[] {
  const out: string[] = [];
  const walk = (value: unknown, at: string) => {
    if (Array.isArray(value)) for (const [i, v] of value.entries()) walk(v, `${at}[${i}]`);
    else if (value !== null && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (!known.has(key)) out.push(`${at}.${key}`);
        if (!isFreeForm(doc.kind, at, key)) walk(v, `${at}.${key}`);
      }
    }
  };
  walk(doc, '');
  return out;
}

function find(kind: string, name: string): K8sObject {
  const found = manifests.find((m) => m.doc.kind === kind && m.doc.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} under infra/k8s`);
  return found.doc;
}

const workloads = manifests.filter((m) => podSpecOf(m.doc));
const workers = manifests.filter(
  (m) => m.doc.kind === 'Deployment' && m.doc.metadata.name?.startsWith('vgg-worker'),
);
const scaledObjects = manifests.filter((m) => m.doc.kind === 'ScaledObject');

function onlyContainer(doc: K8sObject): IContainer {
  const containers = podSpecOf(doc)?.containers ?? [];
  expect(containers, objectName(doc)).toHaveLength(1);
  return containers[0] as IContainer;
}

describe('Kubernetes manifests', () => {
  it('validates every object against the Kubernetes, KEDA or prometheus-operator schema of its kind', () => {
    expect(manifests.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const { file, doc } of manifests) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      if (!Model) {
        problems.push(`${file}: ${doc.apiVersion} ${doc.kind} has no schema in the test; add its model`);
        continue;
      }
      try {
        new Model(doc as never).validate();
      } catch (error) {
        problems.push(`${file}: ${objectName(doc)}: ${(error as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('uses no field name that the schemas do not know (the schemas themselves allow unknown fields)', () => {
    const known = schemaPropertyNames();
    expect(known.has('securityContext') && !known.has('securityContex')).toBe(true);
    const problems = manifests.flatMap(({ file, doc }) =>
      unknownFields(doc, known).map((f) => `${file}: ${objectName(doc)}: ${f}`),
    );
    expect(problems).toEqual([]);
  });

  it('puts every namespaced object in namespace vgg, and the kustomizations list files that exist', () => {
    for (const { file, doc } of manifests) {
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, `${file} ${objectName(doc)}`).toBe('vgg');
    }
    const kustomizations = loadKustomizations();
    expect(kustomizations.map((k) => k.dir).sort()).toEqual(['base', 'cpu', 'gpu', 'monitoring']);
    const listed = new Set<string>();
    for (const k of kustomizations) {
      for (const r of [...k.resources, ...k.configMapGenerator.flatMap((g) => g.files)]) {
        const target = path.join(k8sDir, k.dir, r);
        expect(existsSync(target), `${k.dir}/kustomization.yaml lists ${r}`).toBe(true);
        listed.add(path.relative(k8sDir, target));
      }
      const images = new Set(
        manifests
          .filter((m) => m.file.startsWith(`${k.dir}/`))
          .flatMap((m) => podSpecOf(m.doc)?.containers.map((c) => c.image?.split(':')[0]) ?? []),
      );
      for (const image of k.images) expect(images, `${k.dir}: image ${image.name}`).toContain(image.name);
    }
    // Everything but the per-run Job is reachable from a kustomization.
    const unlisted = [...new Set(manifests.map((m) => m.file))].filter((f) => !listed.has(f));
    expect(unlisted).toEqual(['jobs/producer-job.yaml']);
  });

  it('runs every pod as a non-root user with a read-only root filesystem, no privilege escalation and no capabilities', () => {
    expect(workloads.map((m) => objectName(m.doc)).sort()).toEqual([
      'Deployment/vgg-worker-cpu',
      'Deployment/vgg-worker-gpu',
      'Job/vgg-producer-*',
      'StatefulSet/vgg-redis',
    ]);
    for (const { doc } of workloads) {
      const pod = podSpecOf(doc)!;
      expect(pod.securityContext?.runAsNonRoot, objectName(doc)).toBe(true);
      expect(pod.securityContext?.runAsUser ?? 0, objectName(doc)).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile?.type, objectName(doc)).toBe('RuntimeDefault');
      expect(pod.automountServiceAccountToken, objectName(doc)).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext?.allowPrivilegeEscalation, `${objectName(doc)} ${c.name}`).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem, `${objectName(doc)} ${c.name}`).toBe(true);
        expect(c.securityContext?.capabilities?.drop, `${objectName(doc)} ${c.name}`).toEqual(['ALL']);
        expect(c.securityContext?.capabilities?.add ?? [], `${objectName(doc)} ${c.name}`).toEqual([]);
        expect(c.resources?.requests?.memory, `${objectName(doc)} ${c.name} memory request`).toBeDefined();
        expect(c.resources?.limits?.memory, `${objectName(doc)} ${c.name} memory limit`).toBeDefined();
        expect(c.resources?.requests?.cpu, `${objectName(doc)} ${c.name} cpu request`).toBeDefined();
        expect(c.resources?.limits?.cpu, `${objectName(doc)} ${c.name} cpu limit`).toBeDefined();
      }
    }
  });

  it('gives workers writable emptyDirs for the model cache and /tmp, and AWS access through the IRSA service account', () => {
    const sa = find('ServiceAccount', 'vgg-worker');
    expect(sa.metadata).toHaveProperty(['annotations', 'eks.amazonaws.com/role-arn']);
    expect(workers).toHaveLength(2);
    for (const { doc } of workers) {
      const pod = podSpecOf(doc)!;
      const c = onlyContainer(doc);
      expect(pod.serviceAccountName).toBe('vgg-worker');
      const mounts = new Map((c.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
      const emptyDirs = new Set((pod.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name));
      const cacheDir = envOf(c).get('VGG_CACHE_DIR') ?? '';
      expect(
        emptyDirs.has(mounts.get(cacheDir) ?? ''),
        `${objectName(doc)} VGG_CACHE_DIR on an emptyDir`,
      ).toBe(true);
      expect(emptyDirs.has(mounts.get('/tmp') ?? ''), `${objectName(doc)} /tmp on an emptyDir`).toBe(true);
      // Credentials never sit in the manifest.
      expect(envOf(c).has('AWS_SECRET_ACCESS_KEY')).toBe(false);
    }
  });

  it('asks for a GPU and tolerates the GPU taint only in the GPU variant', () => {
    const gpu = find('Deployment', 'vgg-worker-gpu');
    const cpu = find('Deployment', 'vgg-worker-cpu');
    const c = onlyContainer(gpu);
    expect(c.resources?.limits?.['nvidia.com/gpu']).toBe(1);
    expect(envOf(c).get('VGG_DEVICE')).toMatch(/^cuda/);
    expect(podSpecOf(gpu)?.tolerations).toContainEqual({
      key: 'nvidia.com/gpu',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    expect(onlyContainer(cpu).resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
    expect(envOf(onlyContainer(cpu)).get('VGG_DEVICE')).toBe('cpu');
  });

  it("probes workers on the metrics contract's port and paths", () => {
    expect(contract.port).toBe(9464);
    for (const { doc } of workers) {
      const c = onlyContainer(doc);
      const port = c.ports?.find((p) => p.name === 'metrics');
      expect(port?.containerPort, objectName(doc)).toBe(contract.port);
      expect(envOf(c).get(contract.portEnv), objectName(doc)).toBe(String(contract.port));
      expect(c.startupProbe?.httpGet).toEqual({ path: contract.paths.liveness, port: 'metrics' });
      expect(c.livenessProbe?.httpGet).toEqual({ path: contract.paths.liveness, port: 'metrics' });
      expect(c.readinessProbe?.httpGet).toEqual({ path: contract.paths.readiness, port: 'metrics' });
    }
    const monitor = find('PodMonitor', 'vgg-worker').spec as {
      podMetricsEndpoints: { port: string; path: string }[];
    };
    expect(monitor.podMetricsEndpoints).toEqual([
      expect.objectContaining({ port: 'metrics', path: '/metrics' }),
    ]);
  });

  it('gives a stopping worker more time than its shutdown deadline before Kubernetes kills it', () => {
    for (const { doc } of workers) {
      const deadlineMs = Number(envOf(onlyContainer(doc)).get('VGG_SHUTDOWN_TIMEOUT_MS'));
      const graceS = podSpecOf(doc)?.terminationGracePeriodSeconds ?? 30;
      expect(deadlineMs, objectName(doc)).toBeGreaterThan(0);
      // The deadline, then handing chunks back and closing connections: keep 10 s for those.
      expect(graceS * 1000 - deadlineMs, objectName(doc)).toBeGreaterThanOrEqual(10_000);
    }
  });

  it("sets only VGG_* variables that the apps read, the metrics contract's among them", async () => {
    const help = async (bin: string, args: string[]) =>
      (await run(process.execPath, [path.join(repoRoot, bin), ...args])).stdout;
    const [workerHelp, producerHelp] = await Promise.all([
      help('apps/worker/bin/vgg-worker.js', ['--help']),
      help('apps/producer/bin/vgg-producer.js', ['submit', '--help']),
    ]);
    const twins = (text: string) =>
      new Set([...text.matchAll(/env:\s+(VGG_[A-Z0-9_]+|REDIS_URL)/g)].map((m) => m[1]));
    const workerEnv = twins(workerHelp);
    expect(workerEnv.has('VGG_SHUTDOWN_TIMEOUT_MS')).toBe(true);
    // The metrics contract's variables are the worker's own flags' twins.
    expect(contract.env.filter((name) => !workerEnv.has(name))).toEqual([]);
    for (const { doc } of workers) {
      for (const name of envOf(onlyContainer(doc)).keys()) {
        if (name.startsWith('VGG_')) expect(workerEnv.has(name), `${objectName(doc)} ${name}`).toBe(true);
      }
    }
    const job = manifests.find((m) => m.doc.kind === 'Job')!.doc;
    const producer = onlyContainer(job);
    for (const name of envOf(producer).keys())
      if (name.startsWith('VGG_')) expect(twins(producerHelp).has(name), name).toBe(true);
    for (const flag of (producer.args ?? []).filter((a) => a.startsWith('--')))
      expect(producerHelp, `vgg-producer submit ${flag}`).toContain(`${flag} `);
  });

  it('runs the producer as a Job whose retries resume the same run', () => {
    const job = manifests.find((m) => m.doc.kind === 'Job')!.doc;
    const c = onlyContainer(job);
    expect(job.metadata.generateName).toBe('vgg-producer-');
    expect(podSpecOf(job)?.restartPolicy).toBe('Never');
    expect(podSpecOf(job)?.serviceAccountName).toBe('vgg-producer');
    // A fixed --run makes a retried submit resume instead of starting a second run.
    expect(c.args?.[0]).toBe('submit');
    expect(c.args).toContain('--run');
  });
});

describe('autoscaling with KEDA', () => {
  const states = ['wait', 'prioritized', 'delayed', 'active'];

  it('counts waiting, prioritized, delayed and active chunks under the keys BullMQ uses', () => {
    const keys = new QueueKeys(DEFAULT_KEY_PREFIX).getKeys(DEFAULT_QUEUE_NAME);
    expect(scaledObjects).toHaveLength(2);
    for (const { doc } of scaledObjects) {
      const spec = new ScaledObject(doc as never).spec!;
      const triggers = spec.triggers;
      expect(triggers.map((t) => t.name).sort(), objectName(doc)).toEqual([...states].sort());
      for (const t of triggers) {
        expect(t.type).toBe('redis');
        expect(t.metadata.listName).toBe(keys[t.name ?? '']);
        expect(t.authenticationRef?.name).toBe('vgg-redis');
        expect(t.metadata.enableTLS).toBe('true');
        expect(t.metadata.address).toBe('vgg-redis.vgg.svc.cluster.local:6379');
      }
    }
  });

  it('scales to the backlog divided by chunks per worker, and to zero only when nothing is left', () => {
    for (const { doc } of scaledObjects) {
      const spec = new ScaledObject(doc as never).spec!;
      const modifiers = spec.advanced?.scalingModifiers;
      const terms = (modifiers?.formula ?? '').split('+').map((s) => s.trim());
      // A plain sum: any chunk in any of the four states keeps the composite metric above the activation target.
      expect(terms.sort(), objectName(doc)).toEqual([...states].sort());
      expect(modifiers?.activationTarget).toBe('0');
      expect(modifiers?.metricType).toBe('AverageValue');
      const target = find('Deployment', spec.scaleTargetRef.name);
      expect(modifiers?.target).toBe(envOf(onlyContainer(target)).get('VGG_CHUNK_CONCURRENCY'));
      expect(spec.minReplicaCount).toBe(0);
      expect(spec.cooldownPeriod).toBeGreaterThanOrEqual(60);
      expect(spec.fallback?.behavior).toBe('currentReplicasIfHigher');
      // KEDA owns the replica count: a replicas field would reset it on every apply.
      expect((target.spec as { replicas?: number }).replicas).toBeUndefined();
    }
  });

  it('authenticates KEDA with its own Redis user over TLS, trusting the Redis CA', () => {
    const auth = new TriggerAuthentication(find('TriggerAuthentication', 'vgg-redis') as never).spec!;
    expect(auth.secretTargetRef?.map((r) => [r.parameter, r.name, r.key])).toEqual([
      ['username', 'vgg-redis', 'keda-username'],
      ['password', 'vgg-redis', 'keda-password'],
      ['ca', 'vgg-redis-tls', 'ca.crt'],
    ]);
  });
});

describe('Redis', () => {
  const config = (find('ConfigMap', 'vgg-redis-config').data as Record<string, string>)['redis.conf'] ?? '';
  const directives = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));

  it('repeats every setting of infra/redis/redis.conf (noeviction, AOF fsynced every second)', () => {
    const project = directives(readFileSync(path.join(repoRoot, 'infra/redis/redis.conf'), 'utf8'));
    expect(project).toEqual(
      expect.arrayContaining(['maxmemory-policy noeviction', 'appendonly yes', 'appendfsync everysec']),
    );
    expect(directives(config)).toEqual(expect.arrayContaining(project));
    expect(directives(config)).toEqual(expect.arrayContaining(['port 0', 'tls-port 6379']));
  });

  it('keeps the append-only file on a persistent volume mounted at the configured dir', () => {
    const sts = find('StatefulSet', 'vgg-redis');
    const spec = sts.spec as { volumeClaimTemplates?: { metadata?: { name?: string } }[]; replicas?: number };
    const c = onlyContainer(sts);
    const dir = directives(config)
      .find((d) => d.startsWith('dir '))
      ?.slice(4);
    const claim = spec.volumeClaimTemplates?.[0]?.metadata?.name;
    expect(claim).toBeDefined();
    expect(c.volumeMounts).toContainEqual({ name: claim, mountPath: dir });
    expect(spec.replicas).toBe(1);
  });
});
