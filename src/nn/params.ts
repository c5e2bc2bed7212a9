/**
 * One flat parameter buffer, with one gradient buffer and two optimiser-moment buffers of the same
 * layout. Parameters are declared in named groups (one group per modality's encoder, head, ...);
 * a group is a contiguous range, so freezing, clipping, optimiser steps, gradient surgery and
 * checkpoints all work on whole slices.
 */
import { ConfigError } from '../errors.js';
import type { F32, I32 } from '../runtime/arena.js';
import type { Runtime } from '../runtime/runtime.js';

/**
 * A parameter's role in initialisation: a layer's weight ('he' for encoders, 'xavier' for heads) or a
 * bias ('zeros'). The scheme (InitScheme) turns the role into a distribution.
 */
export type Init = 'he' | 'xavier' | 'zeros';

/**
 * How parameters are initialised, per role (fan_in and fan_out of a weight [in, out]; a convolution's
 * fan_in is kernel·kernel·in_channels, as PyTorch counts it):
 *   'he'       encoder weights N(0, 2/fan_in) (He-normal), head weights U(±√(6/(fan_in + fan_out)))
 *              (Xavier-uniform), biases 0. The default.
 *   'pytorch'  PyTorch's nn.Linear and nn.Conv2d defaults: every weight kaiming_uniform_ with a = √5,
 *              i.e. U(±1/√fan_in), and every bias U(±1/√fan_in) with the weight's fan_in.
 * Both draw from the seeded generator (stream 1), parameters in declaration order, weight then bias.
 */
export type InitScheme = 'he' | 'pytorch';
const INIT_SCHEMES: readonly InitScheme[] = ['he', 'pytorch'];

export interface Param {
  /** Position in declaration order. */
  readonly index: number;
  readonly name: string;
  readonly group: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly length: number;
  readonly init: Init;
  readonly fanIn: number;
  readonly fanOut: number;
}

export interface Group {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

/** A view of `length` floats at element `offset` of a flat buffer. */
export function slice(buf: F32, offset: number, length: number): F32 {
  if (offset < 0 || offset + length > buf.length) throw new RangeError(`slice [${offset}, ${offset + length}) is outside a buffer of ${buf.length}`);
  return { ptr: buf.ptr + 4 * offset, length, kind: 'f32' };
}

export class ParamStore {
  private readonly list: Param[] = [];
  private readonly groupList: Group[] = [];
  private total = 0;
  private bufs: { params: F32; grads: F32; m: F32; v: F32 } | null = null;
  /** The initialisation scheme of allocate(), initialize() and reinit(). */
  private initScheme: InitScheme = 'he';
  /** Views made once at allocate(), so the training loop creates none: per parameter, and per group. */
  private paramViews: F32[] = [];
  private gradViews: F32[] = [];
  private groupViews = new Map<string, { params: F32; grads: F32; moments: { m: F32; v: F32 } }>();

  constructor(private readonly rt: Runtime) {}

  /** Declare a parameter; groups must be declared contiguously. */
  add(group: string, name: string, shape: number[], init: Init, fanIn: number, fanOut: number): Param {
    if (this.bufs) throw new Error(`ParamStore: cannot add ${group}.${name} after allocate()`);
    const full = `${group}.${name}`;
    if (this.list.some((p) => `${p.group}.${p.name}` === full)) throw new Error(`ParamStore: duplicate parameter ${full}`);
    const last = this.groupList[this.groupList.length - 1];
    if (!last || last.name !== group) {
      if (this.groupList.some((g) => g.name === group)) throw new Error(`ParamStore: group ${group} must be declared contiguously`);
      this.groupList.push({ name: group, offset: this.total, length: 0 });
    }
    const length = shape.reduce((a, b) => a * b, 1);
    const p: Param = { index: this.list.length, name, group, shape: [...shape], offset: this.total, length, init, fanIn, fanOut };
    this.list.push(p);
    this.total += length;
    const g = this.groupList[this.groupList.length - 1];
    this.groupList[this.groupList.length - 1] = { ...g, length: g.length + length };
    return p;
  }

  /** Allocate the flat buffers and initialise parameters from the seeded generator (stream 1) with `scheme`. */
  allocate(seed: number, scheme: InitScheme = 'he'): void {
    if (this.bufs) throw new Error('ParamStore: allocate() called twice');
    const a = this.rt.arena;
    const bufs = (this.bufs = { params: a.f32(this.total), grads: a.f32(this.total), m: a.f32(this.total), v: a.f32(this.total) });
    this.paramViews = this.list.map((p) => slice(bufs.params, p.offset, p.length));
    this.gradViews = this.list.map((p) => slice(bufs.grads, p.offset, p.length));
    for (const g of this.groupList) {
      const part = (b: F32) => slice(b, g.offset, g.length);
      this.groupViews.set(g.name, { params: part(bufs.params), grads: part(bufs.grads), moments: { m: part(bufs.m), v: part(bufs.v) } });
    }
    for (const b of Object.values(this.bufs)) this.rt.kernels.fill(b, 0);
    this.initialize(seed, scheme);
  }

  /** The scheme parameters are (re-)initialised with. */
  get scheme(): InitScheme {
    return this.initScheme;
  }

  /**
   * Initialise every parameter afresh from the seeded generator (stream 1) with `scheme`, which later
   * reinit() calls use too: the same values allocate(seed, scheme) gives. Optimiser moments are left as
   * they are (zero after allocate()).
   */
  initialize(seed: number, scheme: InitScheme): void {
    if (!INIT_SCHEMES.includes(scheme)) throw new ConfigError(`init must be one of ${INIT_SCHEMES.map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(scheme)}`);
    this.initScheme = scheme;
    const rng = this.rt.kernels.rng(seed, 1);
    for (const p of this.list) this.initParam(p, rng);
  }

  /** Re-initialise one group's parameters with the store's scheme (e.g. a follower trained from scratch). */
  reinit(group: string, seed: number, stream: number): void {
    const rng = this.rt.kernels.rng(seed, stream);
    for (const p of this.list) if (p.group === group) this.initParam(p, rng);
    this.clearMoments(group);
  }

  private initParam(p: Param, rng: I32): void {
    const s = this.paramOf(p);
    const K = this.rt.kernels;
    if (this.initScheme === 'pytorch') {
      const bound = 1 / Math.sqrt(p.fanIn);
      K.uniform(s, rng, -bound, bound);
    } else if (p.init === 'zeros') K.fill(s, 0);
    else if (p.init === 'he') K.normal(s, rng, 0, Math.sqrt(2 / p.fanIn));
    else K.uniform(s, rng, -Math.sqrt(6 / (p.fanIn + p.fanOut)), Math.sqrt(6 / (p.fanIn + p.fanOut)));
  }

  private get b() {
    if (!this.bufs) throw new Error('ParamStore: allocate() has not been called');
    return this.bufs;
  }

  get size(): number {
    return this.total;
  }
  get params(): F32 {
    return this.b.params;
  }
  get grads(): F32 {
    return this.b.grads;
  }
  get moments(): { readonly m: F32; readonly v: F32 } {
    return this.b;
  }
  get groups(): readonly Group[] {
    return this.groupList;
  }
  get parameters(): readonly Param[] {
    return this.list;
  }

  group(name: string): Group {
    const g = this.groupList.find((x) => x.name === name);
    if (!g) throw new Error(`ParamStore: no parameter group "${name}" (have ${this.groupList.map((x) => x.name).join(', ')})`);
    return g;
  }

  paramOf(p: Param): F32 {
    return this.view(p, this.paramViews);
  }
  gradOf(p: Param): F32 {
    return this.view(p, this.gradViews);
  }
  private view(p: Param, views: F32[]): F32 {
    if (this.list[p.index] !== p) throw new Error(`ParamStore: ${p.group}.${p.name} is not a parameter of this store`);
    if (!this.bufs) throw new Error('ParamStore: allocate() has not been called');
    return views[p.index];
  }
  private groupView(name: string): { params: F32; grads: F32; moments: { m: F32; v: F32 } } {
    const v = this.groupViews.get(name);
    if (v) return v;
    this.group(name); // throws, naming the groups there are
    throw new Error('ParamStore: allocate() has not been called');
  }
  groupParams(name: string): F32 {
    return this.groupView(name).params;
  }
  groupGrads(name: string): F32 {
    return this.groupView(name).grads;
  }
  groupMoments(name: string): { readonly m: F32; readonly v: F32 } {
    return this.groupView(name).moments;
  }

  /** One slice of the parameters or gradients covering consecutive groups (e.g. a modality's encoder and head). */
  span(groups: readonly string[], which: 'params' | 'grads'): F32 {
    const gs = groups.map((g) => this.group(g));
    for (let i = 1; i < gs.length; i++) if (gs[i].offset !== gs[i - 1].offset + gs[i - 1].length) throw new Error(`ParamStore.span: groups ${groups.join(', ')} are not consecutive`);
    const start = gs[0].offset;
    const end = gs[gs.length - 1].offset + gs[gs.length - 1].length;
    return slice(which === 'params' ? this.b.params : this.b.grads, start, end - start);
  }

  zeroGrads(groups?: readonly string[]): void {
    if (!groups) return this.rt.kernels.fill(this.b.grads, 0);
    for (let i = 0; i < groups.length; i++) this.rt.kernels.fill(this.groupGrads(groups[i]), 0);
  }

  clearMoments(group: string): void {
    const { m, v } = this.groupMoments(group);
    this.rt.kernels.fill(m, 0);
    this.rt.kernels.fill(v, 0);
  }

  /** A copy of a group's parameters (JS memory), e.g. the best weights for early stopping. */
  snapshot(group: string): Float32Array {
    return this.rt.arena.read(this.groupParams(group));
  }
  restore(group: string, data: Float32Array): void {
    const s = this.groupParams(group);
    if (data.length !== s.length) throw new Error(`ParamStore.restore: group ${group} has ${s.length} parameters, snapshot has ${data.length}`);
    this.rt.arena.viewF32(s).set(data);
  }
}
