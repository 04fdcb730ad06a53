/**
 * Classifier-free-style guidance over batched model outputs. The paper's context guidance (Blattmann et
 * al. 2023, §3.2) is f'(z; c_S) = f(z) + s·(f(z; c_S) − f(z)); with day/night–crowdedness labels we also
 * guide on labels. Both guidances share one full-conditioning evaluation, so one model call carries up to
 * three batch rows: full, context dropped, labels dropped. A scale of 1 turns a guidance off and removes
 * its row (one evaluation instead of two, as the pack manifest promises).
 *
 * Guidance is linear, so it applies equally to ε- and v-prediction outputs.
 */

import { UserError } from '../common/errors';

/** Guidance scales; 1 means off. The paper uses s ≥ 1. */
export interface GuidanceScales {
  /** Context guidance s_c (prediction/interpolation context frames). @default 1 */
  context: number;
  /** Label guidance s_y (the `labels` input; an all-zero row is the unconditional input). @default 1 */
  labels: number;
}

/** What one batch row of the model call is conditioned on. A dropped context is a zero context and mask. */
export interface GuidanceRow {
  useContext: boolean;
  useLabels: boolean;
}

/** base + s·(cond − base); scale 1 returns (a copy of) cond exactly. */
export function guide(base: Float32Array, cond: Float32Array, scale: number): Float32Array {
  if (base.length !== cond.length) {
    throw new RangeError(`guidance inputs differ in size: ${base.length} vs ${cond.length}`);
  }
  if (scale === 1) return cond.slice();
  const out = new Float32Array(cond.length);
  for (let i = 0; i < cond.length; i++) out[i] = base[i] + scale * (cond[i] - base[i]);
  return out;
}

function checkScale(name: string, s: number): void {
  if (!Number.isFinite(s) || s < 0) {
    throw new UserError(`${name} guidance scale must be a finite number ≥ 0 (1 = off), got ${s}`);
  }
}

/**
 * The conditioning rows to batch into one model call. Row 0 is always the full conditioning (context if
 * there is any, labels); a context-dropped row is added when s_c ≠ 1 and there is context to drop, a
 * label-dropped row when s_y ≠ 1.
 */
export function guidanceRows(scales: GuidanceScales, hasContext: boolean): GuidanceRow[] {
  checkScale('context', scales.context);
  checkScale('label', scales.labels);
  const rows: GuidanceRow[] = [{ useContext: hasContext, useLabels: true }];
  if (hasContext && scales.context !== 1) rows.push({ useContext: false, useLabels: true });
  if (scales.labels !== 1) rows.push({ useContext: hasContext, useLabels: false });
  return rows;
}

/**
 * Combines the per-row outputs of a guidanceRows() batch:
 *   f̃ = f(z; c, y) + (s_c − 1)·(f(z; c, y) − f(z; ∅, y)) + (s_y − 1)·(f(z; c, y) − f(z; c, ∅)).
 * With labels off (s_y = 1) this is f(z; ∅, y) + s_c·(f(z; c, y) − f(z; ∅, y)), the paper's context
 * guidance with the labels held fixed. Each term is present only if its row is in `rows`.
 */
export function combineGuidance(
  rowsOut: Float32Array[],
  rows: GuidanceRow[],
  scales: GuidanceScales,
): Float32Array {
  if (rowsOut.length !== rows.length || rows.length === 0) {
    throw new RangeError(`combineGuidance got ${rowsOut.length} outputs for ${rows.length} rows`);
  }
  const full = rowsOut[0];
  const fullRow = rows[0];
  if (!fullRow.useLabels) throw new RangeError('combineGuidance: row 0 must be the full conditioning');
  const terms: Array<{ scale: number; out: Float32Array }> = [];
  const find = (useContext: boolean, useLabels: boolean) =>
    rows.findIndex((r, i) => i > 0 && r.useContext === useContext && r.useLabels === useLabels);
  if (fullRow.useContext && scales.context !== 1) {
    const i = find(false, true);
    if (i < 0) throw new RangeError(`context guidance ${scales.context} needs a context-dropped row`);
    terms.push({ scale: scales.context - 1, out: rowsOut[i] });
  }
  if (scales.labels !== 1) {
    const i = find(fullRow.useContext, false);
    if (i < 0) throw new RangeError(`label guidance ${scales.labels} needs a label-dropped row`);
    terms.push({ scale: scales.labels - 1, out: rowsOut[i] });
  }
  for (const r of rowsOut) {
    if (r.length !== full.length)
      throw new RangeError(`guidance rows differ in size: ${r.length} vs ${full.length}`);
  }
  const out = new Float32Array(full.length);
  for (let i = 0; i < out.length; i++) {
    let v = full[i];
    for (const { scale, out: dropped } of terms) v += scale * (full[i] - dropped[i]);
    out[i] = v;
  }
  return out;
}

/** Splits a batched model output [B, …] into its B equal rows (views, no copy). */
export function splitRows(batched: Float32Array, rows: number): Float32Array[] {
  if (!Number.isInteger(rows) || rows < 1 || batched.length % rows !== 0) {
    throw new RangeError(`cannot split ${batched.length} values into ${rows} equal rows`);
  }
  const n = batched.length / rows;
  return Array.from({ length: rows }, (_, r) => batched.subarray(r * n, (r + 1) * n));
}

/** Stacks equal-sized rows into one batch [B, …] for a single model call. */
export function stackRows(rows: Float32Array[]): Float32Array {
  if (rows.length === 0) throw new RangeError('stackRows needs at least one row');
  const n = rows[0].length;
  const out = new Float32Array(n * rows.length);
  rows.forEach((r, i) => {
    if (r.length !== n) throw new RangeError(`row ${i} has ${r.length} values, row 0 has ${n}`);
    out.set(r, i * n);
  });
  return out;
}
