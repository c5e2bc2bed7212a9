/**
 * Shared by the benchmarks: CPU used by other processes of this machine (VM) while a round runs,
 * in cores: busy time from /proc/stat minus this process's own CPU time (all its threads). On a
 * 2-core machine one busy neighbour halves what 2 threads can get, so rounds above OTHER_CPU_MAX
 * are repeated. null where /proc/stat is not readable (not Linux).
 */
import { existsSync } from 'node:fs';
import { otherLoadMeter } from '../src/runtime/node.js';

export const OTHER_CPU_MAX = 0.25;

/** The library's own meter (src/runtime/node.ts: Host.loadMeter), between start() and stop(). */
export class OtherCpu {
  private readonly meter = otherLoadMeter(0);
  readonly available = existsSync('/proc/stat');
  start(): void {
    this.meter();
  }
  /** Cores used by other processes since start(), or null. */
  stop(): number | null {
    return this.meter()?.others ?? null;
  }
}
