import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { invalidFlag, UsageError } from 'vgg-cli-kit';

/** Where the NVIDIA driver lists one directory per GPU it drives. */
export const NVIDIA_PROC_GPUS = '/proc/driver/nvidia/gpus';

export interface GpuListOptions {
  /** The launcher's CUDA_VISIBLE_DEVICES (undefined when unset). */
  cudaVisibleDevices: string | undefined;
  /** The driver's GPU directory. Default {@link NVIDIA_PROC_GPUS}. */
  procGpusDir?: string;
}

/**
 * The CUDA_VISIBLE_DEVICES value of each worker `--gpus` asks for. `all`: every entry of the launcher's
 * CUDA_VISIBLE_DEVICES when it is set (ids or GPU-UUIDs, kept as written), else one per GPU the driver lists.
 * A list (`0,1`): those ordinals, counted within the launcher's CUDA_VISIBLE_DEVICES when it is set, as CUDA
 * counts them, so `--gpus 1` under CUDA_VISIBLE_DEVICES=2,3 is physical GPU 3.
 */
export function resolveGpus(spec: string, options: GpuListOptions): string[] {
  const visible =
    options.cudaVisibleDevices === undefined
      ? undefined
      : options.cudaVisibleDevices
          .split(',')
          .map((s) => s.trim())
          // CUDA stops at the first invalid entry; -1 is the usual way to hide every GPU.
          .filter((s, i, all) => s !== '' && !all.slice(0, i + 1).some((x) => x.trim() === '-1'));
  if (spec.trim() === 'all') {
    const gpus = visible ?? driverGpus(options.procGpusDir ?? NVIDIA_PROC_GPUS);
    if (gpus.length === 0)
      throw new UsageError(
        '--gpus',
        `Expected at least one visible GPU for --gpus all but found none (${
          visible === undefined
            ? `CUDA_VISIBLE_DEVICES is unset and ${options.procGpusDir ?? NVIDIA_PROC_GPUS} lists no GPU`
            : `CUDA_VISIBLE_DEVICES is ${JSON.stringify(options.cudaVisibleDevices)}`
        }): run on a GPU host with the NVIDIA driver, name devices with --gpus 0,1, or use --device cpu`,
      );
    return gpus;
  }
  const ordinals = spec.split(',').map((s) => s.trim());
  const seen = new Set<string>();
  return ordinals.map((ordinal) => {
    if (!/^\d+$/.test(ordinal) || seen.has(ordinal))
      throw invalidFlag('--gpus', 'all or a list of distinct GPU ordinals like 0,1', spec);
    seen.add(ordinal);
    if (visible === undefined) return ordinal;
    const id = visible[Number(ordinal)];
    if (id === undefined)
      throw invalidFlag(
        '--gpus',
        `ordinals below ${visible.length} (CUDA_VISIBLE_DEVICES=${options.cudaVisibleDevices} shows ${visible.length} GPUs)`,
        spec,
      );
    return id;
  });
}

function driverGpus(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.map((_, i) => String(i));
}

/**
 * The arguments of each GPU's worker: the launcher's own, less `--gpus`, plus `--device cuda:0` (each worker sees
 * only its GPU, as device 0). A `--device` of the caller's would contradict that, so it is refused. Unless the
 * caller chose, the host's cores are split between the workers' decoders (`--decode-concurrency`): each would
 * otherwise take every core, and decode is what feeds a GPU.
 */
export function workerArgsForGpu(argv: readonly string[], split?: { cores: number; gpus: number }): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--gpus') {
      i += 1;
      continue;
    }
    if (arg.startsWith('--gpus=')) continue;
    // Each worker gets its own metrics port (GpuLaunchOptions.metricsPort), so the caller's is dropped here.
    if (arg === '--metrics-port') {
      i += 1;
      continue;
    }
    if (arg.startsWith('--metrics-port=')) continue;
    if (arg === '--device' || arg.startsWith('--device='))
      throw new UsageError(
        '--device',
        '--gpus starts one worker per GPU on device cuda:0 of its own CUDA_VISIBLE_DEVICES; drop --device',
      );
    out.push(arg);
  }
  const chosen = out.some((a) => a === '--decode-concurrency' || a.startsWith('--decode-concurrency='));
  const decode =
    split && !chosen && split.gpus > 1
      ? ['--decode-concurrency', String(Math.max(1, Math.floor(split.cores / split.gpus)))]
      : [];
  return [...out, ...decode, '--device', 'cuda:0'];
}

export interface GpuLaunchOptions {
  /** CUDA_VISIBLE_DEVICES of each worker, from {@link resolveGpus}. */
  gpus: string[];
  /** The worker executable and its arguments (e.g. process.execPath, [bin, ...workerArgsForGpu(argv)]). */
  command: string;
  args: string[];
  /**
   * The first worker's metrics port; worker i serves on this + i, so the workers of one host do not collide.
   * 0: no endpoint for any of them.
   */
  metricsPort: number;
  /** The launcher's environment; each worker gets it with CUDA_VISIBLE_DEVICES set and VGG_GPUS/VGG_DEVICE cleared. */
  env: Record<string, string | undefined>;
  log: (line: string) => void;
}

/**
 * One worker process per GPU, supervised together: a signal given to {@link GpuLauncher.stop} goes to every worker
 * (each finishes or hands back its chunks); when one worker exits on its own the others are stopped too, so a
 * supervisor (systemd, Kubernetes) sees the launcher exit and restarts the set. Worker output passes through.
 */
export class GpuLauncher {
  readonly workers: { gpu: string; child: ChildProcess }[];
  /** Resolves with the launcher's exit status once every worker has exited: 0 when all exited 0. */
  readonly exited: Promise<number>;
  #stopping = false;

  private constructor(options: GpuLaunchOptions) {
    this.workers = options.gpus.map((gpu, index) => {
      const env: Record<string, string | undefined> = { ...options.env, CUDA_VISIBLE_DEVICES: gpu };
      delete env.VGG_GPUS;
      delete env.VGG_DEVICE;
      const port = options.metricsPort === 0 ? 0 : options.metricsPort + index;
      const args = [...options.args, '--metrics-port', String(port)];
      const child = spawn(options.command, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
      options.log(
        `vgg-worker --gpus: started worker ${child.pid} on GPU ${gpu}` +
          (port === 0 ? '' : `, metrics on port ${port}`),
      );
      return { gpu, child };
    });
    this.exited = Promise.all(
      this.workers.map(
        ({ gpu, child }) =>
          new Promise<number>((resolve) => {
            child.once('error', (error) => {
              options.log(`vgg-worker --gpus: worker on GPU ${gpu} could not start: ${error.message}`);
              this.stop('SIGTERM');
              resolve(1);
            });
            child.once('exit', (code, signal) => {
              const status = code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1);
              if (!this.#stopping) {
                options.log(
                  `vgg-worker --gpus: worker on GPU ${gpu} exited (${signal ?? `code ${code}`}); stopping the others`,
                );
                this.stop('SIGTERM');
              }
              resolve(status);
            });
          }),
      ),
    ).then((codes) => Math.max(0, ...codes));
  }

  static start(options: GpuLaunchOptions): GpuLauncher {
    if (options.gpus.length === 0) throw new UsageError('--gpus', 'Expected at least one GPU for --gpus');
    return new GpuLauncher(options);
  }

  /** Passes `signal` to every worker still running (a second call passes it again: the workers' "now"). */
  stop(signal: NodeJS.Signals): void {
    this.#stopping = true;
    for (const { child } of this.workers)
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}
