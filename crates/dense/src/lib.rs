//! The CPU kernels of thinkscale's forward pass for small dense f32 transformers (the toy
//! policies and PRMs): a matrix product against weights packed once at load, attention of new
//! tokens over a key/value cache, RMS norm, RoPE and the gated MLP's SiLU.
//!
//! Why a crate of its own: these loops are the whole cost of a toy model's step, and the test
//! build compiles dependencies optimised (`[profile.dev.package."*"]`) but thinkscale itself
//! not; as a separate package they run at full speed in the tests too.
//!
//! Why not candle's ops: on a model of hidden size 128 every candle op allocates its output and
//! the attention's batched products call `gemm` once per row and head, so a step of 32 rows was
//! two thirds `gemm` setup and packing (`perf`, issue 29). Here a step is a handful of calls on
//! buffers the caller owns.
//!
//! Numerics: every output element of [`Linear::matmul`] is `Σ_k x·w` accumulated left to right
//! in f32 (with fused multiply-adds where the CPU has them), then the bias added, as candle's
//! `matmul` + `broadcast_add` do; attention, norm and RoPE follow candle's formulas. Results
//! agree with candle's to float rounding, not bit for bit.
//!
//! Work is split over a [`Pool`] the caller provides (thinkscale passes candle's own CPU
//! pool), in items that write disjoint parts of the output.

use std::ops::Range;

/// Runs `f` over `0..items`, split into ranges that may run on several threads at once.
pub trait Pool: Sync {
    /// Calls `f` on disjoint ranges covering `0..items`, and returns when all have run.
    fn run(&self, items: usize, f: &(dyn Fn(Range<usize>) + Sync));

    /// How many threads run the items at once.
    fn threads(&self) -> usize {
        1
    }
}

/// Everything on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial;

impl Pool for Serial {
    fn run(&self, items: usize, f: &(dyn Fn(Range<usize>) + Sync)) {
        if items > 0 {
            f(0..items);
        }
    }
}

/// Output columns per packed weight panel.
pub const PANEL: usize = 16;
/// Rows a kernel call multiplies against one panel, at most ([`Isa::rows`]).
const ROWS: usize = 12;
/// Rows one matmul work item covers (a chunk of activations stays in cache while its item
/// walks a panel).
const ROW_CHUNK: usize = 32;

/// The instruction set a kernel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust: any CPU.
    Scalar,
    /// AVX2 with fused multiply-add (x86-64).
    Avx2,
    /// AVX-512 (x86-64): the matrix products on 16-wide registers, the rest as [`Isa::Avx2`].
    Avx512,
}

impl Isa {
    /// The best this CPU runs.
    pub fn best() -> Self {
        [Self::Avx512, Self::Avx2]
            .into_iter()
            .find(|isa| isa.available())
            .unwrap_or(Self::Scalar)
    }

    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => Self::Avx2.available() && is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx2 | Self::Avx512 => false,
        }
    }

    /// Whether the AVX2 kernels run (on [`Isa::Avx2`] and [`Isa::Avx512`], where available).
    fn avx2(self) -> bool {
        self != Self::Scalar && self.available()
    }

    /// Rows one matrix kernel call takes: its accumulators, one row's 16 columns each in
    /// one AVX-512 register or two AVX2 ones, are 12 registers, enough to keep both FMA
    /// units busy through their latency.
    fn rows(self) -> usize {
        match self {
            Self::Avx512 => 12,
            _ => 6,
        }
    }
}

/// A writable f32 buffer shared by work items that each write their own elements.
#[derive(Clone, Copy)]
struct SharedOut {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: a `SharedOut` is only written through `write`, at elements that exactly one work
// item owns (each function below says which), and read by nobody until the pool call returns.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    fn new(out: &mut [f32]) -> Self {
        Self {
            ptr: out.as_mut_ptr(),
            len: out.len(),
        }
    }

    /// The `len` elements from `at`.
    ///
    /// # Safety
    /// No other work item may touch these elements while the slice lives.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice(&self, at: usize, len: usize) -> &mut [f32] {
        assert!(at + len <= self.len, "write past the output");
        // SAFETY: in bounds (checked above); exclusive by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(at), len) }
    }
}

/// Calls the kernel `f::<R>` for `R = rows` (at most [`ROWS`]).
macro_rules! rows_of {
    ($rows:expr, $($f:ident)::+ ($($arg:expr),*)) => {
        match $rows {
            1 => $($f)::+::<1>($($arg),*),
            2 => $($f)::+::<2>($($arg),*),
            3 => $($f)::+::<3>($($arg),*),
            4 => $($f)::+::<4>($($arg),*),
            5 => $($f)::+::<5>($($arg),*),
            6 => $($f)::+::<6>($($arg),*),
            7 => $($f)::+::<7>($($arg),*),
            8 => $($f)::+::<8>($($arg),*),
            9 => $($f)::+::<9>($($arg),*),
            10 => $($f)::+::<10>($($arg),*),
            11 => $($f)::+::<11>($($arg),*),
            _ => $($f)::+::<12>($($arg),*),
        }
    };
}

/// A linear map `y = x·wᵀ + b` with its weight `(n, k)` packed into panels of [`PANEL`] output
/// columns: panel `p` holds, for each input index `kk`, the 16 weights `w[p·16 + j][kk]`
/// side by side (zeros past `n`), so a kernel reads each panel front to back.
#[derive(Debug, Clone)]
pub struct Linear {
    n: usize,
    k: usize,
    panels: Vec<f32>,
    bias: Option<Vec<f32>>,
    isa: Isa,
}

impl Linear {
    /// Packs `w`, row-major `(n, k)`, with an optional bias of `n` values.
    pub fn new(w: &[f32], n: usize, k: usize, bias: Option<Vec<f32>>) -> Result<Self, String> {
        if w.len() != n * k || n == 0 || k == 0 {
            return Err(format!("a ({n}, {k}) weight given {} values", w.len()));
        }
        if bias.as_ref().is_some_and(|b| b.len() != n) {
            return Err(format!(
                "a bias of {n} values given {}",
                bias.map_or(0, |b| b.len())
            ));
        }
        let count = n.div_ceil(PANEL);
        let mut panels = vec![0f32; count * k * PANEL];
        for (c, row) in w.chunks_exact(k).enumerate() {
            let (p, j) = (c / PANEL, c % PANEL);
            for (kk, &v) in row.iter().enumerate() {
                panels[(p * k + kk) * PANEL + j] = v;
            }
        }
        Ok(Self {
            n,
            k,
            panels,
            bias,
            isa: Isa::best(),
        })
    }

    /// The same map on kernel `isa` (which this CPU must run; else the best it does).
    pub fn with_isa(mut self, isa: Isa) -> Self {
        self.isa = if isa.available() { isa } else { Isa::best() };
        self
    }

    /// Output size.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input size.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `y (m, n) = x (m, k) · wᵀ + b`.
    ///
    /// # Panics
    /// Where `x` does not hold `m · k` values or `y` `m · n`: a caller's bug, not input.
    pub fn matmul(&self, x: &[f32], m: usize, y: &mut [f32], pool: &dyn Pool) {
        let (n, k) = (self.n, self.k);
        assert_eq!(x.len(), m * k, "matmul input of {m} rows of {k}");
        assert_eq!(y.len(), m * n, "matmul output of {m} rows of {n}");
        let panels = n.div_ceil(PANEL);
        let chunks = m.div_ceil(ROW_CHUNK);
        let out = SharedOut::new(y);
        // Item (chunk, panel) writes rows of its chunk, columns of its panel: its own elements.
        pool.run(panels * chunks, &|items: Range<usize>| {
            for item in items {
                let (p, c) = (item % panels, item / panels);
                let w = &self.panels[p * k * PANEL..(p + 1) * k * PANEL];
                let cols = PANEL.min(n - p * PANEL);
                let rows = c * ROW_CHUNK..m.min((c + 1) * ROW_CHUNK);
                // Calls of equal size (16 rows: 8 and 8, not 12 and 4), so none is too short
                // to hide its multiply-adds' latency.
                let (len, calls) = (rows.len(), rows.len().div_ceil(self.isa.rows()));
                for call in 0..calls {
                    let r = rows.start + call * len / calls;
                    let take = rows.start + (call + 1) * len / calls - r;
                    let mut acc = [[0f32; PANEL]; ROWS];
                    self.panel(&x[r * k..(r + take) * k], take, w, &mut acc);
                    for (i, a) in acc.iter().take(take).enumerate() {
                        // SAFETY: row r + i of this chunk, columns of panel p: this item's.
                        let dst = unsafe { out.slice((r + i) * n + p * PANEL, cols) };
                        match &self.bias {
                            Some(b) => {
                                for ((d, &v), &b) in dst.iter_mut().zip(a).zip(&b[p * PANEL..]) {
                                    *d = v + b;
                                }
                            }
                            None => dst.copy_from_slice(&a[..cols]),
                        }
                    }
                }
            }
        });
    }

    /// `rows` (1..=[`Isa::rows`]) rows of `x` against one panel.
    fn panel(&self, x: &[f32], rows: usize, w: &[f32], acc: &mut [[f32; PANEL]; ROWS]) {
        let k = self.k;
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `isa` is Avx512 only where the CPU has AVX-512F (`with_isa`, `best`);
            // `x` holds `rows · k` values and `w` `k · 16` (the slices above).
            Isa::Avx512 => unsafe { rows_of!(rows, avx512::panel(x, k, w, acc)) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX2 and FMA.
            Isa::Avx2 => unsafe { rows_of!(rows, avx2::panel(x, k, w, acc)) },
            _ => rows_of!(rows, panel_scalar(x, k, w, acc)),
        }
    }
}

fn panel_scalar<const R: usize>(x: &[f32], k: usize, w: &[f32], acc: &mut [[f32; PANEL]; ROWS]) {
    for kk in 0..k {
        let wk = &w[kk * PANEL..(kk + 1) * PANEL];
        for r in 0..R {
            let xv = x[r * k + kk];
            for (a, &wv) in acc[r].iter_mut().zip(wk) {
                *a += xv * wv;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{PANEL, ROWS};
    use std::arch::x86_64::*;

    /// `R` rows of `x` (`R · k` values) against a panel `w` (`k · 16` values), one register
    /// per row; each output is the same chain of fused multiply-adds as on AVX2.
    ///
    /// # Safety
    /// The CPU has AVX-512F, and the slices are as long as said.
    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn panel<const R: usize>(
        x: &[f32],
        k: usize,
        w: &[f32],
        acc: &mut [[f32; PANEL]; ROWS],
    ) {
        debug_assert!(x.len() >= R * k && w.len() >= k * PANEL);
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut a = [_mm512_setzero_ps(); R];
        for kk in 0..k {
            // SAFETY: kk < k, so the 16 weights at kk·16 and the value at r·k + kk (r < R)
            // are inside the slices.
            unsafe {
                let wv = _mm512_loadu_ps(wp.add(kk * PANEL));
                for (r, a) in a.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(_mm512_set1_ps(*xp.add(r * k + kk)), wv, *a);
                }
            }
        }
        for (r, a) in a.iter().enumerate() {
            // SAFETY: each row of `acc` holds 16 values.
            unsafe { _mm512_storeu_ps(acc[r].as_mut_ptr(), *a) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{PANEL, ROWS};
    use std::arch::x86_64::*;

    /// `R` rows of `x` (`R · k` values) against a panel `w` (`k · 16` values).
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA, and the slices are as long as said.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn panel<const R: usize>(
        x: &[f32],
        k: usize,
        w: &[f32],
        acc: &mut [[f32; PANEL]; ROWS],
    ) {
        debug_assert!(x.len() >= R * k && w.len() >= k * PANEL);
        let (xp, wp) = (x.as_ptr(), w.as_ptr());
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        for kk in 0..k {
            // SAFETY: kk < k, so the 16 weights at kk·16 and the value at r·k + kk (r < R)
            // are inside the slices.
            unsafe {
                let w0 = _mm256_loadu_ps(wp.add(kk * PANEL));
                let w1 = _mm256_loadu_ps(wp.add(kk * PANEL + 8));
                for r in 0..R {
                    let xb = _mm256_set1_ps(*xp.add(r * k + kk));
                    lo[r] = _mm256_fmadd_ps(xb, w0, lo[r]);
                    hi[r] = _mm256_fmadd_ps(xb, w1, hi[r]);
                }
            }
        }
        for r in 0..R {
            // SAFETY: each row of `acc` holds 16 values.
            unsafe {
                _mm256_storeu_ps(acc[r].as_mut_ptr(), lo[r]);
                _mm256_storeu_ps(acc[r].as_mut_ptr().add(8), hi[r]);
            }
        }
    }

    /// [`super::attend`] with AVX2 and FMA, for heads of `8 · C` values: a query's dot
    /// product with each key in one register, and the weighted sum of the values in `C`.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA, and `job.shape.head_dim == 8 * C`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn attend<const C: usize>(
        job: &super::AttendJob,
        scores: &mut Vec<f32>,
        out: &mut [f32],
    ) {
        let s = job.shape;
        let d = 8 * C;
        debug_assert_eq!(s.head_dim, d);
        let width = s.heads * d;
        let scale = 1.0 / (d as f32).sqrt();
        for i in 0..s.t {
            let q = &job.q[i * width + job.head * d..][..d];
            let seen = job.visible(i);
            let n: usize = seen.iter().map(|(k, _)| k.len() / d).sum();
            // SAFETY: every load below reads 8 values at a multiple of 8 inside `q` (d
            // values), a key or a value (d values each, inside the visible slices), and the
            // stores write inside `scores` (n rounded up to 8 values; each segment's scores
            // from where the previous ended) and `o`'s d values.
            unsafe {
                let mut qv = [_mm256_setzero_ps(); C];
                for (c, v) in qv.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(q.as_ptr().add(8 * c));
                }
                scores.clear();
                scores.resize(n.next_multiple_of(8), f32::NEG_INFINITY);
                let mut max = f32::NEG_INFINITY;
                let mut at = 0;
                for (keys, _) in seen {
                    max = max.max(score::<C>(&qv, keys, scale, &mut scores[at..]));
                    at += keys.len() / d;
                }
                // exp(score - max), eight at a time (the padding past n gives exp(-inf) = 0).
                let maxb = _mm256_set1_ps(max);
                let mut sumv = _mm256_setzero_ps();
                for chunk in scores.chunks_exact_mut(8) {
                    let e = exp(_mm256_sub_ps(_mm256_loadu_ps(chunk.as_ptr()), maxb));
                    sumv = _mm256_add_ps(sumv, e);
                    _mm256_storeu_ps(chunk.as_mut_ptr(), e);
                }
                let sum = hsum(sumv);
                let mut o = [_mm256_setzero_ps(); C];
                let values = seen.iter().flat_map(|(_, v)| v.chunks_exact(d));
                for (value, &p) in values.zip(scores.iter()) {
                    let p = _mm256_set1_ps(p);
                    for (c, acc) in o.iter_mut().enumerate() {
                        *acc = _mm256_fmadd_ps(p, _mm256_loadu_ps(value.as_ptr().add(8 * c)), *acc);
                    }
                }
                let inv = _mm256_set1_ps(1.0 / sum);
                for acc in o.iter_mut() {
                    *acc = _mm256_mul_ps(*acc, inv);
                }
                let dst = &mut out[i * width..i * width + d];
                for (c, acc) in o.iter().enumerate() {
                    _mm256_storeu_ps(dst.as_mut_ptr().add(8 * c), *acc);
                }
            }
        }
    }

    /// The scaled dot products of the query `qv` (`8 · C` values in `C` registers) with each
    /// key of `keys`, eight keys at a time, into `out`; returns the largest.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA, and `out` holds at least a value per key.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn score<const C: usize>(
        qv: &[__m256; C],
        keys: &[f32],
        scale: f32,
        out: &mut [f32],
    ) -> f32 {
        let d = 8 * C;
        let n = keys.len() / d;
        assert!(out.len() >= n, "a score per key");
        let scale_v = _mm256_set1_ps(scale);
        let mut maxv = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut j = 0;
        // SAFETY: key j + a < n starts at (j + a) · d, with d values inside `keys`; the
        // stores write out[j..j + 8] with j + 8 <= n.
        unsafe {
            while j + 8 <= n {
                let mut acc = [_mm256_setzero_ps(); 8];
                for (a, acc) in acc.iter_mut().enumerate() {
                    let key = keys.as_ptr().add((j + a) * d);
                    for (c, v) in qv.iter().enumerate() {
                        *acc = _mm256_fmadd_ps(*v, _mm256_loadu_ps(key.add(8 * c)), *acc);
                    }
                }
                let sc = _mm256_mul_ps(reduce8(&acc), scale_v);
                maxv = _mm256_max_ps(maxv, sc);
                _mm256_storeu_ps(out.as_mut_ptr().add(j), sc);
                j += 8;
            }
            let mut max = hmax(maxv);
            for (a, sc) in out.iter_mut().enumerate().take(n).skip(j) {
                let key = keys.as_ptr().add(a * d);
                let mut acc = _mm256_setzero_ps();
                for (c, v) in qv.iter().enumerate() {
                    acc = _mm256_fmadd_ps(*v, _mm256_loadu_ps(key.add(8 * c)), acc);
                }
                *sc = hsum(acc) * scale;
                max = max.max(*sc);
            }
            max
        }
    }

    /// Eight registers' lane sums, as one register: lane `a` is the sum of `acc[a]`.
    #[target_feature(enable = "avx2,fma")]
    fn reduce8(acc: &[__m256; 8]) -> __m256 {
        let t0 = _mm256_hadd_ps(acc[0], acc[1]);
        let t1 = _mm256_hadd_ps(acc[2], acc[3]);
        let t2 = _mm256_hadd_ps(acc[4], acc[5]);
        let t3 = _mm256_hadd_ps(acc[6], acc[7]);
        let u0 = _mm256_hadd_ps(t0, t1);
        let u1 = _mm256_hadd_ps(t2, t3);
        _mm256_add_ps(
            _mm256_permute2f128_ps(u0, u1, 0x20),
            _mm256_permute2f128_ps(u0, u1, 0x31),
        )
    }

    /// The largest of a register's 8 lanes.
    #[target_feature(enable = "avx2,fma")]
    fn hmax(v: __m256) -> f32 {
        let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 0b01));
        _mm_cvtss_f32(s)
    }

    /// `exp` of eight lanes, within 2 ulp of `f32::exp` (Cephes' `expf`: `2^n · p(r)` with
    /// `r = x - n·ln 2` split in two parts and a degree-5 polynomial); 0 below -87.3, and
    /// `exp(88.37)` above it.
    #[target_feature(enable = "avx2,fma")]
    pub fn exp(x: __m256) -> __m256 {
        let x = _mm256_min_ps(x, _mm256_set1_ps(88.376_26));
        let small = _mm256_cmp_ps(x, _mm256_set1_ps(-87.336_55), _CMP_LT_OQ);
        let x = _mm256_max_ps(x, _mm256_set1_ps(-87.336_55));
        let n = _mm256_round_ps(
            _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)),
            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC,
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm256_set1_ps(1.987_569_1e-4);
        for c in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            0.166_666_65,
            0.5,
        ] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let p = _mm256_fmadd_ps(
            p,
            _mm256_mul_ps(r, r),
            _mm256_add_ps(r, _mm256_set1_ps(1.0)),
        );
        let pow2 = _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
            23,
        ));
        _mm256_andnot_ps(small, _mm256_mul_ps(p, pow2))
    }

    /// [`super::silu_mul_rows`] eight lanes at a time.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn silu_mul(gate_up: &[f32], n: usize, out: &mut [f32]) {
        let one = _mm256_set1_ps(1.0);
        for (gu, o) in gate_up.chunks_exact(2 * n).zip(out.chunks_exact_mut(n)) {
            let (g, u) = gu.split_at(n);
            let mut i = 0;
            while i + 8 <= n {
                // SAFETY: i + 8 <= n, the length of g, u and o.
                unsafe {
                    let gv = _mm256_loadu_ps(g.as_ptr().add(i));
                    let e = exp(_mm256_sub_ps(_mm256_setzero_ps(), gv));
                    let sv = _mm256_div_ps(gv, _mm256_add_ps(one, e));
                    let y = _mm256_mul_ps(sv, _mm256_loadu_ps(u.as_ptr().add(i)));
                    _mm256_storeu_ps(o.as_mut_ptr().add(i), y);
                }
                i += 8;
            }
            for ((o, &g), &u) in o[i..].iter_mut().zip(&g[i..]).zip(&u[i..]) {
                *o = g / (1.0 + (-g).exp()) * u;
            }
        }
    }

    /// The sum of a register's 8 lanes.
    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0b01));
        _mm_cvtss_f32(s)
    }
}

/// The shape of one attention call: `rows` sequences each adding `t` tokens after `cols`
/// columns of their key/value buffers (which hold `cap` columns per row and head).
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    /// Sequences.
    pub rows: usize,
    /// New tokens per sequence.
    pub t: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (query head `h` reads key/value head `h / (heads / kv_heads)`).
    pub kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// Columns of the buffers per row and head.
    pub cap: usize,
    /// Columns in use before the new tokens (which are already written after them).
    pub cols: usize,
    /// Each token attends to at most this many tokens (itself included), if set.
    pub window: Option<usize>,
}

/// One row of an attention call: its own key and value buffers, `(kv_heads, cap, head_dim)`
/// with the new tokens' keys and values already at columns `cols..cols + t`, and the sequence
/// it continues.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheRow<'a> {
    /// The row's keys.
    pub k: &'a [f32],
    /// The row's values, laid out as the keys.
    pub v: &'a [f32],
    /// Leading columns that hold nothing.
    pub pad: usize,
    /// The keys and values of the sequence it continues, read in place, before its buffer
    /// columns (empty where the buffers hold the whole row).
    pub base: Base<'a>,
}

/// The keys and values a row continues from, where they are: head `h`'s `len` rows of
/// `head_dim` values start at `h · head_stride` in `k` and in `v`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Base<'a> {
    /// Keys, from head 0's first value.
    pub k: &'a [f32],
    /// Values, laid out as the keys.
    pub v: &'a [f32],
    /// Positions held.
    pub len: usize,
    /// Values from one head's first position to the next head's.
    pub head_stride: usize,
}

/// One (row, query head) of an attention call.
struct AttendJob<'a> {
    shape: AttentionShape,
    /// The row's queries, `(t, heads · head_dim)` from its first token.
    q: &'a [f32],
    /// The keys and values of the sequence the row continues, read in place, `(base_len,
    /// head_dim)` for the head's key/value head (empty where the buffers hold the whole row).
    base_k: &'a [f32],
    base_v: &'a [f32],
    /// The row's key and value buffers for the head's key/value head, `(cap, head_dim)`.
    k: &'a [f32],
    v: &'a [f32],
    /// Leading columns of the row's buffers that hold nothing.
    pad: usize,
    head: usize,
}

impl AttendJob<'_> {
    /// What query `i` sees, as its keys and values: the visible part of the base, then of
    /// the buffers (causal, past the padding, within the window).
    fn visible(&self, i: usize) -> [(&[f32], &[f32]); 2] {
        let (s, d) = (self.shape, self.shape.head_dim);
        let base = self.base_k.len() / d;
        let qc = s.cols + i;
        // Positions count from the row's start: the base, then the buffer's columns from pad.
        let pos = base + qc - self.pad;
        let lo = s.window.map_or(0, |w| (pos + 1).saturating_sub(w));
        let a = lo.min(base) * d..base * d;
        let b = (self.pad + lo.saturating_sub(base)) * d..(qc + 1) * d;
        [
            (&self.base_k[a.clone()], &self.base_v[a]),
            (&self.k[b.clone()], &self.v[b]),
        ]
    }
}

/// Softmax attention of a row's query head over what it sees ([`AttendJob::visible`]); output
/// `(t, head_dim)` into `out` at stride `heads · head_dim`.
fn attend(job: &AttendJob, scores: &mut Vec<f32>, out: &mut [f32]) {
    let s = job.shape;
    let d = s.head_dim;
    let width = s.heads * d;
    let scale = 1.0 / (d as f32).sqrt();
    for i in 0..s.t {
        let q = &job.q[i * width + job.head * d..][..d];
        let seen = job.visible(i);
        scores.clear();
        let mut max = f32::NEG_INFINITY;
        for (keys, _) in seen {
            for kj in keys.chunks_exact(d) {
                let sc = dot(q, kj) * scale;
                max = max.max(sc);
                scores.push(sc);
            }
        }
        let mut sum = 0f32;
        for sc in scores.iter_mut() {
            *sc = (*sc - max).exp();
            sum += *sc;
        }
        let o = &mut out[i * width..i * width + d];
        o.fill(0.0);
        let values = seen.iter().flat_map(|(_, v)| v.chunks_exact(d));
        for (vj, &p) in values.zip(scores.iter()) {
            let p = p / sum;
            for (a, &b) in o.iter_mut().zip(vj) {
                *a += p * b;
            }
        }
    }
}

/// `Σ a·b` in eight lanes (so the compiler can keep them in one vector register).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            lanes[l] += x[l] * y[l];
        }
    }
    let mut sum = lanes.iter().sum::<f32>();
    for (x, y) in ar.iter().zip(br) {
        sum += x * y;
    }
    sum
}

/// Attention of new tokens over a key/value cache.
///
/// `q` is `(rows · t, heads · head_dim)` (RoPE applied); row `r` reads its keys and values
/// from `cache[r]`. Writes `(rows · t, heads · head_dim)` into `out`.
///
/// # Panics
/// Where the buffers do not match `shape`: a caller's bug.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    q: &[f32],
    cache: &[CacheRow],
    shape: AttentionShape,
    out: &mut [f32],
    isa: Isa,
    pool: &dyn Pool,
) {
    let s = shape;
    let (d, width) = (s.head_dim, s.heads * s.head_dim);
    let per_row = s.kv_heads * s.cap * d;
    assert!(
        s.kv_heads > 0 && s.heads.is_multiple_of(s.kv_heads),
        "heads per key/value head"
    );
    assert_eq!(q.len(), s.rows * s.t * width, "queries");
    assert_eq!(out.len(), s.rows * s.t * width, "attention output");
    assert_eq!(cache.len(), s.rows, "rows of the cache");
    assert!(
        cache
            .iter()
            .all(|c| c.k.len() >= per_row && c.v.len() >= per_row),
        "a row's key/value buffers"
    );
    assert!(s.cols + s.t <= s.cap, "cache columns");
    let groups = s.heads / s.kv_heads;
    let avx2_ok = isa.avx2();
    let shared = SharedOut::new(out);
    pool.run(s.rows * s.heads, &|items: Range<usize>| {
        let mut scores = Vec::with_capacity(s.cols + s.t);
        let mut o = vec![0f32; s.t * width];
        for item in items {
            let (r, h) = (item / s.heads, item % s.heads);
            let row = &cache[r];
            let at = (h / groups) * s.cap * d;
            let b = &row.base;
            let from = (h / groups) * b.head_stride;
            let job = AttendJob {
                shape: s,
                q: &q[r * s.t * width..(r + 1) * s.t * width],
                base_k: &b.k[from..from + b.len * d],
                base_v: &b.v[from..from + b.len * d],
                k: &row.k[at..at + s.cap * d],
                v: &row.v[at..at + s.cap * d],
                pad: row.pad,
                head: h,
            };
            match d {
                // SAFETY (each arm): Avx2 where the CPU has it (`Isa::available`, checked once
                // above), and heads of 8 · C values.
                #[cfg(target_arch = "x86_64")]
                32 if avx2_ok => unsafe { avx2::attend::<4>(&job, &mut scores, &mut o) },
                #[cfg(target_arch = "x86_64")]
                64 if avx2_ok => unsafe { avx2::attend::<8>(&job, &mut scores, &mut o) },
                #[cfg(target_arch = "x86_64")]
                128 if avx2_ok => unsafe { avx2::attend::<16>(&job, &mut scores, &mut o) },
                _ => attend(&job, &mut scores, &mut o),
            }
            for i in 0..s.t {
                // SAFETY: row r, token i, head h's columns: this item's elements.
                let dst = unsafe { shared.slice((r * s.t + i) * width + h * d, d) };
                dst.copy_from_slice(&o[i * width..i * width + d]);
            }
        }
    });
}

/// RMS norm of each row of `x` (rows of `alpha.len()` values) into `out`, as candle computes
/// it: `x / sqrt(mean(x²) + eps) · alpha`.
pub fn rms_norm(x: &[f32], alpha: &[f32], eps: f32, out: &mut [f32]) {
    let n = alpha.len();
    for (src, dst) in x.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
        let sum2: f32 = src.iter().map(|v| v * v).sum();
        let m = (sum2 / n as f32 + eps).sqrt();
        for ((d, &s), &a) in dst.iter_mut().zip(src).zip(alpha) {
            *d = s / m * a;
        }
    }
}

/// The cosines and sines RoPE turns token `i` by, `(tokens, inv_freq.len())` each: token `i`
/// at position `pos[i]`, pair `j` at angle `pos[i] · inv_freq[j]`. Computed once per forward
/// pass and shared by every block's queries and keys.
pub fn rope_tables(pos: &[f32], inv_freq: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let angles = pos
        .iter()
        .flat_map(|&p| inv_freq.iter().map(move |&f| p * f));
    angles.map(|a| (a.cos(), a.sin())).unzip()
}

/// RoPE in place on `x`, `(tokens, heads · head_dim)`, by the tables of [`rope_tables`]
/// (`head_dim / 2` values per token):
/// halves (pairs `j, j + d/2`, HF layout) or interleaved (pairs `2j, 2j + 1`).
pub fn rope(
    x: &mut [f32],
    heads: usize,
    head_dim: usize,
    cos: &[f32],
    sin: &[f32],
    interleaved: bool,
) {
    let (d, half) = (head_dim, head_dim / 2);
    for ((tok, cos), sin) in x
        .chunks_exact_mut(heads * d)
        .zip(cos.chunks_exact(half))
        .zip(sin.chunks_exact(half))
    {
        for head in tok.chunks_exact_mut(d) {
            for j in 0..half {
                let (a, b) = if interleaved {
                    (2 * j, 2 * j + 1)
                } else {
                    (j, j + half)
                };
                let (x1, x2) = (head[a], head[b]);
                head[a] = x1 * cos[j] - x2 * sin[j];
                head[b] = x1 * sin[j] + x2 * cos[j];
            }
        }
    }
}

/// The gated MLP's activation: `gate_up` holds per row the gate's `n` values then the up
/// projection's `n`; `out` gets `silu(gate) · up`, `(rows, n)`, rows spread over `pool`.
pub fn silu_mul(gate_up: &[f32], n: usize, out: &mut [f32], pool: &dyn Pool) {
    let rows = out.len() / n;
    assert_eq!(
        gate_up.len(),
        2 * rows * n,
        "gate and up values of {rows} rows"
    );
    let shared = SharedOut::new(out);
    pool.run(rows, &|range: Range<usize>| {
        // SAFETY: the rows of `range` are this item's.
        let out = unsafe { shared.slice(range.start * n, range.len() * n) };
        silu_mul_rows(&gate_up[range.start * 2 * n..range.end * 2 * n], n, out);
    });
}

fn silu_mul_rows(gate_up: &[f32], n: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if Isa::Avx2.available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { avx2::silu_mul(gate_up, n, out) };
        return;
    }
    for (gu, o) in gate_up.chunks_exact(2 * n).zip(out.chunks_exact_mut(n)) {
        let (g, u) = gu.split_at(n);
        for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
            *o = g / (1.0 + (-g).exp()) * u;
        }
    }
}

/// Writes one row's new keys or values, `(t, kv_heads · head_dim)`, into its buffer
/// `(kv_heads, cap, head_dim)` at columns `cols..cols + t`.
///
/// # Panics
/// Where they do not fit: a caller's bug.
pub fn write_columns(src: &[f32], buf: &mut [f32], kv_heads: usize, head_dim: usize, cols: usize) {
    let d = head_dim;
    let t = src.len() / (kv_heads * d);
    let cap = buf.len() / (kv_heads * d);
    assert!(
        src.len() == t * kv_heads * d && cols + t <= cap,
        "{} new values past column {cols} of a buffer of {cap}",
        src.len()
    );
    for (i, token) in src.chunks_exact(kv_heads * d).enumerate() {
        for (h, head) in token.chunks_exact(d).enumerate() {
            let at = (h * cap + cols + i) * d;
            buf[at..at + d].copy_from_slice(head);
        }
    }
}

/// `x += y`, element by element.
pub fn add_in_place(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
