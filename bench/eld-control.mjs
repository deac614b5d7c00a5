// A control for the workers' event-loop delay: a process that does nothing but measure its own event loop, the same
// way (monitorEventLoopDelay, 2 ms resolution), over the same interval. On a machine whose cores are all busy, the
// delay it sees is the wait for a core, which no change to the worker can remove; the worker's excess over it is
// what the worker's own main-thread work adds. SIGUSR2 resets, SIGTERM writes { p50, p99, max } to argv[2].
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const [statsFile] = process.argv.slice(2);
const eld = monitorEventLoopDelay({ resolution: 2 });
eld.enable();
const ms = (ns) => Math.round((ns / 1e6) * 10) / 10;
process.on('SIGUSR2', () => {
  eld.reset();
  process.stdout.write('reset\n');
});
process.on('SIGTERM', () => {
  eld.disable();
  writeFileSync(
    statsFile,
    JSON.stringify({ p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) }),
  );
  process.exit(0);
});
setInterval(() => {}, 60_000);
process.stdout.write('ready\n');
