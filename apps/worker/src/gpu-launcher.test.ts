import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isUsageError } from 'vgg-cli-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { GpuLauncher, resolveGpus, workerArgsForGpu } from './gpu-launcher.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'vgg-gpus-'));
  dirs.push(dir);
  return dir;
}

describe('resolveGpus', () => {
  it('takes every entry of CUDA_VISIBLE_DEVICES for all, UUIDs as written', () => {
    expect(resolveGpus('all', { cudaVisibleDevices: '2,3' })).toEqual(['2', '3']);
    expect(resolveGpus('all', { cudaVisibleDevices: 'GPU-8a1c,GPU-77f0' })).toEqual(['GPU-8a1c', 'GPU-77f0']);
  });

  it('counts the driver GPUs for all when CUDA_VISIBLE_DEVICES is unset', async () => {
    const proc = await tempDir();
    for (const pci of ['0000:17:00.0', '0000:65:00.0', '0000:ca:00.0']) await mkdir(path.join(proc, pci));
    expect(resolveGpus('all', { cudaVisibleDevices: undefined, procGpusDir: proc })).toEqual(['0', '1', '2']);
  });

  it('refuses all when no GPU is visible, naming why and what to do', async () => {
    const none = path.join(await tempDir(), 'missing');
    expect(() => resolveGpus('all', { cudaVisibleDevices: undefined, procGpusDir: none })).toThrow(
      /no GPU.*--device cpu/,
    );
    expect(() => resolveGpus('all', { cudaVisibleDevices: '-1' })).toThrow(/CUDA_VISIBLE_DEVICES is "-1"/);
    expect(() => resolveGpus('all', { cudaVisibleDevices: '' })).toThrow(/found none/);
  });

  it('maps listed ordinals through CUDA_VISIBLE_DEVICES as CUDA numbers them', () => {
    expect(resolveGpus('0,1', { cudaVisibleDevices: undefined })).toEqual(['0', '1']);
    expect(resolveGpus('1', { cudaVisibleDevices: '2,3' })).toEqual(['3']);
    expect(() => resolveGpus('2', { cudaVisibleDevices: '2,3' })).toThrow(/shows 2 GPUs/);
  });

  it('refuses malformed and repeated ordinals as usage errors', () => {
    for (const spec of ['', 'x', '0,0', '1,-1', 'cuda:0']) {
      let error: unknown;
      try {
        resolveGpus(spec, { cudaVisibleDevices: undefined });
      } catch (e) {
        error = e;
      }
      expect(isUsageError(error), spec).toBe(true);
      expect((error as Error).message).toMatch(/^Expected all or a list of distinct GPU ordinals/);
    }
  });
});

describe('workerArgsForGpu', () => {
  it('drops --gpus in both spellings and gives each worker cuda:0', () => {
    expect(workerArgsForGpu(['--gpus', 'all', '--batch-size', '64', '--gpus=0,1', '--json'])).toEqual([
      '--batch-size',
      '64',
      '--json',
      '--device',
      'cuda:0',
    ]);
  });

  it("splits the host's cores between the workers' decoders unless told otherwise", () => {
    expect(workerArgsForGpu(['--gpus', 'all'], { cores: 64, gpus: 8 })).toEqual([
      '--decode-concurrency',
      '8',
      '--device',
      'cuda:0',
    ]);
    expect(workerArgsForGpu(['--decode-concurrency', '3'], { cores: 64, gpus: 8 })).toEqual([
      '--decode-concurrency',
      '3',
      '--device',
      'cuda:0',
    ]);
    expect(workerArgsForGpu([], { cores: 4, gpus: 8 })).toContain('1');
    expect(workerArgsForGpu([], { cores: 16, gpus: 1 })).toEqual(['--device', 'cuda:0']);
  });

  it('refuses a --device of its own', () => {
    expect(() => workerArgsForGpu(['--gpus', 'all', '--device', 'cuda:1'])).toThrow(/drop --device/);
    expect(() => workerArgsForGpu(['--device=cpu'])).toThrow(/drop --device/);
  });
});

// A stand-in for vgg-worker: writes what it was given to <dir>/<CUDA_VISIBLE_DEVICES>.json, exits 0 on SIGTERM,
// or at once with the status its GPU names in FAIL_ON.
const fakeWorker = `
const fs = require('node:fs');
const gpu = process.env.CUDA_VISIBLE_DEVICES;
fs.writeFileSync(process.argv[1] + '/' + gpu + '.json', JSON.stringify({
  gpu, args: process.argv.slice(2), vggGpus: process.env.VGG_GPUS ?? null, vggDevice: process.env.VGG_DEVICE ?? null,
}));
if (process.env.FAIL_ON === gpu) process.exit(3);
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1000);
`;

async function waitForFiles(dir: string, n: number): Promise<void> {
  for (let i = 0; i < 400 && (await readdir(dir)).length < n; i++)
    await new Promise((r) => setTimeout(r, 25));
}

describe('GpuLauncher', () => {
  it('starts one worker per GPU with its own CUDA_VISIBLE_DEVICES, and a stop reaches all of them', async () => {
    const dir = await tempDir();
    const launcher = GpuLauncher.start({
      gpus: ['0', '1', 'GPU-abc'],
      command: process.execPath,
      args: [
        '-e',
        fakeWorker,
        dir,
        ...workerArgsForGpu(['--gpus', 'all', '--batch-size', '64', '--metrics-port=9500']),
      ],
      metricsPort: 9500,
      env: { ...process.env, VGG_GPUS: 'all', VGG_DEVICE: 'cpu' },
      log: () => undefined,
    });
    await waitForFiles(dir, 3);
    const seen = await Promise.all(
      ['0', '1', 'GPU-abc'].map(async (g) => JSON.parse(await readFile(path.join(dir, `${g}.json`), 'utf8'))),
    );
    for (const [i, s] of seen.entries()) {
      expect(s.gpu).toBe(['0', '1', 'GPU-abc'][i]);
      // One metrics port each (9500, 9501, 9502): workers of one host must not collide on the caller's port.
      expect(s.args).toEqual([
        '--batch-size',
        '64',
        '--device',
        'cuda:0',
        '--metrics-port',
        String(9500 + i),
      ]);
      // The workers must not launch again, nor take a device from the environment.
      expect(s.vggGpus).toBeNull();
      expect(s.vggDevice).toBeNull();
    }
    launcher.stop('SIGTERM');
    expect(await launcher.exited).toBe(0);
    expect(launcher.workers.every(({ child }) => child.exitCode !== null || child.signalCode !== null)).toBe(
      true,
    );
  });

  it('stops the other workers and exits non-zero when one worker dies', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const launcher = GpuLauncher.start({
      gpus: ['0', '1'],
      command: process.execPath,
      args: ['-e', fakeWorker, dir],
      metricsPort: 0,
      env: { ...process.env, FAIL_ON: '1' },
      log: (line) => lines.push(line),
    });
    expect(await launcher.exited).toBe(3);
    expect(lines.join('\n')).toMatch(/worker on GPU 1 exited \(code 3\); stopping the others/);
    const survivor = launcher.workers.find((w) => w.gpu === '0');
    expect(survivor?.child.exitCode === 0 || survivor?.child.signalCode === 'SIGTERM').toBe(true);
  });
});
