/**
 * The Dockerfiles under infra/docker, linted with dockerfile-utils (the linter of VS Code's Docker extension) and
 * held to the image rules: multi-stage, a supported Node LTS, production dependencies only, non-root, a health
 * check on the metrics contract, an entry point that exists, the CUDA provider downloaded once for the GPU image.
 * They are built by infra/docker/build-offline.sh, not here: no test can pull a base image.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Copy, DockerfileParser } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { readMetricsContract, repoRoot } from './support/infra.js';

const dockerDir = path.join(repoRoot, 'infra', 'docker');
const contract = readMetricsContract();
const packageJson = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  engines: { node: string };
  workspaces: string[];
};

const ROLES = {
  worker: { app: 'apps/worker', service: true },
  'worker-gpu': { app: 'apps/worker', service: true },
  producer: { app: 'apps/producer', service: false },
  local: { app: 'apps/local', service: false },
} as const;
type Role = keyof typeof ROLES;
const roles = Object.keys(ROLES) as Role[];

interface Step {
  keyword: string;
  args: string;
  /** COPY --from */
  from?: string;
}
interface Stage {
  name: string;
  base: string;
  steps: Step[];
}

function read(role: Role): string {
  return readFileSync(path.join(dockerDir, `Dockerfile.${role}`), 'utf8');
}

function parse(role: Role): { args: Map<string, string>; stages: Stage[] } {
  const dockerfile = DockerfileParser.parse(read(role));
  const args = new Map(
    dockerfile.getARGs().map((a) => [a.getProperty()?.getName() ?? '', a.getProperty()?.getValue() ?? '']),
  );
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === 'FROM') {
      const [base = '', , name = ''] = instruction.getArguments().map((a) => a.getValue());
      stages.push({ name, base, steps: [] });
      continue;
    }
    const from = keyword === 'COPY' ? (instruction as Copy).getFromFlag()?.getValue() : undefined;
    stages
      .at(-1)
      ?.steps.push({ keyword, args: instruction.getArgumentsContent() ?? '', ...(from ? { from } : {}) });
  }
  return { args, stages };
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(path.join(repoRoot, file), 'utf8')) as T;
}

/** Workspace folders the app needs at run time: itself and its workspace dependencies, transitively. */
function workspaceClosure(app: string): Set<string> {
  const byName = new Map(
    packageJson.workspaces.map((dir) => [readJson<{ name: string }>(`${dir}/package.json`).name, dir]),
  );
  const out = new Set<string>();
  const visit = (dir: string) => {
    if (out.has(dir)) return;
    out.add(dir);
    const deps =
      readJson<{ dependencies?: Record<string, string> }>(`${dir}/package.json`).dependencies ?? {};
    for (const name of Object.keys(deps)) {
      const dep = byName.get(name);
      if (dep) visit(dep);
    }
  };
  visit(app);
  return out;
}

/** Projects that `tsc -b <dirs>` compiles: those folders and their tsconfig references, transitively. */
function compiledBy(dirs: string[]): Set<string> {
  const out = new Set<string>();
  const visit = (dir: string) => {
    if (out.has(dir)) return;
    out.add(dir);
    // tsconfig files are JSON with comments: read them as tsc does.
    const file = path.join(repoRoot, dir, 'tsconfig.json');
    const { config, error } = ts.parseConfigFileTextToJson(file, readFileSync(file, 'utf8'));
    if (error) throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(error.messageText, '\n')}`);
    const refs = (config as { references?: { path: string }[] }).references ?? [];
    for (const ref of refs) visit(path.normalize(path.join(dir, ref.path)));
  };
  for (const dir of dirs) visit(dir);
  return out;
}

/** The major versions package.json's engines admit, e.g. "^22.12.0 || ^24.0.0" -> [22, 24]. */
function supportedMajors(): number[] {
  return packageJson.engines.node.split('||').map((range) => Number(/\^(\d+)/.exec(range)?.[1]));
}

describe('Dockerfiles', () => {
  it('exist for each role and lint clean', () => {
    expect(
      readdirSync(dockerDir)
        .filter((f) => f.startsWith('Dockerfile.'))
        .sort(),
    ).toEqual(roles.map((r) => `Dockerfile.${r}`).sort());
    for (const role of roles) {
      const problems = validate(read(role)).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
      expect(problems, `Dockerfile.${role}`).toEqual([]);
    }
  });

  it('build on a supported Node.js LTS, the Node 24 release that CI tests', () => {
    const majors = supportedMajors();
    expect(majors).toEqual([22, 24]);
    const ciNode = /CI_EXTRA_NODE_VERSIONS-([\d.]+)/.exec(
      readFileSync(path.join(repoRoot, '.ci/run'), 'utf8'),
    )?.[1];
    for (const role of roles) {
      const { args, stages } = parse(role);
      expect(args.get('NODE_VERSION'), role).toBe(ciNode);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile ARG reference, not a template
      expect(stages[0]?.base, role).toBe('node:${NODE_VERSION}-bookworm-slim');
    }
  });

  it('compile in one stage and install only the production dependencies of their app in another', () => {
    for (const role of roles) {
      const { app } = ROLES[role];
      expect(packageJson.workspaces).toContain(app);
      const { stages } = parse(role);
      expect(stages.length, role).toBeGreaterThanOrEqual(3);
      const runs = stages.flatMap((s) => s.steps.filter((st) => st.keyword === 'RUN').map((st) => st.args));
      const tscArgs = runs.flatMap(
        (r) => /npx tsc -b ((?:[\w./-]+ ?)+)/.exec(r)?.[1]?.trim().split(' ') ?? [],
      );
      expect(tscArgs, `${role} compiles ${app}`).toContain(app);
      // Every workspace the app runs (vgg-local spawns vgg-worker, which it does not import) must be compiled.
      const compiled = compiledBy(tscArgs);
      const missing = [...workspaceClosure(app)].filter((dir) => !compiled.has(dir));
      expect(
        missing,
        `${role}: run-time workspaces that tsc -b ${tscArgs.join(' ')} does not compile`,
      ).toEqual([]);
      expect(runs.join('\n'), role).not.toMatch(/npm (install|i) /);
      const deps = stages.find((s) =>
        s.steps.some(
          (st) => st.keyword === 'RUN' && st.args.includes(`npm ci --omit=dev --workspace=${app}`),
        ),
      );
      expect(deps, `${role}: a stage runs npm ci --omit=dev --workspace=${app}`).toBeDefined();
      const final = stages.at(-1)!;
      const copiedFrom = final.steps.filter((s) => s.keyword === 'COPY').map((s) => s.from);
      // The runtime takes the app tree from the production-only stage; the GPU image also takes the node binary.
      expect(
        copiedFrom.filter((f) => f !== 'node'),
        role,
      ).toEqual([deps?.name]);
      expect(
        final.steps.some((s) => s.keyword === 'RUN' && s.args.includes('npm ')),
        role,
      ).toBe(false);
    }
  });

  it('run as a non-root user and start a command that exists in the repository', () => {
    for (const role of roles) {
      const final = parse(role).stages.at(-1)!;
      const user = final.steps.filter((s) => s.keyword === 'USER').at(-1)?.args ?? '';
      expect(user, role).toMatch(/^[1-9]\d*(:\d+)?$/);
      const entrypoint = JSON.parse(
        final.steps.find((s) => s.keyword === 'ENTRYPOINT')?.args ?? '[]',
      ) as string[];
      const script = entrypoint.find((a) => a.startsWith('/app/')) ?? '';
      expect(script.startsWith(`/app/${ROLES[role].app}/bin/`), `${role}: ${script}`).toBe(true);
      expect(existsSync(path.join(repoRoot, script.slice('/app/'.length))), script).toBe(true);
    }
  });

  it("check health on the contract's liveness path for workers, and declare no check for one-shot commands", () => {
    for (const role of roles) {
      const final = parse(role).stages.at(-1)!;
      const healthchecks = final.steps.filter((s) => s.keyword === 'HEALTHCHECK').map((s) => s.args);
      expect(healthchecks, role).toHaveLength(1);
      if (!ROLES[role].service) {
        expect(healthchecks[0], role).toBe('NONE');
        continue;
      }
      expect(healthchecks[0]).toContain(`process.env.${contract.portEnv}`);
      expect(healthchecks[0]).toContain(`'${contract.paths.liveness}'`);
      const env = final.steps.filter((s) => s.keyword === 'ENV').map((s) => s.args);
      expect(env, role).toContain(`${contract.portEnv}=${contract.port}`);
      expect(final.steps.filter((s) => s.keyword === 'EXPOSE').map((s) => s.args)).toEqual([
        String(contract.port),
      ]);
    }
  });

  it("download onnxruntime's CUDA provider once, at build time, in the GPU image only", () => {
    for (const role of roles) {
      const { args, stages } = parse(role);
      const text = read(role);
      // The old image ran the provider download a second time by hand.
      expect(text, role).not.toContain('script/install');
      const settings = stages.flatMap((s) =>
        s.steps
          .filter((st) => st.keyword === 'ENV' && st.args.startsWith('ONNXRUNTIME_NODE_INSTALL='))
          .map((st) => ({ stage: s.name, value: st.args.split('=')[1] })),
      );
      if (role !== 'worker-gpu') {
        expect(new Set(settings.map((s) => s.value)), role).toEqual(new Set(['skip']));
        continue;
      }
      const cuda = settings.filter((s) => s.value === 'cuda12');
      expect(cuda).toHaveLength(1);
      const deps = stages.find((s) => s.name === cuda[0]?.stage);
      expect(deps?.steps.some((s) => s.args.includes('npm ci --omit=dev'))).toBe(true);
      expect(
        deps?.steps.some((s) => s.args.includes('test -f') && s.args.includes('providers_cuda.so')),
      ).toBe(true);
      expect(args.get('CUDA_IMAGE')).toMatch(/^nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/);
      const final = stages.at(-1)!;
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile ARG reference, not a template
      expect(final.base).toBe('${CUDA_IMAGE}');
      const ldPath = final.steps.find((s) => s.keyword === 'ENV' && s.args.startsWith('LD_LIBRARY_PATH='));
      expect(ldPath?.args).toContain('/usr/local/cuda/lib64');
    }
  });

  it('send no installed or built files, and no git history, in the build context', () => {
    const ignored = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(
      expect.arrayContaining(['.git', '**/node_modules', '**/dist', '**/*.tsbuildinfo']),
    );
    // What the images need must not be ignored.
    for (const needed of [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'packages',
      'apps',
      'tsconfig.base.json',
    ])
      expect(ignored, needed).not.toContain(needed);
  });
});
