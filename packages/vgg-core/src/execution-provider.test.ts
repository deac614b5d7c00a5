import { describe, expect, it } from 'vitest';
import { parseExecutionProvider, providerCandidates, providerLoadError } from './execution-provider.js';

describe('parseExecutionProvider', () => {
  it('accepts cpu, cuda, cuda:N and auto', () => {
    for (const value of ['cpu', 'cuda', 'cuda:0', 'cuda:3', 'auto'])
      expect(parseExecutionProvider(value)).toBe(value);
  });

  it('rejects anything else with a sharp-style message', () => {
    for (const value of ['cuda:x', 'cuda:', 'cuda:01', 'gpu', 'CPU', 'cuda:-1', 1]) {
      expect(() => parseExecutionProvider(value, '--provider')).toThrow(
        `Expected one of 'cpu', 'cuda', 'cuda:N' (N a device index), 'auto' for --provider but received ${typeof value === 'string' ? JSON.stringify(value) : value}`,
      );
    }
  });
});

describe('providerCandidates', () => {
  it('tries cuda:0 then cpu for auto, and only the named provider otherwise', () => {
    expect(providerCandidates('auto')).toEqual([
      { name: 'cuda', deviceId: 0 },
      { name: 'cpu', deviceId: null },
    ]);
    expect(providerCandidates('cuda')).toEqual([{ name: 'cuda', deviceId: 0 }]);
    expect(providerCandidates('cuda:2')).toEqual([{ name: 'cuda', deviceId: 2 }]);
    expect(providerCandidates('cpu')).toEqual([{ name: 'cpu', deviceId: null }]);
  });

  it('explains how to get a working CUDA provider', () => {
    const error = providerLoadError(
      { name: 'cuda', deviceId: 1 },
      new Error('Failed to load shared library'),
    );
    expect(error.code).toBe('VGG_PROVIDER');
    expect(error.message).toMatch(/cuda:1: Failed to load shared library/);
    expect(error.message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(error.message).toMatch(/LD_LIBRARY_PATH/);
  });
});
