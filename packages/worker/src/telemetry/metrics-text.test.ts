import { describe, expect, it } from 'vitest';
import { canonicalNaN, tightenLabels } from './metrics-endpoint.js';

describe('the exposition text the endpoint serves', () => {
  it("writes prom-client's Nan values as the format's NaN, and leaves label values alone", () => {
    const text = 'a_seconds Nan\nb{l="x Nan"} 1\nc 2\n';
    expect(canonicalNaN(text)).toBe('a_seconds NaN\nb{l="x Nan"} 1\nc 2\n');
  });

  it("drops BullMQ's space after a comma between labels, but not inside a quoted value", () => {
    expect(tightenLabels('q{queue="a", state="b, c"} 3')).toBe('q{queue="a",state="b, c"} 3');
  });
});
