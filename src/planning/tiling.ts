/**
 * One-dimensional partitions used by every plan: windows that own disjoint ranges (so every output
 * frame or pixel is produced exactly once) and tiles that overlap (so blending can hide seams).
 * Pure; imported by workflows.
 */

/** A half-open range [start, end). */
export interface Span {
  start: number;
  end: number;
}

/** Split [start, end) into consecutive chunks of at most `size`; the last one may be shorter. */
export function chunks(start: number, end: number, size: number): Span[] {
  if (!(size >= 1)) throw new Error(`chunk size must be ≥ 1, got ${size}`);
  const out: Span[] = [];
  for (let s = start; s < end; s += size) out.push({ start: s, end: Math.min(end, s + size) });
  return out;
}

/** An overlapping tile: the range it computes and how much it shares with each neighbour. */
export interface Tile extends Span {
  /** Length shared with the previous tile (0 at the start of the axis). */
  overlapBefore: number;
  /** Length shared with the next tile (0 at the end of the axis). */
  overlapAfter: number;
}

/**
 * The rule every tiling follows, wherever tile sizes come from (the manifest, a pack summary, a
 * caller): a tile is an integer ≥ 1 long and neighbours share an integer in [0, size), so each tile
 * advances by at least one. Says which of the two is broken.
 */
export function tilingFaults(size: number, overlap: number): { size: boolean; overlap: boolean } {
  return {
    size: !(Number.isInteger(size) && size >= 1),
    overlap: !(Number.isInteger(overlap) && overlap >= 0 && overlap < size),
  };
}

/** The length of the tiles overlappingTiles(length, size, …) makes: `size`, or the whole axis when it is shorter. */
export function tileLength(length: number, size: number): number {
  return Math.min(size, length);
}

/**
 * Cover [0, length) with tiles of `size` that overlap by at least `minOverlap`, spread evenly so no
 * tile is clipped: n = ⌈(length − overlap) / (size − overlap)⌉ tiles, starts rounded evenly between 0
 * and length − size. When `length ≤ size` one tile covers everything.
 */
export function overlappingTiles(length: number, size: number, minOverlap: number): Tile[] {
  if (!(length >= 1)) throw new Error(`axis length must be ≥ 1, got ${length}`);
  const faults = tilingFaults(size, minOverlap);
  if (faults.size) throw new Error(`tile size must be an integer ≥ 1, got ${size}`);
  if (faults.overlap) throw new Error(`tile overlap must be an integer in [0, ${size}), got ${minOverlap}`);
  // One tile, the whole axis, when the axis is no longer than a tile.
  if (tileLength(length, size) === length)
    return [{ start: 0, end: length, overlapBefore: 0, overlapAfter: 0 }];
  const n = Math.ceil((length - minOverlap) / (size - minOverlap));
  const starts: number[] = [];
  for (let i = 0; i < n; i++) starts.push(Math.round((i * (length - size)) / (n - 1)));
  return starts.map((start, i) => ({
    start,
    end: start + size,
    overlapBefore: i === 0 ? 0 : starts[i - 1] + size - start,
    overlapAfter: i === n - 1 ? 0 : start + size - starts[i + 1],
  }));
}

/** Same as overlappingTiles but on [start, end) instead of [0, length). */
export function overlappingTilesIn(start: number, end: number, size: number, minOverlap: number): Tile[] {
  return overlappingTiles(end - start, size, minOverlap).map((t) => ({
    ...t,
    start: t.start + start,
    end: t.end + start,
  }));
}
