import { describe, expect, it } from 'vitest';
import { embeddingColumn } from '../formats/parquet-shard.js';
import { npyKeysFor, tapOfNpyKey } from './output-layout.js';
import { planRun } from './plan-run.js';

describe('Gram taps in a run', () => {
  it('accepts gram:<conv tap> next to other taps and stores it as given', () => {
    const { spec } = planRun({ out: '/tmp/o', runId: 'g', taps: ['gram:relu1_2', 'fc7'], fp16: true });
    expect(spec.output.taps).toEqual(['gram:relu1_2', 'fc7']);
    expect(spec.output.dtype).toBe('float16');
  });

  it('refuses a Gram tap of a layer that is not a conv tap, naming --taps and the valid form', () => {
    expect(() => planRun({ out: '/tmp/o', taps: ['gram:fc7'] })).toThrow(
      /Expected one of .*relu5_3.*, or gram:<conv tap> \(gram:relu1_2, …\) \(taps of vgg16\) for --taps but received "gram:fc7"/,
    );
    expect(() => planRun({ out: '/tmp/o', model: 'vgg11', taps: ['gram:relu1_2'] })).toThrow(/--taps/);
  });

  it('names columns and npy folders without the colon, and maps the folder back to the tap', () => {
    expect(embeddingColumn('gram:relu2_2')).toBe('emb_gram_relu2_2');
    expect(embeddingColumn('fc7')).toBe('emb_fc7');
    const { embeddings } = npyKeysFor('gram:relu2_2', 3);
    expect(embeddings).toBe('embeddings/gram_relu2_2/img_emb/img_emb_000003.npy');
    expect(tapOfNpyKey(embeddings)).toBe('gram:relu2_2');
  });
});
