import { readFileSync } from 'node:fs';

/**
 * This process's own peak resident memory, in bytes. Linux's getrusage maxRSS (process.resourceUsage) carries over
 * the parent's peak through fork and exec, so a child spawned by a bench that had grown to 1.2 GB reported 1.2 GB
 * whatever it used itself; VmHWM is the high-water mark of this process's own address space.
 */
export function peakRssBytes() {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {}
  return process.resourceUsage().maxRSS * 1024;
}
