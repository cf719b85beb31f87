//! A fast CPU matmul for Q4_1 GGUF weights whose results are bit-for-bit those of candle's
//! `QMatMul`, and for Q8_0 weights with results within float rounding of candle's.
//!
//! Why: candle 0.11's CPU path for Q4_1 computes every output element with the scalar
//! `BlockQ4_1::vec_dot_unopt`, and its repacked x86 kernels cover only Q4K/Q6K/Q8_0 with rows of
//! a multiple of 256 values, so on SmolLM2 (hidden size 576) it runs about ten times slower
//! than llama.cpp on the same file.
//!
//! How: the weights are repacked once, at load, into tiles of [`TILE`] output columns. For each
//! 32-value block of the input dimension a tile holds the 4-bit values of its 16 columns
//! interleaved four at a time (so one AVX-512 VNNI `vpdpbusd` multiplies four values of 16
//! columns by the same four activations and leaves one partial sum per column in each lane),
//! followed by the columns' scales and mins as f32. Activations are quantized per row to Q8_1
//! exactly as candle's `BlockQ8_1::from_float` does (bit for bit, tested), without its round
//! trip through f16 blocks and `roundf` calls (11% of a one-sequence SmolLM2 step). A kernel walks one tile against up to four rows at
//! a time, so each loaded weight block serves several rows, and the tiles (times chunks of rows)
//! are spread over candle's own CPU thread pool, the one its quantized matmul uses.
//!
//! Numerics: candle computes, per output element, `sumf += sumi * d_w * d_x + m_w * s_x` block
//! by block, left to right, in f32 and without fused multiply-adds, where `sumi` is the exact
//! integer dot product of the block. The kernels here compute `sumi` exactly (SIMD integer
//! arithmetic; any order gives the same integer) and then do those same f32 operations in the
//! same order, one SIMD lane per output element, so every output is identical to candle's.
//! The tests check that against `QMatMul` on random weights for every kernel this CPU has.
//!
//! Kernels: AVX-512 VNNI, AVX2, and a scalar one for every other CPU, chosen at run time.
//!
//! Q8_0 (SmolLM2's tied output head, 49152 x 576, where candle spent a third of the decoding
//! time): the same tiles and work split, with the 8-bit values of 16 columns interleaved four at
//! a time (512 bytes per tile and block) and one f32 scale per column and block. The activations
//! are the same Q8_1 blocks, whose values and scales equal those of candle's Q8_0 activation
//! blocks (same rounding), so every block's integer dot product `sumi` is candle's; only the f32
//! accumulation `sumf += d_w * d_x * sumi` runs in another order (candle's AVX path sums eight
//! partial lanes with FMAs), so results agree to float rounding, not bit for bit. The VNNI
//! kernel stores nothing extra: it flips each signed weight byte to `q + 128` on the fly for
//! `vpdpbusd` (unsigned by signed) and subtracts `128 * sum(q_x)`, exact in integers; the AVX2
//! kernel multiplies `|q_w|` by `q_x` with `q_w`'s sign (`vpsignb`), as llama.cpp does, since
//! `vpmaddubsw` would saturate on unsigned 8-bit weights.

// The SIMD kernels need `unsafe` (intrinsics and raw pointer reads); every block says why it is
// sound.
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use thinkscale_dense::Pool;

/// Values per quantization block (Q4_1 and Q8_1).
const QK: usize = 32;
/// Output columns per weight tile.
pub const TILE: usize = 16;
/// Bytes of 4-bit values per tile and block.
const TILE_QS: usize = TILE * QK / 2;
/// Bytes of 8-bit values per tile and block (Q8_0).
const TILE_Q8: usize = TILE * QK;
/// Bytes of one Q4_1 block in a GGUF tensor: f16 scale, f16 min, 16 bytes of values.
const Q4_1_BYTES: usize = 20;
/// Bytes of one Q8_0 block in a GGUF tensor: f16 scale, 32 `i8` values.
const Q8_0_BYTES: usize = 34;
/// Q8_0 weights whose input size is a multiple of this stay with candle: there candle's own
/// repacked kernels apply (on CPUs with VNNI, and on aarch64), and they quantize activations per
/// 256 values (Q8_K), so their results differ from the per-32 math here by more than rounding.
/// SmolLM2's Q8_0 output head has 576 inputs.
const Q8_0_CANDLE_K: usize = 256;
/// Rows one work item covers; a chunk's quantized activations stay in cache while its item
/// walks a tile.
const ROW_CHUNK: usize = 64;
/// Rows one kernel call handles at once.
const ROWS: usize = 4;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Work split over candle's own CPU thread pool (the one its quantized matmul uses). Not from
/// inside one of its items: there the thread that started the call would wait on itself, so
/// work inside an item runs on [`thinkscale_dense::Serial`].
pub(super) struct CandlePool;

impl Pool for CandlePool {
    fn run(&self, items: usize, f: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
        if alone_here() {
            thinkscale_dense::Serial.run(items, f);
        } else {
            candle_core::utils::barrier_pool().execute_chunked(items, f);
        }
    }

    fn threads(&self) -> usize {
        if alone_here() {
            1
        } else {
            pool_threads()
        }
    }
}

/// The threads the kernels spread a step over (the calling thread and candle's pool).
pub fn pool_threads() -> usize {
    candle_core::utils::barrier_pool().n_workers() + 1
}

thread_local! {
    /// Whether this thread's engine work stays on it ([`alone`]).
    static ALONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the kernels' work of every engine call it makes (products, attention, the
/// drawing of tokens) kept on the calling thread, not spread over the shared pool. Engines on
/// the same weights ([`super::CausalLm::twin`]) run side by side this way, one per core, none
/// waiting for the others at each step. The results are the same bit for bit.
pub fn alone<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ALONE.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(ALONE.with(|a| a.replace(true)));
    f()
}

/// Whether this thread is inside [`alone`].
pub fn alone_here() -> bool {
    ALONE.with(std::cell::Cell::get)
}

/// Turns the fast kernels on or off for weights loaded from now on (on by default). For A/B
/// timing and checks against candle; results are the same either way (Q4_1 bit for bit, Q8_0
/// to float rounding).
pub fn set_fast_kernels(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether models loaded now get the fast kernels (this module's, and [`super::dense`]'s).
pub fn fast_kernels() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The GGUF weight types [`FastQMatMul`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 4-bit values with a scale and a min per 32: bit-identical to candle.
    Q4_1,
    /// 8-bit values with a scale per 32: within float rounding of candle.
    Q8_0,
}

impl Format {
    /// Weight bytes per tile and block.
    fn tile_bytes(self) -> usize {
        match self {
            Self::Q4_1 => TILE_QS,
            Self::Q8_0 => TILE_Q8,
        }
    }

    /// f32 scale values (and mins) per tile and block.
    fn tile_floats(self) -> usize {
        match self {
            Self::Q4_1 => 2 * TILE,
            Self::Q8_0 => TILE,
        }
    }
}

/// Which kernel a [`FastQMatMul`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust, any CPU.
    Scalar,
    /// x86-64 AVX2.
    Avx2,
    /// x86-64 AVX-512 (F, BW) with VNNI.
    Avx512Vnni,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
            {
                return Self::Avx512Vnni;
            }
            if is_x86_feature_detected!("avx2") {
                return Self::Avx2;
            }
        }
        Self::Scalar
    }

    /// Whether this CPU can run the kernel.
    pub fn available(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512Vnni => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// A Q4_1 or Q8_0 weight `(out, in)` repacked for the CPU kernels; applied to f32 activations
/// `(..., in)` as a candle custom op.
pub struct FastQMatMul {
    format: Format,
    /// Output features.
    n: usize,
    /// Input features (a multiple of 32).
    k: usize,
    /// Blocks per column: `k / 32`.
    kb: usize,
    /// Tiles of [`TILE`] columns, the last one padded with zero columns.
    tiles: usize,
    /// Per tile, per block: [`TILE_QS`] bytes of 4-bit values, see [`pack_q4_1`], or
    /// [`TILE_Q8`] bytes of 8-bit ones, see [`pack_q8_0`].
    qs: Vec<u8>,
    /// Per tile, per block: the 16 columns' scales, then (Q4_1) their mins.
    dm: Vec<f32>,
    kernel: Kernel,
}

impl std::fmt::Debug for FastQMatMul {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastQMatMul")
            .field("format", &self.format)
            .field("out", &self.n)
            .field("in", &self.k)
            .field("kernel", &self.kernel)
            .finish()
    }
}

fn f16_le(b: &[u8]) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32()
}

impl FastQMatMul {
    /// Repacks a Q4_1 or Q8_0 CPU tensor of shape `(out, in)`; `None` for any other tensor
    /// (other type, device or shape), which candle's `QMatMul` should handle.
    pub fn new(w: &QTensor) -> Result<Option<Self>> {
        Self::with_kernel(w, Kernel::best())
    }

    /// As [`Self::new`] with a given kernel (an error if this CPU cannot run it).
    pub fn with_kernel(w: &QTensor, kernel: Kernel) -> Result<Option<Self>> {
        if !kernel.available() {
            candle_core::bail!("this CPU cannot run the {kernel:?} kernel");
        }
        let format = match w.dtype() {
            GgmlDType::Q4_1 => Format::Q4_1,
            GgmlDType::Q8_0 => Format::Q8_0,
            _ => return Ok(None),
        };
        if !w.device().is_cpu() {
            return Ok(None);
        }
        let Ok((n, k)) = w.shape().dims2() else {
            return Ok(None);
        };
        if n == 0 || k == 0 || !k.is_multiple_of(QK) {
            return Ok(None);
        }
        let data = w.data()?;
        let kb = k / QK;
        if format == Format::Q8_0 {
            if k.is_multiple_of(Q8_0_CANDLE_K) {
                return Ok(None);
            }
            return Self::q8_0(&data, n, k, kernel).map(Some);
        }
        if data.len() != n * kb * Q4_1_BYTES {
            candle_core::bail!(
                "Q4_1 tensor ({n}, {k}) holds {} bytes, expected {}",
                data.len(),
                n * kb * Q4_1_BYTES
            );
        }
        let tiles = n.div_ceil(TILE);
        let mut qs = vec![0u8; tiles * kb * TILE_QS];
        let mut dm = vec![0f32; tiles * kb * 2 * TILE];
        for col in 0..n {
            let (t, c) = (col / TILE, col % TILE);
            for b in 0..kb {
                let src = &data[(col * kb + b) * Q4_1_BYTES..][..Q4_1_BYTES];
                let at = (t * kb + b) * 2 * TILE;
                dm[at + c] = f16_le(&src[0..2]);
                dm[at + TILE + c] = f16_le(&src[2..4]);
                let mut vals = [0u8; QK];
                for (j, &byte) in src[4..].iter().enumerate() {
                    vals[j] = byte & 0x0F;
                    vals[j + QK / 2] = byte >> 4;
                }
                pack_q4_1(&vals, c, &mut qs[(t * kb + b) * TILE_QS..][..TILE_QS]);
            }
        }
        Ok(Some(Self {
            format,
            n,
            k,
            kb,
            tiles,
            qs,
            dm,
            kernel,
        }))
    }

    /// Repacks the bytes of a Q8_0 tensor `(n, k)`.
    fn q8_0(data: &[u8], n: usize, k: usize, kernel: Kernel) -> Result<Self> {
        let kb = k / QK;
        if data.len() != n * kb * Q8_0_BYTES {
            candle_core::bail!(
                "Q8_0 tensor ({n}, {k}) holds {} bytes, expected {}",
                data.len(),
                n * kb * Q8_0_BYTES
            );
        }
        let tiles = n.div_ceil(TILE);
        let mut qs = vec![0u8; tiles * kb * TILE_Q8];
        let mut dm = vec![0f32; tiles * kb * TILE];
        for col in 0..n {
            let (t, c) = (col / TILE, col % TILE);
            for b in 0..kb {
                let src = &data[(col * kb + b) * Q8_0_BYTES..][..Q8_0_BYTES];
                dm[(t * kb + b) * TILE + c] = f16_le(&src[0..2]);
                pack_q8_0(&src[2..], c, &mut qs[(t * kb + b) * TILE_Q8..][..TILE_Q8]);
            }
        }
        Ok(Self {
            format: Format::Q8_0,
            n,
            k,
            kb,
            tiles,
            qs,
            dm,
            kernel,
        })
    }

    /// The weight type.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The kernel this matmul runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.n
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.k
    }

    /// `x (..., in)` times the weight transposed: `(..., out)`, f32 in and out.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }

    /// `dst (m, out) = x (m, in) · wᵀ` on f32 slices, over candle's thread pool.
    pub fn matmul(&self, x: &[f32], m: usize, dst: &mut [f32]) -> Result<()> {
        self.matmul_on(x, m, dst, &CandlePool)
    }

    /// [`Self::matmul`], its work spread over `pool`.
    pub fn matmul_on(&self, x: &[f32], m: usize, dst: &mut [f32], pool: &dyn Pool) -> Result<()> {
        Self::side_by_side(&[self], x, m, dst, pool)
    }

    /// Several maps of the same input, their outputs side by side in each row of `dst`
    /// `(m, Σ out)`, the first's columns first (q, k and v; gate and up): the input is
    /// quantized once for all of them.
    pub fn side_by_side(
        maps: &[&Self],
        x: &[f32],
        m: usize,
        dst: &mut [f32],
        pool: &dyn Pool,
    ) -> Result<()> {
        let k = maps.first().map_or(0, |w| w.k);
        let width: usize = maps.iter().map(|w| w.n).sum();
        if maps.iter().any(|w| w.k != k) || x.len() != m * k || dst.len() != m * width {
            candle_core::bail!(
                "{:?} matmul of ({m}, {k}) by ({k}, {width}) given {} inputs and {} outputs",
                maps.iter()
                    .map(|w| (w.format, w.k, w.n))
                    .collect::<Vec<_>>(),
                x.len(),
                dst.len()
            );
        }
        if m == 0 {
            return Ok(());
        }
        let lhs = Lhs::quantize(x, m, k, pool);
        let mut at = 0;
        for w in maps {
            w.write(&lhs, m, dst, width, at, pool);
            at += w.n;
        }
        Ok(())
    }

    /// The products of quantized rows `lhs` into columns `at..at + out` of `dst`, rows of
    /// `width` values.
    fn write(
        &self,
        lhs: &Lhs,
        m: usize,
        dst: &mut [f32],
        width: usize,
        at: usize,
        pool: &dyn Pool,
    ) {
        let (n, kb) = (self.n, self.kb);
        assert!(at + n <= width && dst.len() == m * width, "output columns");
        let row_chunks = m.div_ceil(ROW_CHUNK);
        let dst_addr = dst.as_mut_ptr() as usize;
        let work = |item: usize| {
            let (t, chunk) = (item % self.tiles, item / self.tiles);
            let rows = chunk * ROW_CHUNK..m.min((chunk + 1) * ROW_CHUNK);
            let cols = TILE.min(n - t * TILE);
            let (qb, fb) = (self.format.tile_bytes(), self.format.tile_floats());
            let wq = &self.qs[t * kb * qb..][..kb * qb];
            let wdm = &self.dm[t * kb * fb..][..kb * fb];
            let mut r = rows.start;
            while r < rows.end {
                let take = ROWS.min(rows.end - r);
                let mut out = [[0f32; TILE]; ROWS];
                self.tile(take, wq, wdm, lhs, r, &mut out);
                for (i, o) in out.iter().take(take).enumerate() {
                    // SAFETY: `dst` holds m * width values and outlives the pool call; row
                    // r + i < m and columns at + t*16 .. at + t*16 + cols <= at + n <= width
                    // (asserted above). Each (tile, row chunk) item is run by exactly one
                    // thread, so no two threads write the same element, and nothing reads
                    // `dst` until the pool call returns.
                    unsafe {
                        let p = (dst_addr as *mut f32).add((r + i) * width + at + t * TILE);
                        std::ptr::copy_nonoverlapping(o.as_ptr(), p, cols);
                    }
                }
                r += take;
            }
        };
        let items = self.tiles * row_chunks;
        pool.run(items, &|range| range.for_each(work));
    }

    /// One tile against `rows` (1..=4) rows from `r0`, results in `out[..rows]`.
    fn tile(
        &self,
        rows: usize,
        wq: &[u8],
        wdm: &[f32],
        lhs: &Lhs,
        r0: usize,
        out: &mut [[f32; TILE]; ROWS],
    ) {
        let (k, kb) = (self.k, self.kb);
        let yq = &lhs.q[r0 * k..(r0 + rows) * k];
        let yd = &lhs.d[r0 * kb..(r0 + rows) * kb];
        // One tile kernel per format and CPU, monomorphised on the row count; Q8_0 corrects
        // with the blocks' exact integer sums, Q4_1 with Q8_1's scaled sums.
        macro_rules! run {
            ($f:ident, $extra:expr) => {
                match rows {
                    1 => $f::<1>(wq, wdm, kb, yq, yd, $extra, out),
                    2 => $f::<2>(wq, wdm, kb, yq, yd, $extra, out),
                    3 => $f::<3>(wq, wdm, kb, yq, yd, $extra, out),
                    _ => $f::<4>(wq, wdm, kb, yq, yd, $extra, out),
                }
            };
        }
        let ysum = &lhs.sum[r0 * kb..(r0 + rows) * kb];
        let ys = &lhs.s[r0 * kb..(r0 + rows) * kb];
        match (self.kernel, self.format) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the kernel was checked to be available on this CPU at construction; the
            // slices hold `rows` rows of `kb` blocks and one tile of `kb` blocks.
            (Kernel::Avx512Vnni, Format::Q8_0) => unsafe { run!(tile_q8_avx512, ysum) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Kernel::Avx2, Format::Q8_0) => unsafe { run!(tile_q8_avx2, ysum) },
            (_, Format::Q8_0) => run!(tile_q8_scalar, ysum),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Kernel::Avx512Vnni, _) => unsafe { run!(tile_avx512, ys) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (Kernel::Avx2, _) => unsafe { run!(tile_avx2, ys) },
            _ => run!(tile_scalar, ys),
        }
    }
}

impl CustomOp1 for FastQMatMul {
    fn name(&self) -> &'static str {
        "thinkscale-qmatmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!(
                "{:?} matmul needs a contiguous input, got {layout:?}",
                self.format
            );
        };
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("{:?} matmul needs f32 input", self.format);
        };
        let mut dims = layout.shape().dims().to_vec();
        if dims.last() != Some(&self.k) {
            candle_core::bail!(
                "{:?} matmul: input {:?} does not end in {} features",
                self.format,
                layout.shape(),
                self.k
            );
        }
        let m = layout.shape().elem_count() / self.k;
        let mut dst = vec![0f32; m * self.n];
        self.matmul(&data[start..end], m, &mut dst)?;
        if let Some(last) = dims.last_mut() {
            *last = self.n;
        }
        Ok((CpuStorage::F32(dst), Shape::from(dims)))
    }
}

/// Packs one column's 32 values (block order) at column `c` of a tile block: byte
/// `h * 64 + c * 4 + i` holds value `4h + i` in its low nibble and `16 + 4h + i` in its high one,
/// so the low (high) nibbles of the 64 bytes at `h * 64` are values `4h..4h+4`
/// (`16+4h..16+4h+4`) of all 16 columns, four bytes per column.
fn pack_q4_1(vals: &[u8; QK], c: usize, dst: &mut [u8]) {
    for h in 0..4 {
        for i in 0..4 {
            dst[h * 64 + c * 4 + i] = vals[4 * h + i] | (vals[16 + 4 * h + i] << 4);
        }
    }
}

/// Packs one Q8_0 column's 32 values (block order, as `i8` bytes) at column `c` of a tile
/// block: byte `g * 64 + c * 4 + i` holds value `4g + i`, so the 64 bytes at `g * 64` are values
/// `4g..4g+4` of all 16 columns, four bytes per column.
fn pack_q8_0(vals: &[u8], c: usize, dst: &mut [u8]) {
    for g in 0..QK / 4 {
        dst[g * 64 + c * 4..][..4].copy_from_slice(&vals[4 * g..][..4]);
    }
}

/// Activations quantized to Q8_1 exactly as candle does, split into values, scales and scaled
/// sums.
struct Lhs {
    /// `m * k` values.
    q: Vec<i8>,
    /// `m * k / 32` scales.
    d: Vec<f32>,
    /// `m * k / 32` scaled sums of the values.
    s: Vec<f32>,
    /// `m * k / 32` exact sums of the values (for the Q8_0 VNNI kernel).
    sum: Vec<i32>,
}

impl Lhs {
    /// Quantizes the `m` rows of `x`, rows spread over `pool`.
    fn quantize(x: &[f32], m: usize, k: usize, pool: &dyn Pool) -> Self {
        let kb = k / QK;
        let mut lhs = Self {
            q: vec![0i8; m * k],
            d: vec![0f32; m * kb],
            s: vec![0f32; m * kb],
            sum: vec![0i32; m * kb],
        };
        let (q, d, s, sum) = (
            lhs.q.as_mut_ptr() as usize,
            lhs.d.as_mut_ptr() as usize,
            lhs.s.as_mut_ptr() as usize,
            lhs.sum.as_mut_ptr() as usize,
        );
        let rows = |range: std::ops::Range<usize>| {
            for r in range {
                // SAFETY: rows r < m of `q`, `d`, `s` and `sum` (sized for m rows above, alive
                // until the pool call returns); each row is quantized by exactly one thread and
                // nothing reads them before the pool call returns.
                let (q, d, s, sum) = unsafe {
                    (
                        std::slice::from_raw_parts_mut((q as *mut i8).add(r * k), k),
                        std::slice::from_raw_parts_mut((d as *mut f32).add(r * kb), kb),
                        std::slice::from_raw_parts_mut((s as *mut f32).add(r * kb), kb),
                        std::slice::from_raw_parts_mut((sum as *mut i32).add(r * kb), kb),
                    )
                };
                quantize_row(&x[r * k..(r + 1) * k], q, d, s, sum);
            }
        };
        if m < 4 {
            rows(0..m);
        } else {
            pool.run(m, &rows);
        }
        lhs
    }
}

/// One row to Q8_1 as candle's `BlockQ8_1::from_float` computes it, bit for bit (the test
/// `q8_1_is_candles` pins it): per block of 32, `d = amax / 127`, each value
/// `round(x / d)` (half away from zero, saturating to `i8`), the scale and the scaled sum
/// rounded through f16 (`s = f16(Σq) · f16(d)` in f16); also the exact sums `Σq`.
fn quantize_row(x: &[f32], q: &mut [i8], d: &mut [f32], s: &mut [f32], sum: &mut [i32]) {
    let blocks = x.chunks_exact(QK).zip(q.chunks_exact_mut(QK));
    for (b, (xs, qs)) in blocks.enumerate() {
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        let mut total = 0i32;
        for (dst, &v) in qs.iter_mut().zip(xs) {
            let v = v * inv;
            // `v as i32` truncates (saturating; NaN to 0), and `v - t` is exact where it
            // matters, so this is `f32::round` without a call to `roundf`; beyond `i32` both
            // saturate to the same `i8`.
            let t = v as i32 as f32;
            let r = if (v - t).abs() >= 0.5 {
                t + 1f32.copysign(v)
            } else {
                t
            };
            *dst = r as i8;
            total += *dst as i32;
        }
        let dh = half::f16::from_f32(scale);
        d[b] = dh.to_f32();
        s[b] = (half::f16::from_f32(total as f32) * dh).to_f32();
        sum[b] = total;
    }
}

/// The reference kernel: candle's scalar arithmetic on the tile layout.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn tile_scalar<const R: usize>(
    wq: &[u8],
    wdm: &[f32],
    kb: usize,
    yq: &[i8],
    yd: &[f32],
    ys: &[f32],
    out: &mut [[f32; TILE]; ROWS],
) {
    let k = kb * QK;
    for (r, o) in out.iter_mut().enumerate().take(R) {
        for (c, o) in o.iter_mut().enumerate() {
            let mut sumf = 0f32;
            for b in 0..kb {
                let w = &wq[b * TILE_QS..][..TILE_QS];
                let y = &yq[r * k + b * QK..][..QK];
                let mut sumi = 0i32;
                for h in 0..4 {
                    for i in 0..4 {
                        let byte = w[h * 64 + c * 4 + i];
                        sumi += (byte & 0x0F) as i32 * y[4 * h + i] as i32
                            + (byte >> 4) as i32 * y[16 + 4 * h + i] as i32;
                    }
                }
                let (dw, mw) = (wdm[b * 2 * TILE + c], wdm[b * 2 * TILE + TILE + c]);
                sumf += sumi as f32 * dw * yd[r * kb + b] + mw * ys[r * kb + b];
            }
            *o = sumf;
        }
    }
}

/// AVX-512 VNNI: per block, `vpdpbusd` of the 16 columns' unsigned 4-bit values by four
/// broadcast activations, eight times; then the f32 update of all 16 columns at once.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `wq`/`wdm` must hold `kb` tile blocks and
/// `yq`/`yd`/`ys` `R` rows of `kb` blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile_avx512<const R: usize>(
    wq: &[u8],
    wdm: &[f32],
    kb: usize,
    yq: &[i8],
    yd: &[f32],
    ys: &[f32],
    out: &mut [[f32; TILE]; ROWS],
) {
    use std::arch::x86_64::*;
    let k = kb * QK;
    debug_assert!(wq.len() >= kb * TILE_QS && wdm.len() >= kb * 2 * TILE);
    debug_assert!(yq.len() >= R * k && yd.len() >= R * kb && ys.len() >= R * kb);
    let mask = _mm512_set1_epi8(0x0F);
    let mut acc = [_mm512_setzero_ps(); R];
    let (wq, wdm, yq) = (wq.as_ptr(), wdm.as_ptr(), yq.as_ptr());
    for b in 0..kb {
        let mut lo = [_mm512_setzero_si512(); R];
        let mut hi = [_mm512_setzero_si512(); R];
        for h in 0..4 {
            // SAFETY (all reads below): in bounds by the function's contract.
            let packed = _mm512_loadu_si512(wq.add(b * TILE_QS + h * 64).cast());
            let wl = _mm512_and_si512(packed, mask);
            let wh = _mm512_and_si512(_mm512_srli_epi16::<4>(packed), mask);
            for r in 0..R {
                let y = yq.add(r * k + b * QK);
                let yl = _mm512_set1_epi32(y.add(4 * h).cast::<i32>().read_unaligned());
                let yh = _mm512_set1_epi32(y.add(16 + 4 * h).cast::<i32>().read_unaligned());
                lo[r] = _mm512_dpbusd_epi32(lo[r], wl, yl);
                hi[r] = _mm512_dpbusd_epi32(hi[r], wh, yh);
            }
        }
        let dw = _mm512_loadu_ps(wdm.add(b * 2 * TILE));
        let mw = _mm512_loadu_ps(wdm.add(b * 2 * TILE + TILE));
        for r in 0..R {
            let sumi = _mm512_cvtepi32_ps(_mm512_add_epi32(lo[r], hi[r]));
            let dy = _mm512_set1_ps(*yd.get_unchecked(r * kb + b));
            let sy = _mm512_set1_ps(*ys.get_unchecked(r * kb + b));
            let t = _mm512_add_ps(
                _mm512_mul_ps(_mm512_mul_ps(sumi, dw), dy),
                _mm512_mul_ps(mw, sy),
            );
            acc[r] = _mm512_add_ps(acc[r], t);
        }
    }
    for r in 0..R {
        _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]);
    }
}

/// AVX2: as the AVX-512 kernel, one half tile (8 columns) at a time, with `vpmaddubsw` (16-bit
/// sums of pairs; 16 products of 4-bit by 8-bit values stay below 2^15, so nothing saturates)
/// and `vpmaddwd` by ones for the 32-bit sums.
///
/// # Safety
/// The CPU must have AVX2; the slices as for [`tile_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile_avx2<const R: usize>(
    wq: &[u8],
    wdm: &[f32],
    kb: usize,
    yq: &[i8],
    yd: &[f32],
    ys: &[f32],
    out: &mut [[f32; TILE]; ROWS],
) {
    use std::arch::x86_64::*;
    let k = kb * QK;
    debug_assert!(wq.len() >= kb * TILE_QS && wdm.len() >= kb * 2 * TILE);
    debug_assert!(yq.len() >= R * k && yd.len() >= R * kb && ys.len() >= R * kb);
    let mask = _mm256_set1_epi8(0x0F);
    let ones = _mm256_set1_epi16(1);
    let (wq, wdm, yq) = (wq.as_ptr(), wdm.as_ptr(), yq.as_ptr());
    for half in 0..2 {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..kb {
            let mut lo = [_mm256_setzero_si256(); R];
            let mut hi = [_mm256_setzero_si256(); R];
            for h in 0..4 {
                // SAFETY (all reads below): in bounds by the function's contract.
                let packed = _mm256_loadu_si256(wq.add(b * TILE_QS + h * 64 + half * 32).cast());
                let wl = _mm256_and_si256(packed, mask);
                let wh = _mm256_and_si256(_mm256_srli_epi16::<4>(packed), mask);
                for r in 0..R {
                    let y = yq.add(r * k + b * QK);
                    let yl = _mm256_set1_epi32(y.add(4 * h).cast::<i32>().read_unaligned());
                    let yh = _mm256_set1_epi32(y.add(16 + 4 * h).cast::<i32>().read_unaligned());
                    lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(wl, yl));
                    hi[r] = _mm256_add_epi16(hi[r], _mm256_maddubs_epi16(wh, yh));
                }
            }
            let dw = _mm256_loadu_ps(wdm.add(b * 2 * TILE + half * 8));
            let mw = _mm256_loadu_ps(wdm.add(b * 2 * TILE + TILE + half * 8));
            for r in 0..R {
                let sumi = _mm256_add_epi32(
                    _mm256_madd_epi16(lo[r], ones),
                    _mm256_madd_epi16(hi[r], ones),
                );
                let sumi = _mm256_cvtepi32_ps(sumi);
                let dy = _mm256_set1_ps(*yd.get_unchecked(r * kb + b));
                let sy = _mm256_set1_ps(*ys.get_unchecked(r * kb + b));
                let t = _mm256_add_ps(
                    _mm256_mul_ps(_mm256_mul_ps(sumi, dw), dy),
                    _mm256_mul_ps(mw, sy),
                );
                acc[r] = _mm256_add_ps(acc[r], t);
            }
        }
        for r in 0..R {
            _mm256_storeu_ps(out[r].as_mut_ptr().add(half * 8), acc[r]);
        }
    }
}

/// The Q8_0 reference kernel: per block the exact integer dot product, then
/// `sumf += sumi * (d_w * d_x)` in f32, as llama.cpp's scalar code.
#[allow(clippy::too_many_arguments)]
fn tile_q8_scalar<const R: usize>(
    wq: &[u8],
    wd: &[f32],
    kb: usize,
    yq: &[i8],
    yd: &[f32],
    _ysum: &[i32],
    out: &mut [[f32; TILE]; ROWS],
) {
    let k = kb * QK;
    for (r, o) in out.iter_mut().enumerate().take(R) {
        for (c, o) in o.iter_mut().enumerate() {
            let mut sumf = 0f32;
            for b in 0..kb {
                let w = &wq[b * TILE_Q8..][..TILE_Q8];
                let y = &yq[r * k + b * QK..][..QK];
                let mut sumi = 0i32;
                for g in 0..QK / 4 {
                    for i in 0..4 {
                        sumi += (w[g * 64 + c * 4 + i] as i8) as i32 * y[4 * g + i] as i32;
                    }
                }
                sumf += sumi as f32 * (wd[b * TILE + c] * yd[r * kb + b]);
            }
            *o = sumf;
        }
    }
}

/// Q8_0 on AVX-512 VNNI: per block, `vpdpbusd` of the 16 columns' values flipped to unsigned
/// (`q + 128`, an XOR of the sign bit) by four broadcast activations, eight times, minus
/// `128 * sum(q_x)`, which leaves the exact signed dot product; then one FMA per row for all 16
/// columns.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `wq`/`wd` must hold `kb` Q8_0 tile blocks and
/// `yq`/`yd`/`ysum` `R` rows of `kb` blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile_q8_avx512<const R: usize>(
    wq: &[u8],
    wd: &[f32],
    kb: usize,
    yq: &[i8],
    yd: &[f32],
    ysum: &[i32],
    out: &mut [[f32; TILE]; ROWS],
) {
    use std::arch::x86_64::*;
    let k = kb * QK;
    debug_assert!(wq.len() >= kb * TILE_Q8 && wd.len() >= kb * TILE);
    debug_assert!(yq.len() >= R * k && yd.len() >= R * kb && ysum.len() >= R * kb);
    let flip = _mm512_set1_epi8(i8::MIN);
    let mut acc = [_mm512_setzero_ps(); R];
    let (wq, wd, yq) = (wq.as_ptr(), wd.as_ptr(), yq.as_ptr());
    for b in 0..kb {
        // Two accumulators per row halve the dependency chains of the eight `vpdpbusd`s.
        let mut even = [_mm512_setzero_si512(); R];
        let mut odd = [_mm512_setzero_si512(); R];
        for g in (0..QK / 4).step_by(2) {
            // SAFETY (all reads below): in bounds by the function's contract.
            let w0 = _mm512_xor_si512(
                _mm512_loadu_si512(wq.add(b * TILE_Q8 + g * 64).cast()),
                flip,
            );
            let w1 = _mm512_xor_si512(
                _mm512_loadu_si512(wq.add(b * TILE_Q8 + (g + 1) * 64).cast()),
                flip,
            );
            for r in 0..R {
                let y = yq.add(r * k + b * QK + 4 * g);
                let y0 = _mm512_set1_epi32(y.cast::<i32>().read_unaligned());
                let y1 = _mm512_set1_epi32(y.add(4).cast::<i32>().read_unaligned());
                even[r] = _mm512_dpbusd_epi32(even[r], w0, y0);
                odd[r] = _mm512_dpbusd_epi32(odd[r], w1, y1);
            }
        }
        let dw = _mm512_loadu_ps(wd.add(b * TILE));
        for r in 0..R {
            let bias = _mm512_set1_epi32(128 * *ysum.get_unchecked(r * kb + b));
            let sumi = _mm512_sub_epi32(_mm512_add_epi32(even[r], odd[r]), bias);
            let d = _mm512_mul_ps(dw, _mm512_set1_ps(*yd.get_unchecked(r * kb + b)));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), d, acc[r]);
        }
    }
    for r in 0..R {
        _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]);
    }
}

/// Q8_0 on AVX2, one half tile (8 columns) at a time: `vpmaddubsw` of `|q_w|` by `q_x` carrying
/// `q_w`'s sign (`vpsignb`; pairs of products stay within ±32512, so nothing saturates), then
/// `vpmaddwd` by ones for the 32-bit sums.
///
/// # Safety
/// The CPU must have AVX2; the slices as for [`tile_q8_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile_q8_avx2<const R: usize>(
    wq: &[u8],
    wd: &[f32],
    kb: usize,
    yq: &[i8],
    yd: &[f32],
    ysum: &[i32],
    out: &mut [[f32; TILE]; ROWS],
) {
    use std::arch::x86_64::*;
    let k = kb * QK;
    debug_assert!(wq.len() >= kb * TILE_Q8 && wd.len() >= kb * TILE);
    debug_assert!(yq.len() >= R * k && yd.len() >= R * kb && ysum.len() >= R * kb);
    let ones = _mm256_set1_epi16(1);
    let (wq, wd, yq) = (wq.as_ptr(), wd.as_ptr(), yq.as_ptr());
    for half in 0..2 {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..kb {
            let mut dot = [_mm256_setzero_si256(); R];
            for g in 0..QK / 4 {
                // SAFETY (all reads below): in bounds by the function's contract.
                let w = _mm256_loadu_si256(wq.add(b * TILE_Q8 + g * 64 + half * 32).cast());
                let aw = _mm256_abs_epi8(w);
                for r in 0..R {
                    let y = yq.add(r * k + b * QK + 4 * g);
                    let y = _mm256_set1_epi32(y.cast::<i32>().read_unaligned());
                    let p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(y, w));
                    dot[r] = _mm256_add_epi32(dot[r], _mm256_madd_epi16(p, ones));
                }
            }
            let dw = _mm256_loadu_ps(wd.add(b * TILE + half * 8));
            for r in 0..R {
                let d = _mm256_mul_ps(dw, _mm256_set1_ps(*yd.get_unchecked(r * kb + b)));
                acc[r] = _mm256_add_ps(acc[r], _mm256_mul_ps(_mm256_cvtepi32_ps(dot[r]), d));
            }
        }
        for r in 0..R {
            _mm256_storeu_ps(out[r].as_mut_ptr().add(half * 8), acc[r]);
        }
    }
}

/// A quantized linear map: candle's `QMatMul`, or [`FastQMatMul`] where it applies (Q4_1 or
/// Q8_0 on the CPU, unless candle is told to dequantize everything or [`set_fast_kernels`] is off).
#[derive(Debug, Clone)]
pub enum QLinear {
    /// candle's own.
    Candle(QMatMul),
    /// The kernels of this module.
    Fast(Arc<FastQMatMul>),
}

impl QLinear {
    /// From a GGUF tensor, as `QMatMul::from_arc` would take it.
    pub fn from_arc(w: Arc<QTensor>) -> Result<Self> {
        let q = QMatMul::from_arc(w)?;
        if let QMatMul::QTensor(t) = &q {
            if ENABLED.load(Ordering::Relaxed) {
                if let Some(fast) = FastQMatMul::new(t)? {
                    return Ok(Self::Fast(Arc::new(fast)));
                }
            }
        }
        Ok(Self::Candle(q))
    }

    /// `x (..., in)` to `(..., out)`. Inputs other than f32 go through f32 and come back in
    /// their type, as in candle.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Candle(q) => q.forward(x),
            Self::Fast(f) => match x.dtype() {
                DType::F32 => f.forward(&x.contiguous()?),
                dt => f.forward(&x.to_dtype(DType::F32)?)?.to_dtype(dt),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::{Rng, SeedableRng};

    fn random(shape: (usize, usize), seed: u64) -> Tensor {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let v: Vec<f32> = (0..shape.0 * shape.1)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn q4_1(out: usize, inp: usize, seed: u64) -> Arc<QTensor> {
        Arc::new(QTensor::quantize(&random((out, inp), seed), GgmlDType::Q4_1).unwrap())
    }

    fn q8_0(out: usize, inp: usize, seed: u64) -> Arc<QTensor> {
        Arc::new(QTensor::quantize(&random((out, inp), seed), GgmlDType::Q8_0).unwrap())
    }

    /// The largest `|got - want|` of each row over that row's largest `|want|`, over all rows.
    fn max_rel_err(got: &Tensor, want: &Tensor) -> f32 {
        let n = *want.dims().last().unwrap();
        let got: Vec<f32> = got.flatten_all().unwrap().to_vec1().unwrap();
        let want: Vec<f32> = want.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(got.len(), want.len());
        let mut worst = 0f32;
        for (g, w) in got.chunks(n).zip(want.chunks(n)) {
            let scale = w
                .iter()
                .fold(0f32, |m, v| m.max(v.abs()))
                .max(f32::MIN_POSITIVE);
            let err = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(err.is_finite());
            worst = worst.max(err / scale);
        }
        worst
    }

    fn bits(t: &Tensor) -> Vec<u32> {
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        v.into_iter().map(f32::to_bits).collect()
    }

    const ALL: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512Vnni];

    /// The name `THINKSCALE_REQUIRE_KERNELS` uses for a kernel.
    fn name(kernel: Kernel) -> &'static str {
        match kernel {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512Vnni => "avx512vnni",
        }
    }

    /// Checks `required`, a comma-separated list of kernel names, against what the CPU runs
    /// (`available`): an error names every required kernel it cannot run, and any unknown name
    /// (a typo must not pass for a kernel that is never required).
    fn check_required(
        required: &str,
        available: impl Fn(Kernel) -> bool,
    ) -> std::result::Result<(), String> {
        let mut unknown = Vec::new();
        let mut missing = Vec::new();
        for want in required.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match ALL.into_iter().find(|&k| name(k) == want) {
                None => unknown.push(want),
                Some(k) if !available(k) => missing.push(want),
                Some(_) => {}
            }
        }
        let mut errors = Vec::new();
        if !unknown.is_empty() {
            errors.push(format!(
                "unknown kernel {} (known: scalar, avx2, avx512vnni)",
                unknown.join(", ")
            ));
        }
        if !missing.is_empty() {
            errors.push(format!("this CPU cannot run {}", missing.join(", ")));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "THINKSCALE_REQUIRE_KERNELS={required}: {}",
                errors.join("; ")
            ))
        }
    }

    /// The kernels this CPU runs, which the tests compare with candle. The others are skipped,
    /// and say so; where `THINKSCALE_REQUIRE_KERNELS` names a skipped one (CI sets it from the
    /// CPU's flags), that is a failure, so a kernel cannot drop out of the tests unnoticed.
    fn kernels() -> Vec<Kernel> {
        let (ran, skipped): (Vec<Kernel>, Vec<Kernel>) =
            ALL.into_iter().partition(|k| k.available());
        let names = |ks: &[Kernel]| ks.iter().map(|&k| name(k)).collect::<Vec<_>>().join(", ");
        println!(
            "kernels tested: {}; skipped (this CPU lacks them): {}",
            names(&ran),
            if skipped.is_empty() {
                "none".into()
            } else {
                names(&skipped)
            }
        );
        if let Ok(required) = std::env::var("THINKSCALE_REQUIRE_KERNELS") {
            if let Err(e) = check_required(&required, Kernel::available) {
                panic!("{e}");
            }
        }
        ran
    }

    #[test]
    fn required_kernels_the_cpu_lacks_or_unknown_names_are_errors() {
        let only_scalar = |k: Kernel| k == Kernel::Scalar;
        assert_eq!(check_required("", only_scalar), Ok(()));
        assert_eq!(check_required("scalar", only_scalar), Ok(()));
        assert_eq!(check_required("avx2,avx512vnni", |_| true), Ok(()));
        let err = check_required("avx2, avx512vnni", only_scalar).unwrap_err();
        assert!(
            err.contains("this CPU cannot run avx2, avx512vnni"),
            "{err}"
        );
        let err = check_required("avx2,avx512", |_| true).unwrap_err();
        assert!(err.contains("unknown kernel avx512 "), "{err}");
        assert!(!err.contains("cannot run"), "{err}");
    }

    #[test]
    fn equals_candle_bit_for_bit() {
        let shapes = [
            (576, 576),
            (1536, 576),
            (576, 1536),
            (192, 576),
            (49152, 576),
        ];
        let kernels = kernels();
        for (i, &(out, inp)) in shapes.iter().enumerate() {
            let w = q4_1(out, inp, i as u64);
            let reference = QMatMul::from_arc(w.clone()).unwrap();
            for &kernel in &kernels {
                let fast = FastQMatMul::with_kernel(&w, kernel).unwrap().unwrap();
                for rows in [1, 3, 16, 33] {
                    if out == 49152 && kernel == Kernel::Scalar && rows > 3 {
                        continue; // slow in debug builds and adds nothing
                    }
                    let x = random((rows, inp), 100 + rows as u64);
                    let want = reference.forward(&x).unwrap();
                    let got = fast.forward(&x).unwrap();
                    assert_eq!(got.dims(), want.dims());
                    assert!(
                        bits(&got) == bits(&want),
                        "{kernel:?} ({out}, {inp}) x {rows} rows differs from candle"
                    );
                }
            }
        }
    }

    #[test]
    fn q8_0_close_to_candle() {
        // (out, in); 1536 inputs (the down projection's shape) stay with candle, see
        // `Q8_0_CANDLE_K`.
        let stays = q8_0(576, 1536, 19);
        assert!(FastQMatMul::new(&stays).unwrap().is_none());
        assert!(matches!(
            QLinear::from_arc(stays).unwrap(),
            QLinear::Candle(_)
        ));
        let shapes = [(49152, 576), (576, 576), (1536, 576), (576, 1504), (40, 64)];
        let mut worst = 0f32;
        let kernels = kernels();
        for (i, &(out, inp)) in shapes.iter().enumerate() {
            let w = q8_0(out, inp, 20 + i as u64);
            let reference = QMatMul::from_arc(w.clone()).unwrap();
            let lin = QLinear::from_arc(w.clone()).unwrap();
            assert!(matches!(lin, QLinear::Fast(_)));
            for &kernel in &kernels {
                let fast = FastQMatMul::with_kernel(&w, kernel).unwrap().unwrap();
                assert_eq!(fast.format(), Format::Q8_0);
                for rows in [1, 3, 16, 33] {
                    if out == 49152 && kernel == Kernel::Scalar && rows > 3 {
                        continue; // slow in debug builds and adds nothing
                    }
                    let x = random((rows, inp), 200 + rows as u64);
                    let want = reference.forward(&x).unwrap();
                    let got = fast.forward(&x).unwrap();
                    assert_eq!(got.dims(), want.dims());
                    let err = max_rel_err(&got, &want);
                    assert!(
                        err <= 1e-5,
                        "{kernel:?} ({out}, {inp}) x {rows} rows: relative error {err:e}"
                    );
                    worst = worst.max(err);
                }
            }
        }
        println!("Q8_0: largest relative error vs candle {worst:e}");
    }

    #[test]
    fn q8_0_extreme_values() {
        // Weights of -128 (possible in a GGUF file though candle never writes them), 127 and
        // activations at full scale: no saturation in any kernel. Built by hand from bytes.
        let (n, k) = (48, 64);
        let mut bytes = Vec::new();
        for col in 0..n {
            for b in 0..k / 32 {
                bytes.extend_from_slice(
                    &half::f16::from_f32(0.01 * (1 + col % 3) as f32).to_le_bytes(),
                );
                for j in 0..32 {
                    let q: i8 = match (col + j + b) % 4 {
                        0 => -128,
                        1 => 127,
                        2 => -127,
                        _ => (j as i8) - 16,
                    };
                    bytes.push(q as u8);
                }
            }
        }
        let w = Arc::new(
            QTensor::new(
                candle_core::quantized::QStorage::from_data(
                    std::borrow::Cow::Owned(bytes),
                    &Device::Cpu,
                    GgmlDType::Q8_0,
                )
                .unwrap(),
                (n, k),
            )
            .unwrap(),
        );
        let reference = QMatMul::from_arc(w.clone()).unwrap();
        let x: Vec<f32> = (0..4 * k)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let x = Tensor::from_vec(x, (4, k), &Device::Cpu).unwrap();
        let want = reference.forward(&x).unwrap();
        for kernel in kernels() {
            let got = FastQMatMul::with_kernel(&w, kernel)
                .unwrap()
                .unwrap()
                .forward(&x)
                .unwrap();
            let err = max_rel_err(&got, &want);
            assert!(err <= 1e-5, "{kernel:?}: relative error {err:e}");
        }
    }

    #[test]
    fn odd_widths_batches_and_layouts() {
        // 40 outputs: a padded last tile. Rank 3 input, a transposed (non-contiguous) one, f16.
        let w = q4_1(40, 64, 7);
        let reference = QMatMul::from_arc(w.clone()).unwrap();
        let lin = QLinear::from_arc(w).unwrap();
        assert!(matches!(lin, QLinear::Fast(_)));
        let x = random((10, 64), 8).reshape((2, 5, 64)).unwrap();
        assert_eq!(lin.forward(&x).unwrap().dims(), &[2, 5, 40]);
        assert_eq!(
            bits(&lin.forward(&x).unwrap()),
            bits(&reference.forward(&x).unwrap())
        );
        let xt = random((64, 6), 9).t().unwrap();
        assert_eq!(
            bits(&lin.forward(&xt).unwrap()),
            bits(&reference.forward(&xt.contiguous().unwrap()).unwrap())
        );
        let xh = x.to_dtype(DType::F16).unwrap();
        let got = lin.forward(&xh).unwrap();
        assert_eq!(got.dtype(), DType::F16);
        assert_eq!(
            bits(&got.to_dtype(DType::F32).unwrap()),
            bits(
                &reference
                    .forward(&xh)
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap()
            )
        );
    }

    #[test]
    fn bad_input_is_an_error_and_other_types_stay_with_candle() {
        let w = q4_1(32, 64, 1);
        let fast = FastQMatMul::new(&w).unwrap().unwrap();
        assert!(fast.forward(&random((2, 32), 2)).is_err());
        assert!(fast.matmul(&[0.0; 10], 1, &mut [0.0; 32]).is_err());
        let q4_0 = QTensor::quantize(&random((32, 64), 3), GgmlDType::Q4_0).unwrap();
        assert!(FastQMatMul::new(&q4_0).unwrap().is_none());
        assert!(matches!(
            QLinear::from_arc(Arc::new(q4_0)).unwrap(),
            QLinear::Candle(_)
        ));
        let q8 = FastQMatMul::new(&q8_0(32, 64, 5)).unwrap().unwrap();
        assert!(q8.forward(&random((2, 32), 2)).is_err());
        assert!(q8.matmul(&[0.0; 10], 1, &mut [0.0; 32]).is_err());
    }

    /// The quantized activations are candle's `BlockQ8_1::from_float` bit for bit: values,
    /// scales and scaled sums, on random rows, exact ties (`x / d` ending in .5), zeros,
    /// subnormals, huge values, infinities and NaN.
    #[test]
    fn q8_1_is_candles() {
        use candle_core::quantized::k_quants::{BlockQ8_1, GgmlType};
        let mut rows: Vec<Vec<f32>> = (0..8u64)
            .map(|seed| {
                let r = random((1, 256), seed).flatten_all().unwrap();
                let scale = [1e-3f32, 1.0, 37.0, 1e4][seed as usize % 4];
                r.to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v * scale)
                    .collect()
            })
            .collect();
        // Ties: amax 127 makes d = 1, so k + 0.5 lands exactly half way.
        rows.push(
            (0..64)
                .map(|i| match i % 32 {
                    0 => 127.0,
                    j => (j as f32 - 16.0) + 0.5,
                })
                .collect(),
        );
        let odd = [
            0.0,
            -0.0,
            1e-45,
            -3e-44,
            1e-40,
            f32::MAX,
            -f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            0.5,
            -0.5,
            2.5,
            -2.5,
        ];
        rows.push((0..64).map(|i| odd[i % odd.len()]).collect());
        rows.push(
            (0..64)
                .map(|i| odd[(i * 7 + 3) % odd.len()] * 1e-3)
                .collect(),
        );
        rows.push(vec![1e-44; 32]);
        rows.push(vec![0.0; 32]);
        for (n, x) in rows.iter().enumerate() {
            let kb = x.len() / QK;
            let (mut q, mut d, mut s, mut sum) = (
                vec![0i8; x.len()],
                vec![0f32; kb],
                vec![0f32; kb],
                vec![0i32; kb],
            );
            quantize_row(x, &mut q, &mut d, &mut s, &mut sum);
            for (b, (cd, cs, cq)) in candle(x).into_iter().enumerate() {
                assert_eq!(q[b * QK..][..QK], cq, "row {n} block {b}: values");
                assert_eq!(d[b].to_bits(), cd.to_bits(), "row {n} block {b}: scale");
                assert_eq!(s[b].to_bits(), cs.to_bits(), "row {n} block {b}: sum");
                assert_eq!(sum[b], cq.iter().map(|&v| v as i32).sum::<i32>());
            }
        }
        // And through `Lhs`, rows spread over the pool.
        let x: Vec<f32> = rows[..8].concat();
        let lhs = Lhs::quantize(&x, 8, 256, &CandlePool);
        let qs: Vec<i8> = candle(&x).into_iter().flat_map(|(_, _, q)| q).collect();
        assert_eq!(lhs.q, qs);

        /// Candle's blocks of `x`: scale, scaled sum and values.
        fn candle(x: &[f32]) -> Vec<(f32, f32, Vec<i8>)> {
            let mut blocks = vec![BlockQ8_1::zeros(); x.len() / QK];
            BlockQ8_1::from_float(x, &mut blocks);
            // SAFETY: `BlockQ8_1` is `repr(C)` { d: f16, s: f16, qs: [i8; 32] }, 36 bytes with
            // no padding (candle asserts the size), so its bytes are initialized.
            let bytes = unsafe {
                std::slice::from_raw_parts(blocks.as_ptr().cast::<u8>(), x.len() / QK * 36)
            };
            bytes
                .chunks_exact(36)
                .map(|b| {
                    (
                        f16_le(&b[0..2]),
                        f16_le(&b[2..4]),
                        b[4..].iter().map(|&v| v as i8).collect(),
                    )
                })
                .collect()
        }
    }
}
