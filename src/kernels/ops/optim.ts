/**
 * Wrappers of the optimiser steps (assembly/optim.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import { KernelBase } from './base.js';

export class OptimOps extends KernelBase {
  /**
   * SGD with momentum and L2 weight decay over flat buffers p, g, velocity v.
   * Aliasing: params or velocity may be grads itself (element-wise: g[i] is read before p[i] and
   * v[i] are written); params and velocity must not overlap.
   */
  sgdStep(p: F32, g: F32, v: F32, o: { lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean }): void {
    const op = 'sgdStep';
    const n = this.same(op, 'params, grads and velocity', p, g, v);
    const a = this.argv.sgd_step; // p g v n lr momentum wd nesterov
    a[0] = this.buf(op, 'params', p, n);
    a[1] = this.buf(op, 'grads', g, n);
    a[2] = this.buf(op, 'velocity', v, n);
    this.inPlace(op, 'params', p, 'grads', g);
    this.inPlace(op, 'velocity', v, 'grads', g);
    this.distinct(op, 'params', p, 'velocity', v);
    a[3] = n;
    a[4] = this.finite(op, 'lr', o.lr);
    a[5] = this.finite(op, 'momentum', o.momentum ?? 0);
    a[6] = this.finite(op, 'weightDecay', o.weightDecay ?? 0);
    a[7] = o.nesterov ? 1 : 0;
    this.elementwise('sgd_step', a, 3);
  }

  /**
   * AdamW at step t >= 1 over flat buffers p, g, moments m and v.
   * Aliasing: params, m or v may be grads itself (element-wise: g[i] is read first); params, m and v
   * must not overlap one another.
   */
  adamwStep(p: F32, g: F32, m: F32, v: F32, o: { lr: number; step: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number }): void {
    const op = 'adamwStep';
    const n = this.same(op, 'params, grads, m and v', p, g, m, v);
    if (!(Number.isInteger(o.step) && o.step >= 1)) throw new RangeError(`${op}: step must be a whole number >= 1, got ${o.step}`);
    const b1 = o.beta1 ?? 0.9,
      b2 = o.beta2 ?? 0.999;
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new RangeError(`${op}: beta1 and beta2 must be in [0, 1), got ${b1}, ${b2}`);
    const a = this.argv.adamw_step; // p g m v n lr beta1 beta2 eps wd t
    a[0] = this.buf(op, 'params', p, n);
    a[1] = this.buf(op, 'grads', g, n);
    a[2] = this.buf(op, 'm', m, n);
    a[3] = this.buf(op, 'v', v, n);
    this.inPlace(op, 'params', p, 'grads', g);
    this.inPlace(op, 'm', m, 'grads', g);
    this.inPlace(op, 'v', v, 'grads', g);
    this.distinct(op, 'params', p, 'm', m);
    this.distinct(op, 'params', p, 'v', v);
    this.distinct(op, 'm', m, 'v', v);
    a[4] = n;
    a[5] = this.finite(op, 'lr', o.lr);
    a[6] = b1;
    a[7] = b2;
    a[8] = o.eps ?? 1e-8;
    a[9] = this.finite(op, 'weightDecay', o.weightDecay ?? 0);
    a[10] = o.step;
    this.elementwise('adamw_step', a, 4);
  }
}
