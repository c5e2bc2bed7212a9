/**
 * UDI's dynamic interaction [ours]: the weights of the consistency and complementary terms from the
 * alignment of their parameter gradients g_con and g_com (flattened over the follower's groups).
 *
 *   cos = g_con·g_com / (‖g_con‖ ‖g_com‖)
 *   cos >= 0:  λ_con = λ_com = ½
 *   cos <  0:  α = clip(((g_com − g_con)·g_com) / ‖g_con − g_com‖², 0, 1),  λ_con = α, λ_com = 1 − α
 *
 * α is the two-task minimum-norm weight (MGDA with two tasks): the point of the segment between the
 * two gradients closest to the origin. MMPareto (./mmpareto.ts) uses the same weight.
 */

/**
 * The two-task minimum-norm weight: the alpha in [0, 1] minimising ||alpha·a + (1 − alpha)·b||²,
 * from aa = a·a, bb = b·b, ab = a·b: clip((bb − ab) / ||a − b||², 0, 1).
 */
export function minNormWeight(aa: number, bb: number, ab: number): number {
  const d = aa + bb - 2 * ab;
  if (!(d > 0)) return 0.5; // a == b: every alpha gives the same vector
  return Math.min(1, Math.max(0, (bb - ab) / d));
}

/**
 * The gradient-alignment controller [ours]: from cc = g_con·g_con, mm = g_com·g_com,
 * cm = g_con·g_com. Agreeing gradients (cos >= 0) get 1/2 each; conflicting ones the min-norm weights.
 */
export function alignmentWeights(cc: number, mm: number, cm: number): { lambdaCon: number; lambdaCom: number; cos: number } {
  const cos = cc > 0 && mm > 0 ? cm / Math.sqrt(cc * mm) : 1;
  if (cos >= 0) return { lambdaCon: 0.5, lambdaCom: 0.5, cos };
  const alpha = minNormWeight(cc, mm, cm);
  return { lambdaCon: alpha, lambdaCom: 1 - alpha, cos };
}
