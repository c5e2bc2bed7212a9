/**
 * Wrappers of the divergences and the entropy (assembly/divergence.ts): shape checks, the aliasing contract, one export call each.
 * Composed into the one `Kernels` class by ../ops.ts; conventions there.
 */
import type { F32, I32 } from '../../runtime/arena.js';
import type { DivergenceOptions } from './shapes.js';
import { KernelBase } from './base.js';

export class DivergenceOps extends KernelBase {
  /** 1/T for a divergence's options (checked). */
  protected invT(op: string, o: DivergenceOptions): number {
    const t = o.temperature ?? 1;
    if (!(t > 0 && Number.isFinite(t))) throw new RangeError(`${op}: temperature must be > 0, got ${t}`);
    return 1 / t;
  }
  protected eps(op: string, o: DivergenceOptions): number {
    const eps = o.eps ?? 1e-7;
    if (!(eps > 0 && eps < 1)) throw new RangeError(`${op}: eps must be in (0, 1), got ${eps}`);
    return eps;
  }

  /**
   * pm = softmax(zm/T); returns mean Jensen-Shannon divergence JS(pa || pm).
   * Aliasing: pm must not overlap zm (softmax is not safe in place) nor pa (all of pm is written before pa is read).
   */
  jsDivergence(pm: F32, pa: F32, zm: F32, rows: number, cols: number, o: DivergenceOptions = {}): number {
    const invT = this.invT('jsDivergence', o),
      eps = this.eps('jsDivergence', o);
    this.rowsCols('jsDivergence', rows, cols);
    const a = this.rc('jsDivergence', 'pm', pm, rows, cols),
      b = this.rc('jsDivergence', 'pa', pa, rows, cols),
      c = this.rc('jsDivergence', 'zm', zm, rows, cols);
    this.apart('jsDivergence', 'pm', pm, 'zm', zm);
    this.apart('jsDivergence', 'pm', pm, 'pa', pa);
    return this.raw.js_divergence_forward(a, b, c, rows, cols, invT, eps) as number;
  }
  /** dzm += scale · ∂ mean JS / ∂zm (the anchor pa is constant). Aliasing: dzm may be pa or pm itself (a row's sum is taken before the row is written). */
  jsDivergenceBackward(dzm: F32, pa: F32, pm: F32, rows: number, cols: number, o: DivergenceOptions & { scale?: number } = {}): void {
    const invT = this.invT('jsDivergenceBackward', o),
      eps = this.eps('jsDivergenceBackward', o);
    this.rowsCols('jsDivergenceBackward', rows, cols);
    const a = this.rc('jsDivergenceBackward', 'dzm', dzm, rows, cols),
      b = this.rc('jsDivergenceBackward', 'pa', pa, rows, cols),
      c = this.rc('jsDivergenceBackward', 'pm', pm, rows, cols);
    this.inPlace('jsDivergenceBackward', 'dzm', dzm, 'pa', pa);
    this.inPlace('jsDivergenceBackward', 'dzm', dzm, 'pm', pm);
    this.raw.js_divergence_backward(a, b, c, rows, cols, invT, eps, this.finite('jsDivergenceBackward', 'scale', o.scale ?? 1));
  }
  /** pm = softmax(zm/T); returns mean KL(pa || pm). Aliasing: pm must not overlap zm nor pa (as jsDivergence). */
  klDivergence(pm: F32, pa: F32, zm: F32, rows: number, cols: number, o: DivergenceOptions = {}): number {
    const invT = this.invT('klDivergence', o),
      eps = this.eps('klDivergence', o);
    this.rowsCols('klDivergence', rows, cols);
    const a = this.rc('klDivergence', 'pm', pm, rows, cols),
      b = this.rc('klDivergence', 'pa', pa, rows, cols),
      c = this.rc('klDivergence', 'zm', zm, rows, cols);
    this.apart('klDivergence', 'pm', pm, 'zm', zm);
    this.apart('klDivergence', 'pm', pm, 'pa', pa);
    return this.raw.kl_divergence_forward(a, b, c, rows, cols, invT, eps) as number;
  }
  /** dzm += scale · ∂ mean KL / ∂zm. Aliasing: dzm may be pa or pm itself (a row's sum is taken before the row is written). */
  klDivergenceBackward(dzm: F32, pa: F32, pm: F32, rows: number, cols: number, o: DivergenceOptions & { scale?: number } = {}): void {
    const invT = this.invT('klDivergenceBackward', o);
    this.eps('klDivergenceBackward', o);
    this.rowsCols('klDivergenceBackward', rows, cols);
    const a = this.rc('klDivergenceBackward', 'dzm', dzm, rows, cols),
      b = this.rc('klDivergenceBackward', 'pa', pa, rows, cols),
      c = this.rc('klDivergenceBackward', 'pm', pm, rows, cols);
    this.inPlace('klDivergenceBackward', 'dzm', dzm, 'pa', pa);
    this.inPlace('klDivergenceBackward', 'dzm', dzm, 'pm', pm);
    this.raw.kl_divergence_backward(a, b, c, rows, cols, invT, this.finite('klDivergenceBackward', 'scale', o.scale ?? 1));
  }
  /** Mean predictive entropy −Σ p log p over rows. Aliasing: writes nothing. */
  entropy(p: F32, rows: number, cols: number, eps = 1e-7): number {
    this.rowsCols('entropy', rows, cols);
    const a = this.rc('entropy', 'p', p, rows, cols);
    return this.raw.entropy(a, rows, cols, eps) as number;
  }
}
