/**
 * Shared by the benchmarks: CPU used by other processes of this machine (VM) while a round runs,
 * in cores: busy time from /proc/stat minus this process's own CPU time (all its threads). On a
 * 2-core machine one busy neighbour halves what 2 threads can get, so rounds above OTHER_CPU_MAX
 * are repeated. null where /proc/stat is not readable (not Linux).
 */
import { readFileSync } from 'node:fs';

export const OTHER_CPU_MAX = 0.25;
const now = () => performance.now();

export class OtherCpu {
  private t0 = 0;
  private busy0 = 0;
  private own0: NodeJS.CpuUsage = { user: 0, system: 0 };
  readonly available = OtherCpu.busyMs() !== null;

  private static busyMs(): number | null {
    try {
      const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      // user nice system idle iowait irq softirq steal ...: everything but idle and iowait, in 10 ms ticks
      return 10 * f.reduce((sum, v, i) => (i === 3 || i === 4 || i > 7 ? sum : sum + v), 0);
    } catch {
      return null;
    }
  }
  start(): void {
    this.t0 = now();
    this.busy0 = OtherCpu.busyMs() ?? 0;
    this.own0 = process.cpuUsage();
  }
  /** Cores used by other processes since start(), or null. */
  stop(): number | null {
    if (!this.available) return null;
    const own = process.cpuUsage(this.own0);
    const other = (OtherCpu.busyMs() ?? 0) - this.busy0 - (own.user + own.system) / 1000;
    return Math.max(0, other) / Math.max(1, now() - this.t0);
  }
}
