import { readFileSync } from 'node:fs';

let cached: readonly string[] | undefined;

/**
 * The 1,000 ImageNet-1k class names in torchvision's class-index order, read once from the package's
 * data/imagenet-classes.txt (resolved from this module, so it works from src/ and dist/ alike).
 */
export function imagenetLabels(): readonly string[] {
  if (cached !== undefined) return cached;
  const text = readFileSync(new URL('../data/imagenet-classes.txt', import.meta.url), 'utf8');
  const labels = text.split('\n').filter((line) => line.length > 0);
  if (labels.length !== 1000) {
    throw new Error(`imagenet-classes.txt has ${labels.length} names; expected 1000`);
  }
  cached = Object.freeze(labels);
  return cached;
}

/** Human-readable name of a class: the ImageNet name when the model has 1,000 classes, else `class_<id>`. */
export function classLabel(classId: number, numClasses: number): string {
  if (numClasses === 1000) return imagenetLabels()[classId] ?? `class_${classId}`;
  return `class_${classId}`;
}
