import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const workerMain = path.resolve(import.meta.dirname, '../../apps/worker/dist/main.js');

export interface WorkerProcessOptions {
  redisUrl: string;
  prefix: string;
  cacheDir: string;
  /** Extra environment, e.g. AWS_ENDPOINT_URL_S3. */
  env?: Record<string, string>;
  args?: string[];
}

/** A real `vgg-worker` process, so tests can SIGKILL and SIGTERM it. */
export class WorkerProcess {
  readonly log: string[] = [];
  private constructor(readonly child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => this.log.push(d.toString()));
  }

  static start(options: WorkerProcessOptions): WorkerProcess {
    const child = spawn(process.execPath, [workerMain, '--json', ...(options.args ?? [])], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_REGION: 'us-east-1',
        REDIS_URL: options.redisUrl,
        VGG_PREFIX: options.prefix,
        VGG_CACHE_DIR: options.cacheDir,
        VGG_THREADS: '1',
        VGG_BATCH_SIZE: '8',
        VGG_LOCK_DURATION_MS: '4000',
        // No metrics endpoint unless a test asks for one (an empty value stands for unset: the default port).
        VGG_METRICS_PORT: '0',
        ...options.env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    return new WorkerProcess(child);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Resolves with the exit code (or signal) once the process has exited. */
  waitForExit(): Promise<number | string> {
    if (this.exited) return Promise.resolve(this.child.exitCode ?? this.child.signalCode ?? -1);
    return new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  }

  /** Resolves when the worker logs an event of `type` (it logs JSON lines with --json). */
  async waitForEvent(type: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const chunk of this.log) {
        for (const line of chunk.split('\n')) {
          if (line.includes(`"type":"${type}"`)) return JSON.parse(line) as Record<string, unknown>;
        }
      }
      if (Date.now() > deadline || this.exited)
        throw new Error(`worker did not log ${type}:\n${this.log.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), 15_000);
    await this.waitForExit();
    clearTimeout(timer);
  }
}
