//! Exact rational numbers on `i128`, for grading: every operation is checked and answers
//! `None` on overflow, so a caller falls back to floating point instead of panicking.

use std::fmt;

/// A reduced fraction `num/den` with `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rational {
    num: i128,
    den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    // Callers pass values whose magnitudes fit (never i128::MIN), so abs cannot overflow.
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Rational {
    /// Zero.
    pub const ZERO: Self = Self { num: 0, den: 1 };
    /// One.
    pub const ONE: Self = Self { num: 1, den: 1 };

    /// `num/den` reduced; `None` when `den` is zero or a magnitude does not fit.
    pub fn new(num: i128, den: i128) -> Option<Self> {
        if den == 0 || num == i128::MIN || den == i128::MIN {
            return None;
        }
        let g = gcd(num, den);
        let (mut num, mut den) = (num / g, den / g);
        if den < 0 {
            num = -num;
            den = -den;
        }
        Some(Self { num, den })
    }

    /// The integer `n`.
    pub fn integer(n: i128) -> Option<Self> {
        Self::new(n, 1)
    }

    /// The numerator (carries the sign).
    pub fn numer(self) -> i128 {
        self.num
    }

    /// The denominator (always positive).
    pub fn denom(self) -> i128 {
        self.den
    }

    /// Whether the denominator is 1.
    pub fn is_integer(self) -> bool {
        self.den == 1
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// `self + other`.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        let g = gcd(self.den, other.den);
        let lhs = self.num.checked_mul(other.den / g)?;
        let rhs = other.num.checked_mul(self.den / g)?;
        Self::new(
            lhs.checked_add(rhs)?,
            (self.den / g).checked_mul(other.den)?,
        )
    }

    /// `self - other`.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.checked_add(-other)
    }

    /// `self * other`.
    pub fn checked_mul(self, other: Self) -> Option<Self> {
        let g1 = gcd(self.num, other.den).max(1);
        let g2 = gcd(other.num, self.den).max(1);
        Self::new(
            (self.num / g1).checked_mul(other.num / g2)?,
            (self.den / g2).checked_mul(other.den / g1)?,
        )
    }

    /// `1 / self`; `None` for zero.
    pub fn recip(self) -> Option<Self> {
        Self::new(self.den, self.num)
    }

    /// `self / other`; `None` when `other` is zero.
    pub fn checked_div(self, other: Self) -> Option<Self> {
        self.checked_mul(other.recip()?)
    }

    /// `self` to an integer power (negative powers invert); `None` on overflow or `0^-k`.
    pub fn pow(self, exponent: i128) -> Option<Self> {
        let e = u32::try_from(exponent.unsigned_abs()).ok()?;
        let raised = Self::new(self.num.checked_pow(e)?, self.den.checked_pow(e)?)?;
        if exponent < 0 {
            raised.recip()
        } else {
            Some(raised)
        }
    }

    /// The exact `n`-th root when there is a rational one: `root(4/9, 2)` = `2/3`. Even roots
    /// of negative numbers have none.
    pub fn root(self, n: i128) -> Option<Self> {
        let n = u32::try_from(n).ok().filter(|&n| n >= 1)?;
        if self.num < 0 && n % 2 == 0 {
            return None;
        }
        let num = integer_root(self.num.unsigned_abs(), n)?;
        let den = integer_root(self.den.unsigned_abs(), n)?;
        let num = i128::try_from(num).ok()?;
        let den = i128::try_from(den).ok()?;
        Self::new(if self.num < 0 { -num } else { num }, den)
    }

    /// The largest integer not above `self`.
    pub fn floor(self) -> Self {
        Self {
            num: self.num.div_euclid(self.den),
            den: 1,
        }
    }

    /// The smallest integer not below `self`.
    pub fn ceil(self) -> Self {
        let floor = self.num.div_euclid(self.den);
        let up = if self.num.rem_euclid(self.den) == 0 {
            floor
        } else {
            floor + 1
        };
        Self { num: up, den: 1 }
    }

    /// `|self|`.
    pub fn abs(self) -> Self {
        Self {
            num: self.num.abs(),
            den: self.den,
        }
    }
}

/// The exact integer `n`-th root of `x`, if `x` is a perfect `n`-th power.
fn integer_root(x: u128, n: u32) -> Option<u128> {
    if x <= 1 || n == 1 {
        return Some(x);
    }
    if n >= 128 {
        // 2^128 overflows u128, so only 0 and 1 (handled above) have roots this high.
        return None;
    }
    // A floating estimate, then an exact check of its neighbours.
    let guess = (x as f64).powf(1.0 / f64::from(n)).round() as u128;
    (guess.saturating_sub(1)..=guess.saturating_add(1)).find(|r| r.checked_pow(n) == Some(x))
}

impl std::ops::Neg for Rational {
    type Output = Self;

    fn neg(self) -> Self {
        // `num` is never i128::MIN (see `new`), so this negation fits.
        Self {
            num: -self.num,
            den: self.den,
        }
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i128, d: i128) -> Rational {
        Rational::new(n, d).unwrap()
    }

    #[test]
    fn arithmetic_is_exact_and_reduced() {
        assert_eq!(r(2, 4), r(1, 2));
        assert_eq!(r(1, -2), r(-1, 2));
        assert_eq!(r(1, 3).checked_add(r(1, 6)), Some(r(1, 2)));
        assert_eq!(r(1, 3).checked_sub(r(1, 3)), Some(Rational::ZERO));
        assert_eq!(r(2, 3).checked_mul(r(3, 4)), Some(r(1, 2)));
        assert_eq!(r(1, 2).checked_div(Rational::ZERO), None);
        assert_eq!(r(2, 3).pow(-2), Some(r(9, 4)));
        assert_eq!(Rational::ZERO.pow(-1), None);
        assert_eq!(r(4, 9).root(2), Some(r(2, 3)));
        assert_eq!(r(-8, 27).root(3), Some(r(-2, 3)));
        assert_eq!(r(-4, 1).root(2), None);
        assert_eq!(r(2, 1).root(2), None);
        assert_eq!(r(-7, 2).floor(), r(-4, 1));
        assert_eq!(r(-7, 2).ceil(), r(-3, 1));
        assert_eq!(r(1, 3).to_string(), "1/3");
    }

    #[test]
    fn overflow_is_none_not_a_panic() {
        let big = Rational::integer(i128::MAX).unwrap();
        assert_eq!(big.checked_add(Rational::ONE), None);
        assert_eq!(big.checked_mul(big), None);
        assert_eq!(r(10, 1).pow(39), None);
        assert_eq!(r(2, 1).pow(i128::MAX), None);
        assert_eq!(Rational::new(i128::MIN, 1), None);
        assert_eq!(Rational::integer(i128::MAX).unwrap().root(200), None);
        assert_eq!(Rational::ONE.root(i128::MAX), None);
        assert_eq!((-big).checked_sub(big), None);
    }
}
