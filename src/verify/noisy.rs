//! A dial for verifier quality: `noisy-oracle:Q[,blind=CLASS][,seed=S]`, a **synthetic** PRM
//! built from the toy task's exact step labels with noise calibrated so that its
//! within-problem AUC is Q, and optional blind spots that make it exploitable the way real PRMs
//! are. It reads the reference answer (as the oracle does); it is a tool for asking "how good
//! must a verifier be before beam search beats best-of-N?", not a verifier to deploy.
//!
//! **Noise model.** Each step gets a latent score `z = μ·label + ε`, where `label` is 1 while
//! the solution is still right after the step (as the verifier perceives it, see blind spots)
//! and 0 after the first error — except the answer line (`\boxed{...}`), labelled 1 exactly
//! when it holds the right answer (a slip that cancels out is not held against it), `ε ~ N(0, 1)`, and the score is the logistic `1 / (1 + e^-z)`.
//! `ε` is drawn from a hash of (seed, problem id, the steps up to this one), so one partial
//! solution always gets one score, however often and in whatever batch it is asked about.
//!
//! **Calibration.** A right solution's answer line has label 1 and a wrong one's label 0, so
//! the probability that a right solution outscores a wrong one (by the last step's score) is
//! `P(μ + ε₁ > ε₂) = Φ(μ / √2)`: the analytic gap `μ = √2 · Φ⁻¹(Q)` gives a within-problem AUC
//! of Q in expectation over the noise (the logistic is monotone, so it does not change the
//! AUC). One noise realisation on a finite split scatters around that, and far: identical
//! samples share their noise, and samples that stop without an answer after right steps look
//! right; on the evaluation split the analytic gap realised 0.549 / 0.647 / 0.762 / 0.891 for
//! Q = 0.6 / 0.7 / 0.8 / 0.9. So Q is calibrated empirically: [`CALIBRATION`] holds, for a grid
//! of Q, the gap at which the default noise (seed 0) realises exactly Q on the toy policy's
//! samples of the evaluation split (500 problems x 16 samples, temperature 1, seed 0), found by
//! bisection (`examples/calibrate_noisy.rs`; the realised AUC never falls as μ grows); between
//! grid points μ is interpolated linearly. `thinkscale evaluate --verifiers noisy-oracle:Q`
//! reports the realised AUC, and a test checks it lands within 0.02 of Q for Q = 0.6, 0.7, 0.8
//! and 0.9. Other noise seeds, temperatures, policies or datasets realise values around Q, not
//! Q; a blind spot lowers it (its class of wrong steps looks right).
//!
//! **Blind spots** (`blind=CLASS`): wrong steps of a class the verifier does not check. It
//! scores such a step like a right one and then believes it, judging later steps against the
//! value the wrong step implies (so a consistent continuation of the error, boxed answer
//! included, looks right too):
//! - `last-digit`: an annotation `a op b=c` whose result is wrong but ends in the right digit
//!   (`7*12=94` for 84);
//! - `subtraction`: any wrong subtraction (`84-5=78`).

use super::{StepText, Verifier};
use crate::data::{toy, Problem};
use crate::engine::ComputeMeter;
use serde::{Deserialize, Serialize};

/// The calibration (Q, μ): the gap at which the default noise (seed 0) realises a
/// within-problem AUC of Q on the toy policy's samples of the evaluation split (500 problems x
/// 16 samples at temperature 1, seed 0; last-step scores), found by bisection with
/// `cargo run --release --example calibrate_noisy` (see the module docs). The analytic gap
/// `√2·Φ⁻¹(Q)` realises 0.549, 0.647, 0.762, 0.891 there for Q = 0.6, 0.7, 0.8, 0.9.
pub const CALIBRATION: [(f64, f64); 9] = [
    (0.55, 0.3748),
    (0.60, 0.5320),
    (0.65, 0.7458),
    (0.70, 0.9720),
    (0.75, 1.1644),
    (0.80, 1.3083),
    (0.85, 1.5676),
    (0.90, 1.8405),
    (0.95, 2.3612),
];

/// A class of wrong steps a noisy oracle does not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlindSpot {
    /// A wrong result with the right last digit.
    LastDigit,
    /// A wrong subtraction.
    Subtraction,
}

impl BlindSpot {
    /// The name `blind=` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LastDigit => "last-digit",
            Self::Subtraction => "subtraction",
        }
    }
}

/// The parameters of a noisy oracle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoisySpec {
    /// The within-problem AUC it is calibrated to, in (0.5, 1).
    pub q: f64,
    /// The class of wrong steps it does not see.
    #[serde(default)]
    pub blind: Option<BlindSpot>,
    /// Seed of its noise.
    #[serde(default)]
    pub seed: u64,
}

impl Eq for NoisySpec {}

impl NoisySpec {
    /// Parses `Q[,blind=CLASS][,seed=S]` (what follows `noisy-oracle:`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split(',');
        let q: f64 = parts
            .next()
            .unwrap_or("")
            .trim()
            .parse()
            .map_err(|_| format!("noisy-oracle:{s}: Q must be a number in (0.5, 1)"))?;
        if !(q > 0.5 && q < 1.0) {
            return Err(format!("noisy-oracle:{s}: Q = {q} is not in (0.5, 1)"));
        }
        let mut spec = Self {
            q,
            blind: None,
            seed: 0,
        };
        for part in parts {
            match part.trim().split_once('=') {
                Some(("blind", "last-digit")) => spec.blind = Some(BlindSpot::LastDigit),
                Some(("blind", "subtraction")) => spec.blind = Some(BlindSpot::Subtraction),
                Some(("blind", other)) => {
                    return Err(format!(
                        "noisy-oracle: unknown blind spot '{other}': last-digit or subtraction"
                    ))
                }
                Some(("seed", v)) => {
                    spec.seed = v
                        .parse()
                        .map_err(|_| format!("noisy-oracle: seed '{v}' is not a number"))?
                }
                _ => {
                    return Err(format!(
                        "noisy-oracle: unknown option '{part}': blind=CLASS or seed=S"
                    ))
                }
            }
        }
        Ok(spec)
    }

    /// The mean gap μ between right and wrong latent scores that gives a within-problem AUC of
    /// Q in expectation over the noise: `√2 · Φ⁻¹(Q)`.
    pub fn analytic_mu(&self) -> f64 {
        std::f64::consts::SQRT_2 * inverse_normal_cdf(self.q)
    }

    /// The gap μ this oracle uses: [`CALIBRATION`] interpolated linearly in Q, and outside
    /// its grid the analytic gap shifted by the nearest end's calibration offset.
    pub fn mu(&self) -> f64 {
        let analytic = |q: f64| std::f64::consts::SQRT_2 * inverse_normal_cdf(q);
        let (first, last) = (CALIBRATION[0], CALIBRATION[CALIBRATION.len() - 1]);
        if self.q <= first.0 {
            return self.analytic_mu() + first.1 - analytic(first.0);
        }
        if self.q >= last.0 {
            return self.analytic_mu() + last.1 - analytic(last.0);
        }
        for w in CALIBRATION.windows(2) {
            let ((q0, m0), (q1, m1)) = (w[0], w[1]);
            if self.q <= q1 {
                return m0 + (self.q - q0) / (q1 - q0) * (m1 - m0);
            }
        }
        self.analytic_mu()
    }
}

impl std::fmt::Display for NoisySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "noisy-oracle:{}", self.q)?;
        if let Some(b) = self.blind {
            write!(f, ",blind={}", b.as_str())?;
        }
        if self.seed != 0 {
            write!(f, ",seed={}", self.seed)?;
        }
        Ok(())
    }
}

/// The standard normal CDF (Abramowitz and Stegun 7.1.26 through erf; error below 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The inverse of [`normal_cdf`] on (0, 1), by bisection (to 1e-12).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0f64, 10.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// A splitmix64 step.
fn mix(mut h: u64) -> u64 {
    h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A standard normal draw from a 64-bit key (Box–Muller on two derived uniforms).
fn normal_of(key: u64) -> f64 {
    let a = mix(key);
    let b = mix(a);
    let u1 = ((a >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = (b >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// FNV-1a of a text, continuing `h`.
fn fnv(mut h: u64, text: &str) -> u64 {
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether `line` is a wrong step of `class`; returns the value the wrong step implies (what a
/// fooled verifier then expects).
fn blind_step(line: &str, class: BlindSpot) -> Option<i64> {
    let (annotation, expr) = line.trim().split_once(": ")?;
    let (lhs, rhs) = annotation.split_once('=')?;
    let (l, r) = (toy::evaluate(lhs)?, toy::evaluate(rhs)?);
    if l == r {
        return None;
    }
    let seen = match class {
        BlindSpot::LastDigit => l.rem_euclid(10) == r.rem_euclid(10),
        BlindSpot::Subtraction => lhs.contains('-') && !lhs.contains(['+', '*']),
    };
    let implied = toy::evaluate(expr)?;
    seen.then_some(implied)
}

/// The labels a noisy oracle perceives: 1 while the solution is right (or wrong only in its
/// blind spot, which it then believes), 0 from the first error it sees. The answer line
/// (`\\boxed{...}`) is labelled by the answer alone: 1 when it holds the value the oracle
/// expects, whatever the steps before it.
pub fn perceived_labels(steps: &[String], target: i64, blind: Option<BlindSpot>) -> Vec<bool> {
    let mut expected = target;
    let mut ok = true;
    steps
        .iter()
        .map(|s| {
            if s.trim_start().starts_with("\\boxed") {
                return toy::step_ok(s, expected);
            }
            if ok && !toy::step_ok(s, expected) {
                match blind.and_then(|b| blind_step(s, b)) {
                    Some(v) => expected = v,
                    None => ok = false,
                }
            }
            ok
        })
        .collect()
}

/// The noisy oracle; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct NoisyOracle {
    spec: NoisySpec,
    mu: f64,
}

impl NoisyOracle {
    /// A noisy oracle with these parameters.
    pub fn new(spec: NoisySpec) -> Self {
        Self {
            spec,
            mu: spec.mu(),
        }
    }

    /// A noisy oracle with an explicit gap μ (what its calibration searches over).
    pub fn with_mu(spec: NoisySpec, mu: f64) -> Self {
        Self { spec, mu }
    }
}

impl Verifier for NoisyOracle {
    fn name(&self) -> String {
        format!("{} (synthetic)", self.spec)
    }

    /// It keeps nothing between calls: a copy scores what it scores.
    fn detach(&self) -> Option<Box<dyn Verifier + Send>> {
        Some(Box::new(*self))
    }

    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        _: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let target = super::toy_target(problem, "the noisy oracle")?;
        let base = fnv(
            fnv(0xcbf2_9ce4_8422_2325 ^ self.spec.seed, &problem.id),
            "\u{0}",
        );
        Ok(solutions
            .iter()
            .map(|steps| {
                let texts: Vec<String> = steps.iter().map(|s| s.text.clone()).collect();
                let labels = perceived_labels(&texts, target, self.spec.blind);
                let mut key = base;
                texts
                    .iter()
                    .zip(labels)
                    .map(|(t, ok)| {
                        key = fnv(fnv(key, t), "\n");
                        let z = if ok { self.mu } else { 0.0 } + normal_of(key);
                        (1.0 / (1.0 + (-z).exp())) as f32
                    })
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_cdf_and_its_inverse_agree_with_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((inverse_normal_cdf(0.975) - 1.959_964).abs() < 1e-5);
        assert!((inverse_normal_cdf(0.5)).abs() < 1e-9);
        // Q = 0.76 needs a gap of sqrt(2) * 0.7063 = 0.999 in expectation.
        let s = NoisySpec::parse("0.76").unwrap();
        assert!(
            (s.analytic_mu() - 0.9989).abs() < 1e-3,
            "{}",
            s.analytic_mu()
        );
        // The calibrated gap: the grid's own values, linear between, continuous at the ends.
        let mu = |q: &str| NoisySpec::parse(q).unwrap().mu();
        assert_eq!(mu("0.8"), 1.3083);
        assert!((mu("0.825") - (1.3083 + 1.5676) / 2.0).abs() < 1e-12);
        assert!((mu("0.9500001") - 2.3612).abs() < 1e-5);
        assert!((mu("0.5499999") - 0.3748).abs() < 1e-5);
        let grid: Vec<f64> = (501..1000).map(|i| mu(&format!("0.{i:03}"))).collect();
        assert!(grid.windows(2).all(|w| w[1] > w[0]), "the gap grows with Q");
    }

    #[test]
    fn specs_parse_and_print_and_bad_ones_are_named() {
        let s = NoisySpec::parse("0.8,blind=last-digit,seed=3").unwrap();
        assert_eq!(s.blind, Some(BlindSpot::LastDigit));
        assert_eq!(s.seed, 3);
        assert_eq!(s.to_string(), "noisy-oracle:0.8,blind=last-digit,seed=3");
        assert!(NoisySpec::parse("1.2").unwrap_err().contains("(0.5, 1)"));
        assert!(NoisySpec::parse("0.7,blind=sums")
            .unwrap_err()
            .contains("sums"));
        assert!(NoisySpec::parse("0.7,colour=red")
            .unwrap_err()
            .contains("colour"));
    }

    fn steps(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn blind_spots_are_believed_and_everything_else_is_seen() {
        // (3+4)*12-5 = 79. 7*12=94 keeps the last digit: a last-digit-blind oracle believes it
        // and the consistent rest (94-5=89, \boxed{89}).
        let wrong = steps(&[
            "3+4=7: 7*12-5",
            "7*12=94: 94-5",
            "94-5=89: 89",
            "\\boxed{89}",
        ]);
        assert_eq!(
            perceived_labels(&wrong, 79, None),
            vec![true, false, false, false]
        );
        assert_eq!(
            perceived_labels(&wrong, 79, Some(BlindSpot::LastDigit)),
            vec![true; 4]
        );
        assert_eq!(
            perceived_labels(&wrong, 79, Some(BlindSpot::Subtraction)),
            vec![true, false, false, false]
        );
        // A wrong subtraction fools the subtraction-blind oracle only.
        let sub = steps(&[
            "3+4=7: 7*12-5",
            "7*12=84: 84-5",
            "84-5=78: 78",
            "\\boxed{78}",
        ]);
        assert_eq!(
            perceived_labels(&sub, 79, Some(BlindSpot::Subtraction)),
            vec![true; 4]
        );
        assert_eq!(
            perceived_labels(&sub, 79, Some(BlindSpot::LastDigit)),
            vec![true, true, false, false]
        );
        // An error outside the class, after a believed one, is still seen.
        let two = steps(&[
            "3+4=7: 7*12-5",
            "7*12=94: 94-5",
            "94-5=90: 90",
            "\\boxed{90}",
        ]);
        assert_eq!(
            perceived_labels(&two, 79, Some(BlindSpot::LastDigit)),
            vec![true, true, false, false]
        );
    }

    #[test]
    fn scores_are_deterministic_per_prefix_and_separate_right_from_wrong_at_q() {
        let mut v = NoisyOracle::new(NoisySpec::parse("0.8").unwrap());
        let p = toy::problem("t".into(), 3, "(3+4)*12-5".into(), 79);
        let right = steps(&[
            "3+4=7: 7*12-5",
            "7*12=84: 84-5",
            "84-5=79: 79",
            "\\boxed{79}",
        ]);
        let mut m = ComputeMeter::default();
        let a = v.score(&p, &right, &mut m).unwrap();
        let b = v.score(&p, &right[..2], &mut m).unwrap();
        assert_eq!(a[..2], b[..], "a prefix keeps its scores");
        assert_eq!(m, ComputeMeter::default());
        // Over many problems, right and wrong last steps separate with AUC about Q.
        let (mut hits, mut pairs) = (0.0f64, 0.0f64);
        for i in 0..400 {
            let q = toy::problem(format!("p{i}"), 3, "(3+4)*12-5".into(), 79);
            let r = v.score(&q, &right, &mut m).unwrap()[3];
            let w = v
                .score(&q, &steps(&["3+4=8: 8*12-5", "\\boxed{91}"]), &mut m)
                .unwrap()[1];
            pairs += 1.0;
            hits += if r > w { 1.0 } else { 0.0 };
        }
        // Independent pairs realise Q for the analytic gap; the calibrated one is larger.
        let auc = hits / pairs;
        assert!(auc > 0.78 && auc < 0.9, "{auc}");
    }
}
