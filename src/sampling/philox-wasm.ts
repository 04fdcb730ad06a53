/**
 * Philox4x32-10 blocks in WebAssembly, for noise.ts's hot loop. JavaScript has no 32×32→64-bit
 * multiply, so noise.ts recovers each product's high word through float64 arithmetic; WebAssembly's
 * i64.mul gives it in one instruction, and a run of blocks takes ~6 ms per 441,000 blocks (a tile's
 * 1.77 M values) instead of ~40 ms. Philox is integer arithmetic only, so the words are exactly
 * noise.ts's (unit tests compare the two, the 2³² counter carry included); Box–Muller stays in
 * JavaScript, where Math.log/cos/sin are the ones vldm-noise-v1 is defined with.
 *
 * The module is a few hundred bytes assembled here, at load, from the instruction list below (no
 * toolchain and no binary in the repository): one function
 *   philox(bLo, bHi, count, k0, k1, c2, c3, out)
 * that writes the 4 words of blocks b … b + count − 1 (b = bHi·2³² + bLo; counter (b mod 2³², ⌊b/2³²⌋,
 * c2, c3), key (k0, k1)) to memory at `out`, 16 bytes per block, and its one page of memory.
 */

// Philox4x32-10's multiplication constants M and Weyl key increments W (Salmon et al. 2011), for this
// module and for noise.ts's JavaScript rounds.
export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

/** Blocks one call can write: the module's one 64 KiB page, 16 bytes per block. */
export const PHILOX_CHUNK_BLOCKS = 65536 / 16;

// WebAssembly opcodes used below (WebAssembly Core Specification 2.0, §5.4).
const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  i32Store: 0x36,
  i32Const: 0x41,
  i64Const: 0x42,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i64Mul: 0x7e,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
} as const;
const I32 = 0x7f;
const I64 = 0x7e;
const EMPTY_BLOCK = 0x40;

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function sleb32(v: number): number[] {
  const out: number[] = [];
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** The philox function's body: its locals and instructions. */
function philoxBody(): number[] {
  // Parameters 0–7, then 12 i32 locals and one i64.
  const [bLo, bHi, count, k0, k1, c2, c3, out] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [j, x0, x1, x2, x3, kk0, kk1, lo0, hi0, lo1, hi1, addr, p] = [
    8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
  ];
  const c: number[] = [];
  const get = (i: number) => c.push(OP.localGet, i);
  const set = (i: number) => c.push(OP.localSet, i);
  const i32 = (v: number) => c.push(OP.i32Const, ...sleb32(v));
  // (lo, hi) = the 64-bit product of the u32 constant m and the u32 local x.
  const mul = (m: number, x: number, lo: number, hi: number) => {
    i32(m);
    c.push(OP.i64ExtendI32U);
    get(x);
    c.push(OP.i64ExtendI32U, OP.i64Mul);
    set(p);
    get(p);
    c.push(OP.i32WrapI64);
    set(lo);
    get(p);
    c.push(OP.i64Const, 32, OP.i64ShrU, OP.i32WrapI64);
    set(hi);
  };
  // local += v (mod 2³²), and dst = a ^ b ^ k.
  const addTo = (local: number, v: number) => {
    get(local);
    i32(v);
    c.push(OP.i32Add);
    set(local);
  };
  const xor3 = (a: number, b: number, k: number, dst: number) => {
    get(a);
    get(b);
    c.push(OP.i32Xor);
    get(k);
    c.push(OP.i32Xor);
    set(dst);
  };
  const copy = (from: number, to: number) => {
    get(from);
    set(to);
  };
  c.push(OP.block, EMPTY_BLOCK, OP.loop, EMPTY_BLOCK);
  // while (j < count)
  get(j);
  get(count);
  c.push(OP.i32GeU, OP.brIf, 1);
  // Counter (b + j mod 2³², ⌊(b + j) / 2³²⌋, c2, c3): the low word wraps and carries into the high one.
  get(bLo);
  get(j);
  c.push(OP.i32Add);
  set(x0);
  get(bHi);
  get(x0);
  get(bLo);
  c.push(OP.i32LtU, OP.i32Add);
  set(x1);
  copy(c2, x2);
  copy(c3, x3);
  copy(k0, kk0);
  copy(k1, kk1);
  // The rounds, unrolled: the same order as noise.ts's loop.
  for (let r = 0; r < PHILOX_ROUNDS; r++) {
    if (r > 0) {
      addTo(kk0, PHILOX_W0);
      addTo(kk1, PHILOX_W1);
    }
    mul(PHILOX_M0, x0, lo0, hi0);
    mul(PHILOX_M1, x2, lo1, hi1);
    xor3(hi1, x1, kk0, x0);
    copy(lo1, x1);
    xor3(hi0, x3, kk1, x2);
    copy(lo0, x3);
  }
  // The block's words at out + 16·j.
  get(out);
  get(j);
  i32(4);
  c.push(OP.i32Shl, OP.i32Add);
  set(addr);
  [x0, x1, x2, x3].forEach((x, k) => {
    get(addr);
    get(x);
    c.push(OP.i32Store, 2, 4 * k); // alignment 2^2, offset 4k
  });
  addTo(j, 1);
  c.push(OP.br, 0, OP.end, OP.end, OP.end);
  return [2, 12, I32, 1, I64, ...c];
}

function moduleBytes(): Uint8Array {
  const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
  const name = (s: string) => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const body = philoxBody();
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, [1, 0x60, 8, ...Array<number>(8).fill(I32), 0]), // type 0: (8 × i32) → ()
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(5, [1, 0x00, 1]), // one memory of 1 page, no maximum
    ...section(7, [2, ...name('philox'), 0x00, 0, ...name('memory'), 0x02, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

// Node's WebAssembly global, as far as it is used here (TypeScript declares it in the DOM library,
// which this project does not compile against).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

interface PhiloxExports {
  philox(
    bLo: number,
    bHi: number,
    count: number,
    k0: number,
    k1: number,
    c2: number,
    c3: number,
    out: number,
  ): void;
  memory: { buffer: ArrayBuffer };
}

let instance: { philox: PhiloxExports['philox']; words: Uint32Array } | undefined;

function load(): NonNullable<typeof instance> {
  if (!instance) {
    const exports = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes())).exports as PhiloxExports;
    // The memory never grows, so one view serves every call.
    instance = { philox: exports.philox, words: new Uint32Array(exports.memory.buffer) };
  }
  return instance;
}

/**
 * The words of Philox4x32-10 blocks b … b + count − 1 (count ≤ PHILOX_CHUNK_BLOCKS) with counter words
 * c2, c3 and key (k0, k1): word 4j + k of the returned view is word k of block b + j. The view is
 * overwritten by the next call on this thread.
 */
export function philoxBlocks(
  b: number,
  count: number,
  k0: number,
  k1: number,
  c2: number,
  c3: number,
): Uint32Array {
  if (!Number.isSafeInteger(b) || b < 0)
    throw new RangeError(`Philox block must be a safe integer ≥ 0, got ${b}`);
  if (!Number.isInteger(count) || count < 0 || count > PHILOX_CHUNK_BLOCKS)
    throw new RangeError(
      `Philox block count must be an integer in [0, ${PHILOX_CHUNK_BLOCKS}], got ${count}`,
    );
  const { philox, words } = load();
  // i32 parameters take their argument mod 2³² (ToInt32), so u32 values pass as they are.
  philox(b % 2 ** 32, Math.floor(b / 2 ** 32), count, k0, k1, c2, c3, 0);
  return words.subarray(0, 4 * count);
}
