// Faults in the worker pool: a trap or a dead worker surfaces as an error within a bounded time,
// and the runtime stays usable (on the calling thread, with the same bits).
import { describe, expect, it } from 'vitest';
import { createRuntime, WorkerError } from '../src/index.js';
import type { WorkerPool } from '../src/runtime/pool.js';

const shape = { m: 96, n: 160, k: 200 };

async function product(threads: number, workerTimeoutMs?: number) {
  const rt = await createRuntime({ threads, workerTimeoutMs });
  const a = rt.arena.f32(shape.m * shape.k),
    b = rt.arena.f32(shape.k * shape.n),
    c = rt.arena.f32(shape.m * shape.n);
  const s = rt.kernels.rng(3);
  rt.kernels.normal(a, s);
  rt.kernels.normal(b, s);
  return { rt, a, b, c, run: () => (rt.kernels.matmul(c, a, b, shape), rt.arena.read(c)) };
}

describe('worker faults', () => {
  it('a dead worker is detected within the timeout; the runtime then computes alone, same bits', async () => {
    const ref = await product(1);
    const want = ref.run();
    ref.rt.dispose();
    const p = await product(2, 500);
    try {
      expect(p.rt.kernels.threads).toBe(2);
      const pool = (p.rt as unknown as { pool: WorkerPool }).pool;
      await (pool as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0].terminate();
      // Chunks are claimed by whichever thread is free: a dead worker claims none, the caller runs them all.
      expect(Buffer.from(p.run().buffer).equals(Buffer.from(want.buffer))).toBe(true);
      expect(p.rt.kernels.threads).toBe(2);
      // A call only a worker can run (post) is never answered: the pool is stopped within the timeout.
      const k = p.rt.kernels as unknown as { raw: Record<string, (...a: number[]) => unknown>; index: Record<string, number> };
      const t0 = Date.now();
      expect(() => {
        pool.post(0, k.index.fill, [p.c.ptr, 4, 0]);
        pool.join(k.index.fill);
      }).toThrow(WorkerError);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(p.rt.kernels.threads).toBe(1);
      const again = p.run();
      expect(Buffer.from(again.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    } finally {
      p.rt.dispose();
    }
  });

  it('a trap inside a worker becomes a WorkerError naming the kernel, and the pool keeps working', async () => {
    const p = await product(2);
    try {
      const k = p.rt.kernels as unknown as { pool: WorkerPool; raw: Record<string, (...a: number[]) => unknown>; index: Record<string, number>; scratch: { ptr: number }[] };
      const bad = 0x7ffffff0; // far outside memory: the worker's loads trap
      const half = shape.m / 2;
      const args = (t: number) => [p.c.ptr, t === 1 ? bad : p.a.ptr, p.b.ptr, 0, shape.m, shape.n, shape.k, 0, k.scratch[t].ptr, t * half, (t + 1) * half, 0, shape.n];
      expect(() => {
        k.pool.post(0, k.index.matmul_nn, args(1));
        k.raw.matmul_nn(...args(0));
        k.pool.join(k.index.matmul_nn);
      }).toThrow(/matmul_nn failed \(trapped\) in worker 1/);
      expect(p.rt.kernels.threads).toBe(2);
      const ref = await product(1);
      expect(Buffer.from(p.run().buffer).equals(Buffer.from(ref.run().buffer))).toBe(true);
      ref.rt.dispose();
    } finally {
      p.rt.dispose();
    }
  });
});

describe('element-wise kernels on the pool', () => {
  it('AdamW and SGD over 200,003 parameters: 1 and 2 threads give the same bits', async () => {
    const out: Buffer[] = [];
    for (const threads of [1, 2]) {
      const rt = await createRuntime({ threads });
      try {
        const n = 200_003;
        const s = rt.kernels.rng(8);
        const [p, g, m, v, q, vel] = Array.from({ length: 6 }, () => rt.arena.f32(n));
        for (const b of [p, g, q]) rt.kernels.normal(b, s);
        rt.kernels.fill(m, 0);
        rt.kernels.fill(v, 0);
        rt.kernels.fill(vel, 0);
        for (let t = 1; t <= 3; t++) {
          rt.kernels.adamwStep(p, g, m, v, { lr: 1e-2, step: t, weightDecay: 1e-3 });
          rt.kernels.sgdStep(q, g, vel, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true });
        }
        out.push(Buffer.concat([p, m, v, q, vel].map((b) => Buffer.from(rt.arena.read(b).buffer))));
      } finally {
        rt.dispose();
      }
    }
    expect(out[0].equals(out[1])).toBe(true);
  });
});
