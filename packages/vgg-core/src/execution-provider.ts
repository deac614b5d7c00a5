import { invalidOption, VggError } from './errors.js';

/**
 * Where inference runs: 'cpu'; 'cuda' (device 0) or 'cuda:N', which fail when CUDA cannot load; 'auto', which
 * tries cuda:0 and falls back to cpu with a warning.
 */
export type ExecutionProviderSetting = 'cpu' | 'cuda' | `cuda:${number}` | 'auto';

/** The provider a session actually runs on. */
export interface ExecutionProvider {
  readonly name: 'cpu' | 'cuda';
  /** CUDA device index; null for cpu. */
  readonly deviceId: number | null;
}

/** Validates a provider setting from a flag, an environment variable or an option. */
export function parseExecutionProvider(value: unknown, name = 'provider'): ExecutionProviderSetting {
  if (value === 'cpu' || value === 'cuda' || value === 'auto') return value;
  if (typeof value === 'string' && /^cuda:(0|[1-9]\d{0,2})$/.test(value)) return value as `cuda:${number}`;
  throw invalidOption(name, "one of 'cpu', 'cuda', 'cuda:N' (N a device index), 'auto'", value);
}

/** The providers to try, in order, for a setting: one, or cuda:0 then cpu for 'auto'. */
export function providerCandidates(setting: ExecutionProviderSetting): ExecutionProvider[] {
  if (setting === 'cpu') return [{ name: 'cpu', deviceId: null }];
  if (setting === 'auto') {
    return [
      { name: 'cuda', deviceId: 0 },
      { name: 'cpu', deviceId: null },
    ];
  }
  const deviceId = setting === 'cuda' ? 0 : Number(setting.slice('cuda:'.length));
  return [{ name: 'cuda', deviceId }];
}

/**
 * onnxruntime-node's executionProviders entry. For cuda only `deviceId` is read by the Node binding. CPU fallback
 * of single nodes is left on: a CUDA provider that cannot load already makes session creation throw, and
 * `disable_cpu_ep_fallback` would also refuse graphs whose small shape nodes ORT prefers to place on the CPU.
 */
export function ortExecutionProviders(
  provider: ExecutionProvider,
): Array<'cpu' | { name: 'cuda'; deviceId: number }> {
  return provider.name === 'cpu' ? ['cpu'] : [{ name: 'cuda', deviceId: provider.deviceId ?? 0 }];
}

/** 'cpu' or 'cuda:N', as logs and output metadata name a provider. */
export function describeProvider(provider: ExecutionProvider): string {
  return provider.name === 'cuda' ? `cuda:${provider.deviceId ?? 0}` : 'cpu';
}

const CUDA_HINT =
  'onnxruntime-node needs its CUDA 12 provider libraries (install it with ONNXRUNTIME_NODE_INSTALL=cuda12; a plain ' +
  'install skips them) and the CUDA 12 and cuDNN 9 libraries on LD_LIBRARY_PATH.';

/** The error for a provider whose session could not be created, with what usually fixes it. */
export function providerLoadError(provider: ExecutionProvider, cause: unknown): VggError {
  const hint =
    provider.name === 'cuda' ? ` ${CUDA_HINT} Use provider 'cpu', or 'auto' to fall back to the CPU.` : '';
  return new VggError(
    'VGG_PROVIDER',
    `Cannot create an onnxruntime session on ${describeProvider(provider)}: ${firstLine(cause)}.${hint}`,
    { cause },
  );
}

/** The warning when 'auto' gives up on a provider and moves to the next. */
export function providerFallbackWarning(
  provider: ExecutionProvider,
  next: ExecutionProvider,
  cause: unknown,
): string {
  const hint = provider.name === 'cuda' ? ` To use the GPU: ${CUDA_HINT}` : '';
  return `${describeProvider(provider)} is unavailable (${firstLine(cause)}); running on ${describeProvider(next)}.${hint}`;
}

function firstLine(cause: unknown): string {
  return (cause instanceof Error ? cause.message : String(cause)).split('\n')[0]!;
}
