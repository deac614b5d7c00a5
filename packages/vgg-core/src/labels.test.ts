import { describe, expect, it } from 'vitest';
import { classLabel, imagenetLabels } from './labels.js';

describe('imagenetLabels', () => {
  it('lists the 1000 classes in torchvision order', () => {
    const labels = imagenetLabels();
    expect(labels).toHaveLength(1000);
    expect(labels[0]).toBe('tench');
    expect(labels[281]).toBe('tabby');
    expect(labels[999]).toBe('toilet tissue');
    expect(imagenetLabels()).toBe(labels);
  });

  it('names classes only for 1000-class models', () => {
    expect(classLabel(281, 1000)).toBe('tabby');
    expect(classLabel(3, 10)).toBe('class_3');
  });
});
