//! Scalar expressions: a recursive-descent parser for the LaTeX and ASCII math of final
//! answers, exact evaluation to rationals, and numeric evaluation at test points.
//!
//! The grammar, loosest binding first:
//!
//! ```text
//! expr    = term (('+' | '-') term)*
//! term    = unary (('*' | '/' | \cdot | \times | \div | implicit) unary)*
//! unary   = ('-' | '+') unary | power
//! power   = postfix ('^' exponent)?          exponent: {..}, a digit run, a letter, a command
//! postfix = primary '!'*
//! primary = number | variable | (..) | [..] | {..} | |..| | \frac A B | \sqrt[n] A | \binom A B
//!         | \pi | \infty | \greek | \sin A | \log_b A | \ln A | \lfloor..\rfloor | \lceil..\rceil
//! ```
//!
//! An unbraced argument of `\frac`, `\sqrt` and `\binom` is one character or one command, as in
//! LaTeX (`\frac12` = `\frac{1}{2}`), but an unbraced exponent is a whole digit run, as people
//! type it (`2^10` = 1024). An integer followed by `\frac` of two integers is a mixed number
//! (`2\frac{1}{2}` = 5/2); any other juxtaposition is a product (`2\sqrt{2}`, `2x`, `(x+1)(x-1)`).
//! A function's unbracketed argument runs over the factors juxtaposed to it: `\sin 2x` is
//! `\sin(2x)`, but `\sin x \cos x` is `(\sin x)(\cos x)`.
//!
//! Work is bounded: nesting deeper than [`MAX_DEPTH`] does not parse, sums and products are
//! flat lists (so `1+1+...+1` is one level deep, not thousands), exact arithmetic is checked
//! `i128` that gives up on overflow, and factorials and binomials stop at small arguments.

use super::rational::Rational;

/// Deepest nesting of groups, signs and exponents the parser accepts.
pub const MAX_DEPTH: usize = 48;
/// Number of test points at which expressions with variables are compared.
pub const POINTS: usize = 10;
/// Largest `n` whose factorial is evaluated (170! is the last finite `f64`).
const MAX_FACTORIAL: u32 = 170;
/// Largest `min(k, n-k)` for which `\binom{n}{k}` is evaluated.
const MAX_BINOM_STEPS: u32 = 1000;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A numeric literal.
    Number(Number),
    /// A variable: a letter with an optional subscript (`x`, `a_1`) or a Greek command.
    Var(String),
    /// `\pi`.
    Pi,
    /// `\infty`.
    Infinity,
    /// A sum of terms (subtraction is a negated term).
    Sum(Vec<Expr>),
    /// `-x`.
    Neg(Box<Expr>),
    /// A product of factors, each multiplied or divided.
    Product(Vec<Factor>),
    /// `base^exponent`.
    Pow(Box<Expr>, Box<Expr>),
    /// `\sqrt[index]{radicand}`.
    Root(Box<Expr>, Box<Expr>),
    /// `\log_base arg`.
    Log(Box<Expr>, Box<Expr>),
    /// `\binom{n}{k}`.
    Binom(Box<Expr>, Box<Expr>),
    /// A function of one argument.
    Apply(Func, Box<Expr>),
}

/// One factor of a [`Expr::Product`].
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// The factor.
    pub expr: Expr,
    /// Whether it divides instead of multiplies.
    pub divide: bool,
}

/// A numeric literal: its exact value when it fits, and its nearest `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    /// The exact value; `None` when it does not fit in an `i128` fraction.
    pub exact: Option<Rational>,
    /// The value as a float.
    pub value: f64,
    /// Whether it was written as a plain integer (no point, exponent or repetend).
    pub integer_literal: bool,
}

/// Functions of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `\sin`
    Sin,
    /// `\cos`
    Cos,
    /// `\tan`
    Tan,
    /// `\sec`
    Sec,
    /// `\csc`
    Csc,
    /// `\cot`
    Cot,
    /// `\arcsin`
    Asin,
    /// `\arccos`
    Acos,
    /// `\arctan`
    Atan,
    /// `\ln` and `\log` without a base.
    Ln,
    /// `\exp`
    Exp,
    /// `|x|`
    Abs,
    /// `\lfloor x \rfloor`
    Floor,
    /// `\lceil x \rceil`
    Ceil,
    /// `n!`
    Factorial,
}

const GREEK: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Sigma",
    "Upsilon",
    "Phi",
    "Psi",
    "Omega",
];

fn function(name: &str) -> Option<Func> {
    Some(match name {
        "sin" => Func::Sin,
        "cos" => Func::Cos,
        "tan" => Func::Tan,
        "sec" => Func::Sec,
        "csc" => Func::Csc,
        "cot" => Func::Cot,
        "arcsin" => Func::Asin,
        "arccos" => Func::Acos,
        "arctan" => Func::Atan,
        "ln" => Func::Ln,
        "exp" => Func::Exp,
        _ => return None,
    })
}

/// Parses a whole expression; `None` if any of it is not understood or it nests too deeply.
pub fn parse(text: &str) -> Option<Expr> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    p.skip_ws();
    (p.pos == p.chars.len()).then_some(e)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The name of the command at the cursor (`\frac` → `frac`, `\{` → `{`), without moving.
    fn command_at(&self, at: usize) -> Option<(String, usize)> {
        if self.chars.get(at) != Some(&'\\') {
            return None;
        }
        let first = *self.chars.get(at + 1)?;
        if !first.is_ascii_alphabetic() {
            return Some((first.to_string(), 2));
        }
        let name: String = self
            .chars
            .get(at + 1..)?
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let len = name.len() + 1;
        Some((name, len))
    }

    /// Consumes the command `name` if it is next.
    fn eat_command(&mut self, name: &str) -> bool {
        self.skip_ws();
        match self.command_at(self.pos) {
            Some((n, len)) if n == name => {
                self.pos += len;
                true
            }
            _ => false,
        }
    }

    /// Counts one more level of nesting; `None` past [`MAX_DEPTH`].
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        self.enter()?;
        let out = f(self);
        self.leave();
        out
    }

    fn expr(&mut self) -> Option<Expr> {
        self.nested(|p| {
            let mut terms = vec![p.term()?];
            loop {
                if p.eat('+') {
                    terms.push(p.term()?);
                } else if p.eat('-') {
                    terms.push(Expr::Neg(Box::new(p.term()?)));
                } else {
                    break;
                }
            }
            Some(if terms.len() == 1 {
                terms.pop()?
            } else {
                Expr::Sum(terms)
            })
        })
    }

    fn term(&mut self) -> Option<Expr> {
        let mut factors = vec![Factor {
            expr: self.unary()?,
            divide: false,
        }];
        loop {
            let divide = if self.eat('*')
                || self.eat_command("cdot")
                || self.eat_command("times")
                || self.eat_command("ast")
            {
                false
            } else if self.eat('/') || self.eat_command("div") {
                true
            } else if self.implicit_factor_follows(factors.last().map(|f| &f.expr)) {
                factors.push(Factor {
                    expr: self.power()?,
                    divide: false,
                });
                continue;
            } else {
                break;
            };
            factors.push(Factor {
                expr: self.unary()?,
                divide,
            });
        }
        Some(if factors.len() == 1 {
            factors.pop()?.expr
        } else {
            Expr::Product(factors)
        })
    }

    /// Whether the next token starts a factor multiplied by juxtaposition. A number right
    /// after a number is not one (`2 3` is not 6).
    fn implicit_factor_follows(&mut self, previous: Option<&Expr>) -> bool {
        self.skip_ws();
        match self.peek() {
            Some(c) if c.is_ascii_digit() || c == '.' => !matches!(previous, Some(Expr::Number(_))),
            Some(c) if c.is_ascii_alphabetic() => true,
            Some('(' | '[' | '{') => true,
            Some('\\') => self
                .command_at(self.pos)
                .is_some_and(|(name, _)| starts_primary(&name)),
            _ => false,
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        if self.eat('-') {
            return self.nested(|p| Some(Expr::Neg(Box::new(p.unary()?))));
        }
        if self.eat('+') {
            return self.nested(Self::unary);
        }
        self.power()
    }

    fn power(&mut self) -> Option<Expr> {
        let base = self.postfix()?;
        if self.eat('^') {
            let exponent = self.nested(Self::exponent)?;
            return Some(Expr::Pow(Box::new(base), Box::new(exponent)));
        }
        Some(base)
    }

    /// The exponent after `^`: a group, a signed exponent, a digit run, a letter or a command;
    /// `a^b^c` is `a^(b^c)`.
    fn exponent(&mut self) -> Option<Expr> {
        self.skip_ws();
        let atom = match self.peek()? {
            '-' => {
                self.pos += 1;
                Expr::Neg(Box::new(self.nested(Self::exponent)?))
            }
            '+' => {
                self.pos += 1;
                self.nested(Self::exponent)?
            }
            c if c.is_ascii_digit() || c == '.' => Expr::Number(self.number()?),
            _ => self.postfix()?,
        };
        if self.eat('^') {
            let rest = self.nested(Self::exponent)?;
            return Some(Expr::Pow(Box::new(atom), Box::new(rest)));
        }
        Some(atom)
    }

    fn postfix(&mut self) -> Option<Expr> {
        let mut e = self.primary()?;
        while self.eat('!') {
            e = Expr::Apply(Func::Factorial, Box::new(e));
        }
        Some(e)
    }

    fn primary(&mut self) -> Option<Expr> {
        self.skip_ws();
        match self.peek()? {
            c if c.is_ascii_digit() || c == '.' => self.number_or_mixed(),
            '(' => self.group('(', ')'),
            '[' => self.group('[', ']'),
            '{' => self.group('{', '}'),
            '|' => {
                self.pos += 1;
                let inner = self.expr()?;
                self.eat('|')
                    .then(|| Expr::Apply(Func::Abs, Box::new(inner)))
            }
            c if c.is_ascii_alphabetic() => self.variable(),
            '\\' => self.command(),
            _ => None,
        }
    }

    fn group(&mut self, open: char, close: char) -> Option<Expr> {
        if !self.eat(open) {
            return None;
        }
        let inner = self.expr()?;
        self.eat(close).then_some(inner)
    }

    fn variable(&mut self) -> Option<Expr> {
        let mut name = self.peek()?.to_string();
        self.pos += 1;
        name.push_str(&self.subscript()?);
        Some(Expr::Var(name))
    }

    /// An optional subscript of a variable name: `_1`, `_{12}`; empty when there is none.
    fn subscript(&mut self) -> Option<String> {
        if self.peek() != Some('_') {
            return Some(String::new());
        }
        self.pos += 1;
        let mut sub = String::from("_");
        match self.peek()? {
            '{' => {
                self.pos += 1;
                while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric()) {
                    sub.push(c);
                    self.pos += 1;
                }
                if self.peek() != Some('}') {
                    return None;
                }
                self.pos += 1;
            }
            c if c.is_ascii_alphanumeric() => {
                sub.push(c);
                self.pos += 1;
            }
            _ => return None,
        }
        Some(sub)
    }

    fn command(&mut self) -> Option<Expr> {
        let (name, len) = self.command_at(self.pos)?;
        self.pos += len;
        match name.as_str() {
            "frac" => {
                let num = self.argument()?;
                let den = self.argument()?;
                Some(fraction(num, den))
            }
            "sqrt" => {
                let index = if self.eat('[') {
                    let index = self.expr()?;
                    if !self.eat(']') {
                        return None;
                    }
                    index
                } else {
                    Expr::Number(integer(2))
                };
                let radicand = self.argument()?;
                Some(Expr::Root(Box::new(index), Box::new(radicand)))
            }
            "binom" => {
                let n = self.argument()?;
                let k = self.argument()?;
                Some(Expr::Binom(Box::new(n), Box::new(k)))
            }
            "pi" => Some(Expr::Pi),
            "infty" => Some(Expr::Infinity),
            "log" => {
                let base = if self.eat('_') {
                    Some(self.argument()?)
                } else {
                    None
                };
                let arg = self.function_argument()?;
                Some(match base {
                    Some(base) => Expr::Log(Box::new(base), Box::new(arg)),
                    None => Expr::Apply(Func::Ln, Box::new(arg)),
                })
            }
            "lfloor" => self.closed_by("rfloor", Func::Floor),
            "lceil" => self.closed_by("rceil", Func::Ceil),
            "lvert" => self.closed_by("rvert", Func::Abs),
            other => {
                if let Some(f) = function(other) {
                    // `\sin^2 x` is `(\sin x)^2`.
                    let power = if self.eat('^') {
                        Some(self.nested(Self::exponent)?)
                    } else {
                        None
                    };
                    let applied = Expr::Apply(f, Box::new(self.function_argument()?));
                    Some(match power {
                        Some(p) => Expr::Pow(Box::new(applied), Box::new(p)),
                        None => applied,
                    })
                } else if GREEK.contains(&other) {
                    Some(Expr::Var(format!("\\{other}")))
                } else {
                    None
                }
            }
        }
    }

    fn closed_by(&mut self, close: &str, f: Func) -> Option<Expr> {
        let inner = self.expr()?;
        self.eat_command(close)
            .then(|| Expr::Apply(f, Box::new(inner)))
    }

    /// A LaTeX argument: a braced group, or else one character or one command.
    fn argument(&mut self) -> Option<Expr> {
        self.skip_ws();
        self.nested(|p| match p.peek()? {
            '{' => p.group('{', '}'),
            c if c.is_ascii_digit() => {
                p.pos += 1;
                Some(Expr::Number(integer(i128::from(c.to_digit(10)?))))
            }
            c if c.is_ascii_alphabetic() => {
                p.pos += 1;
                Some(Expr::Var(c.to_string()))
            }
            '\\' => p.command(),
            _ => None,
        })
    }

    /// The argument of `\sin` and friends: a signed factor and the factors juxtaposed to it,
    /// up to the next operator or function, as mathematicians write it: `\sin 2x` is
    /// `\sin(2x)`, `\sin x \cos x` is `(\sin x)(\cos x)`, `\sin x + 1` is `(\sin x) + 1`.
    fn function_argument(&mut self) -> Option<Expr> {
        self.nested(|p| {
            let mut factors = vec![Factor {
                expr: p.unary()?,
                divide: false,
            }];
            while !p.function_follows()
                && p.implicit_factor_follows(factors.last().map(|f| &f.expr))
            {
                factors.push(Factor {
                    expr: p.power()?,
                    divide: false,
                });
            }
            Some(if factors.len() == 1 {
                factors.pop()?.expr
            } else {
                Expr::Product(factors)
            })
        })
    }

    /// Whether a function command (`\sin`, `\log`...) is next.
    fn function_follows(&mut self) -> bool {
        self.skip_ws();
        self.command_at(self.pos)
            .is_some_and(|(name, _)| name == "log" || function(&name).is_some())
    }

    fn number_or_mixed(&mut self) -> Option<Expr> {
        let n = self.number()?;
        if !n.integer_literal {
            return Some(Expr::Number(n));
        }
        let save = self.pos;
        if self.eat_command("frac") {
            let num = self.argument()?;
            let den = self.argument()?;
            let whole_and_part = match (n.exact, &num, &den) {
                (Some(whole), Expr::Number(a), Expr::Number(b))
                    if a.integer_literal && b.integer_literal =>
                {
                    mixed(whole, a, b)
                }
                _ => None,
            };
            return Some(match whole_and_part {
                Some(m) => Expr::Number(m),
                None => product(Expr::Number(n), fraction(num, den)),
            });
        }
        self.pos = save;
        Some(Expr::Number(n))
    }

    /// A numeric literal: digits, an optional fraction part with an optional repetend
    /// (`0.\overline{3}`), and an optional exponent (`1.5e-3`).
    fn number(&mut self) -> Option<Number> {
        let mut int = String::new();
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            int.push(c);
            self.pos += 1;
        }
        let mut frac = String::new();
        let mut repetend = String::new();
        let mut has_point = false;
        if self.peek() == Some('.') && self.peek_at(1).is_none_or(|c| c != '.') {
            has_point = true;
            self.pos += 1;
            while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                frac.push(c);
                self.pos += 1;
            }
            let save = self.pos;
            if self.eat_command("overline") && self.eat('{') {
                while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                    repetend.push(c);
                    self.pos += 1;
                }
                if repetend.is_empty() || !self.eat('}') {
                    repetend.clear();
                    self.pos = save;
                }
            } else {
                self.pos = save;
            }
        }
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let exponent = self.scientific_exponent();
        let exact = exact_decimal(&int, &frac, &repetend, exponent.unwrap_or(0));
        let value = exact.map(Rational::to_f64).unwrap_or_else(|| {
            let repeated = repetend.repeat(40usize.div_ceil(repetend.len().max(1)));
            let text = format!(
                "{}.{frac}{repeated}0e{}",
                if int.is_empty() { "0" } else { &int },
                exponent.unwrap_or(0)
            );
            text.parse().unwrap_or(f64::NAN)
        });
        Some(Number {
            exact,
            value,
            integer_literal: !has_point && exponent.is_none(),
        })
    }

    /// `e5`, `E-3` right after a number: its value, consumed; otherwise nothing moves.
    fn scientific_exponent(&mut self) -> Option<i64> {
        if !matches!(self.peek(), Some('e' | 'E')) {
            return None;
        }
        let mut at = 1;
        let negative = match self.peek_at(1) {
            Some('-') => {
                at = 2;
                true
            }
            Some('+') => {
                at = 2;
                false
            }
            _ => false,
        };
        if !self.peek_at(at).is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        self.pos += at;
        let mut digits = String::new();
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            digits.push(c);
            self.pos += 1;
        }
        // Absurd exponents saturate; the value is then 0 or infinite, never a hang.
        let magnitude: i64 = digits.parse().unwrap_or(i64::MAX / 2);
        Some(if negative { -magnitude } else { magnitude })
    }
}

/// Whether the command `name` can start a primary (and so be an implicit factor).
fn starts_primary(name: &str) -> bool {
    matches!(
        name,
        "frac" | "sqrt" | "binom" | "pi" | "infty" | "log" | "lfloor" | "lceil" | "lvert"
    ) || function(name).is_some()
        || GREEK.contains(&name)
}

fn integer(n: i128) -> Number {
    Number {
        exact: Rational::integer(n),
        value: n as f64,
        integer_literal: true,
    }
}

fn fraction(num: Expr, den: Expr) -> Expr {
    Expr::Product(vec![
        Factor {
            expr: num,
            divide: false,
        },
        Factor {
            expr: den,
            divide: true,
        },
    ])
}

fn product(a: Expr, b: Expr) -> Expr {
    Expr::Product(vec![
        Factor {
            expr: a,
            divide: false,
        },
        Factor {
            expr: b,
            divide: false,
        },
    ])
}

/// `whole + a/b` as one number (the sign of `whole` applies to both parts).
fn mixed(whole: Rational, a: &Number, b: &Number) -> Option<Number> {
    let part = a.exact?.checked_div(b.exact?)?;
    let exact = whole.checked_add(part)?;
    Some(Number {
        exact: Some(exact),
        value: exact.to_f64(),
        integer_literal: false,
    })
}

/// The exact value of `int.frac(repetend) × 10^exponent`, if it fits.
fn exact_decimal(int: &str, frac: &str, repetend: &str, exponent: i64) -> Option<Rational> {
    let digits = |s: &str| -> Option<i128> {
        s.chars().try_fold(0i128, |acc, c| {
            acc.checked_mul(10)?
                .checked_add(i128::from(c.to_digit(10)?))
        })
    };
    let ten_to = |n: usize| 10i128.checked_pow(u32::try_from(n).ok()?);
    let without = digits(&format!("{int}{frac}"))?;
    let mut value = if repetend.is_empty() {
        Rational::new(without, ten_to(frac.len())?)?
    } else {
        let with = digits(&format!("{int}{frac}{repetend}"))?;
        let scale = ten_to(frac.len())?.checked_mul(ten_to(repetend.len())?.checked_sub(1)?)?;
        Rational::new(with.checked_sub(without)?, scale)?
    };
    if exponent != 0 {
        let power = Rational::integer(10)?.pow(i128::from(exponent))?;
        value = value.checked_mul(power)?;
    }
    Some(value)
}

impl Expr {
    /// The exact rational value, when the expression has one that checked `i128` arithmetic
    /// can reach: no variables, `\pi` or transcendental functions, and no overflow.
    pub fn exact(&self) -> Option<Rational> {
        match self {
            Expr::Number(n) => n.exact,
            Expr::Var(_) | Expr::Pi | Expr::Infinity => None,
            Expr::Sum(terms) => terms
                .iter()
                .try_fold(Rational::ZERO, |acc, t| acc.checked_add(t.exact()?)),
            Expr::Neg(e) => Some(-e.exact()?),
            Expr::Product(factors) => factors.iter().try_fold(Rational::ONE, |acc, f| {
                let v = f.expr.exact()?;
                if f.divide {
                    acc.checked_div(v)
                } else {
                    acc.checked_mul(v)
                }
            }),
            Expr::Pow(base, exponent) => {
                let (b, e) = (base.exact()?, exponent.exact()?);
                // b^(p/q) = (q-th root of b)^p
                b.root(e.denom())?.pow(e.numer())
            }
            Expr::Root(index, radicand) => {
                let n = index.exact()?;
                if !n.is_integer() {
                    return None;
                }
                radicand.exact()?.root(n.numer())
            }
            Expr::Log(base, arg) => {
                let (b, a) = (base.exact()?, arg.exact()?);
                let k = (a.to_f64().ln() / b.to_f64().ln()).round();
                if !k.is_finite() || k.abs() > 256.0 {
                    return None;
                }
                let k = k as i128;
                (b.pow(k)? == a).then(|| Rational::integer(k))?
            }
            Expr::Binom(n, k) => {
                let (n, k) = (n.exact()?, k.exact()?);
                if !n.is_integer() || !k.is_integer() || n.numer() < 0 {
                    return None;
                }
                let (n, k) = (n.numer(), k.numer());
                if k < 0 || k > n {
                    return Some(Rational::ZERO);
                }
                let k = k.min(n - k);
                if k > i128::from(MAX_BINOM_STEPS) {
                    return None;
                }
                (0..k).try_fold(Rational::ONE, |acc, i| {
                    acc.checked_mul(Rational::integer(n - i)?)?
                        .checked_div(Rational::integer(i + 1)?)
                })
            }
            Expr::Apply(f, arg) => {
                let x = arg.exact()?;
                match f {
                    Func::Abs => Some(x.abs()),
                    Func::Floor => Some(x.floor()),
                    Func::Ceil => Some(x.ceil()),
                    Func::Factorial => {
                        if !x.is_integer() || x.numer() < 0 || x.numer() > 33 {
                            return None;
                        }
                        (1..=x.numer()).try_fold(Rational::ONE, |acc, i| {
                            acc.checked_mul(Rational::integer(i)?)
                        })
                    }
                    _ => None,
                }
            }
        }
    }

    /// The value with every variable set to its test value at `point` (see [`test_value`]);
    /// NaN where it is undefined.
    pub fn value(&self, point: usize) -> f64 {
        match self {
            Expr::Number(n) => n.value,
            Expr::Var(name) => test_value(name, point),
            Expr::Pi => std::f64::consts::PI,
            Expr::Infinity => f64::INFINITY,
            Expr::Sum(terms) => terms.iter().map(|t| t.value(point)).sum(),
            Expr::Neg(e) => -e.value(point),
            Expr::Product(factors) => factors.iter().fold(1.0, |acc, f| {
                let v = f.expr.value(point);
                if f.divide {
                    acc / v
                } else {
                    acc * v
                }
            }),
            Expr::Pow(base, exponent) => {
                if let (Some(b), Some(e)) = (base.exact(), exponent.exact()) {
                    if let Some(v) = b.root(e.denom()).and_then(|r| r.pow(e.numer())) {
                        return v.to_f64();
                    }
                    // An odd root of a negative number is real: (-8)^(1/3) = -2.
                    if b.numer() < 0 && e.denom() % 2 == 1 {
                        let magnitude = (-b.to_f64()).powf(e.to_f64());
                        return if e.numer() % 2 == 0 {
                            magnitude
                        } else {
                            -magnitude
                        };
                    }
                }
                base.value(point).powf(exponent.value(point))
            }
            Expr::Root(index, radicand) => {
                let (n, x) = (index.value(point), radicand.value(point));
                if n == 2.0 {
                    x.sqrt()
                } else if x < 0.0 && n.fract() == 0.0 && n.rem_euclid(2.0) == 1.0 {
                    -(-x).powf(1.0 / n)
                } else {
                    x.powf(1.0 / n)
                }
            }
            Expr::Log(base, arg) => arg.value(point).ln() / base.value(point).ln(),
            Expr::Binom(n, k) => binom(n.value(point), k.value(point)),
            Expr::Apply(f, arg) => {
                let x = arg.value(point);
                match f {
                    Func::Sin => x.sin(),
                    Func::Cos => x.cos(),
                    Func::Tan => x.tan(),
                    Func::Sec => 1.0 / x.cos(),
                    Func::Csc => 1.0 / x.sin(),
                    Func::Cot => 1.0 / x.tan(),
                    Func::Asin => x.asin(),
                    Func::Acos => x.acos(),
                    Func::Atan => x.atan(),
                    Func::Ln => x.ln(),
                    Func::Exp => x.exp(),
                    Func::Abs => x.abs(),
                    Func::Floor => x.floor(),
                    Func::Ceil => x.ceil(),
                    Func::Factorial => factorial(x),
                }
            }
        }
    }

    /// Whether every variable is `name` (true when there is none).
    pub fn only_variable_is(&self, name: &str) -> bool {
        match self {
            Expr::Var(v) => v == name,
            Expr::Number(_) | Expr::Pi | Expr::Infinity => true,
            Expr::Sum(terms) => terms.iter().all(|t| t.only_variable_is(name)),
            Expr::Product(factors) => factors.iter().all(|f| f.expr.only_variable_is(name)),
            Expr::Neg(e) | Expr::Apply(_, e) => e.only_variable_is(name),
            Expr::Pow(a, b) | Expr::Root(a, b) | Expr::Log(a, b) | Expr::Binom(a, b) => {
                a.only_variable_is(name) && b.only_variable_is(name)
            }
        }
    }

    /// The expression with the variable `e` read as Euler's number (`\exp(1)`).
    pub fn with_euler(&self) -> Expr {
        let map = |e: &Expr| Box::new(e.with_euler());
        match self {
            Expr::Var(v) if v == "e" => Expr::Apply(Func::Exp, Box::new(Expr::Number(integer(1)))),
            Expr::Number(_) | Expr::Var(_) | Expr::Pi | Expr::Infinity => self.clone(),
            Expr::Sum(terms) => Expr::Sum(terms.iter().map(Expr::with_euler).collect()),
            Expr::Product(factors) => Expr::Product(
                factors
                    .iter()
                    .map(|f| Factor {
                        expr: f.expr.with_euler(),
                        divide: f.divide,
                    })
                    .collect(),
            ),
            Expr::Neg(e) => Expr::Neg(map(e)),
            Expr::Apply(f, e) => Expr::Apply(*f, map(e)),
            Expr::Pow(a, b) => Expr::Pow(map(a), map(b)),
            Expr::Root(a, b) => Expr::Root(map(a), map(b)),
            Expr::Log(a, b) => Expr::Log(map(a), map(b)),
            Expr::Binom(a, b) => Expr::Binom(map(a), map(b)),
        }
    }

    /// The expression with the terms of every sum and the factors of every product in one
    /// order, sorted by their own canonical forms, so `y + x` and `x + y` (and `ba` and `ab`)
    /// give the same tree. Scalars commute, so equal canonical forms have equal values. The
    /// work is a sort per sum or product, and the depth is bounded by the parser.
    pub fn canonical(&self) -> Expr {
        let boxed = |e: &Expr| Box::new(e.canonical());
        match self {
            Expr::Sum(terms) => {
                let mut keyed: Vec<(String, Expr)> = terms
                    .iter()
                    .map(|t| {
                        let c = t.canonical();
                        (format!("{c:?}"), c)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
                Expr::Sum(keyed.into_iter().map(|(_, e)| e).collect())
            }
            Expr::Product(factors) => {
                let mut keyed: Vec<(String, Factor)> = factors
                    .iter()
                    .map(|f| {
                        let expr = f.expr.canonical();
                        (
                            format!("{} {expr:?}", f.divide),
                            Factor {
                                expr,
                                divide: f.divide,
                            },
                        )
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.cmp(&b.0));
                Expr::Product(keyed.into_iter().map(|(_, f)| f).collect())
            }
            Expr::Neg(a) => Expr::Neg(boxed(a)),
            Expr::Pow(a, b) => Expr::Pow(boxed(a), boxed(b)),
            Expr::Root(a, b) => Expr::Root(boxed(a), boxed(b)),
            Expr::Log(a, b) => Expr::Log(boxed(a), boxed(b)),
            Expr::Binom(a, b) => Expr::Binom(boxed(a), boxed(b)),
            Expr::Apply(f, a) => Expr::Apply(*f, boxed(a)),
            Expr::Number(_) | Expr::Var(_) | Expr::Pi | Expr::Infinity => self.clone(),
        }
    }

    /// Whether any variable occurs.
    pub fn has_variables(&self) -> bool {
        match self {
            Expr::Var(_) => true,
            Expr::Number(_) | Expr::Pi | Expr::Infinity => false,
            Expr::Sum(terms) => terms.iter().any(Expr::has_variables),
            Expr::Product(factors) => factors.iter().any(|f| f.expr.has_variables()),
            Expr::Neg(e) | Expr::Apply(_, e) => e.has_variables(),
            Expr::Pow(a, b) | Expr::Root(a, b) | Expr::Log(a, b) | Expr::Binom(a, b) => {
                a.has_variables() || b.has_variables()
            }
        }
    }
}

fn factorial(x: f64) -> f64 {
    if x < 0.0 || x.fract() != 0.0 {
        return f64::NAN;
    }
    if x > f64::from(MAX_FACTORIAL) {
        return f64::INFINITY;
    }
    (1..=x as u32).map(f64::from).product()
}

fn binom(n: f64, k: f64) -> f64 {
    if n.fract() != 0.0 || k.fract() != 0.0 || n < 0.0 {
        return f64::NAN;
    }
    if k < 0.0 || k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    if k > f64::from(MAX_BINOM_STEPS) {
        return f64::NAN;
    }
    (0..k as u32).fold(1.0, |acc, i| acc * (n - f64::from(i)) / f64::from(i + 1))
}

/// The test points before jitter: on both sides of 1 (so `x^{100}` and `x^{101}` differ
/// somewhere), six inside `(-1, 1)` (so `\arcsin x` is defined at six), and negative at the last
/// three (so `\sqrt{x^2}` and `x` differ) while `\sqrt{x}` and `\ln x` stay defined at seven.
const TEST_POINTS: [f64; POINTS] = [0.3, 0.55, 0.8, 1.3, 1.7, 2.1, 0.65, -0.45, -0.9, -1.6];

/// The value of variable `name` at test point `point`: the point's magnitude scaled by a factor
/// in `[0.95, 1.05)` fixed by the name, so different variables never take the same value.
pub fn test_value(name: &str, point: usize) -> f64 {
    // FNV-1a of the name, then one SplitMix64 step mixed with the point.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut z = hash ^ (point as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
    let base = TEST_POINTS.get(point).copied().unwrap_or(1.0);
    base * (0.95 + 0.1 * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> Option<String> {
        parse(s).unwrap().exact().map(|r| r.to_string())
    }

    fn value(s: &str) -> f64 {
        parse(s).unwrap().value(0)
    }

    #[test]
    fn literals_are_exact() {
        assert_eq!(exact("0.5").as_deref(), Some("1/2"));
        assert_eq!(exact(".5").as_deref(), Some("1/2"));
        assert_eq!(exact("012").as_deref(), Some("12"));
        assert_eq!(exact("3.0").as_deref(), Some("3"));
        assert_eq!(exact("1.5e3").as_deref(), Some("1500"));
        assert_eq!(exact("2E-2").as_deref(), Some("1/50"));
        assert_eq!(exact("0.\\overline{3}").as_deref(), Some("1/3"));
        assert_eq!(exact("1.2\\overline{3}").as_deref(), Some("37/30"));
    }

    #[test]
    fn latex_and_ascii_arithmetic() {
        assert_eq!(exact("\\frac{1}{2}").as_deref(), Some("1/2"));
        assert_eq!(exact("\\frac12").as_deref(), Some("1/2"));
        assert_eq!(exact("\\frac1{72}").as_deref(), Some("1/72"));
        assert_eq!(exact("3*4").as_deref(), Some("12"));
        assert_eq!(exact("2\\cdot3+4\\times5").as_deref(), Some("26"));
        assert_eq!(exact("7\\div2").as_deref(), Some("7/2"));
        assert_eq!(exact("-2^2").as_deref(), Some("-4"));
        assert_eq!(exact("(-2)^2").as_deref(), Some("4"));
        assert_eq!(exact("2^10").as_deref(), Some("1024"));
        assert_eq!(exact("2^{-1}").as_deref(), Some("1/2"));
        assert_eq!(exact("2^3^2").as_deref(), Some("512"));
        assert_eq!(exact("\\sqrt{16}").as_deref(), Some("4"));
        assert_eq!(exact("\\sqrt[3]{-27}").as_deref(), Some("-3"));
        assert_eq!(exact("8^{2/3}").as_deref(), Some("4"));
        assert_eq!(exact("5!").as_deref(), Some("120"));
        assert_eq!(exact("\\binom{5}{2}").as_deref(), Some("10"));
        assert_eq!(exact("\\log_2 8").as_deref(), Some("3"));
        assert_eq!(exact("|-3|").as_deref(), Some("3"));
        assert_eq!(exact("\\lfloor 7/2 \\rfloor").as_deref(), Some("3"));
        assert_eq!(exact("\\lceil 7/2 \\rceil").as_deref(), Some("4"));
        assert_eq!(exact("[1+2]").as_deref(), Some("3"));
    }

    #[test]
    fn mixed_numbers_and_juxtaposition() {
        assert_eq!(exact("2\\frac{1}{2}").as_deref(), Some("5/2"));
        assert_eq!(exact("-2\\frac{1}{2}").as_deref(), Some("-5/2"));
        assert_eq!(exact("2 \\frac12").as_deref(), Some("5/2"));
        assert_eq!(exact("2.5\\frac{1}{2}").as_deref(), Some("5/4"));
        assert_eq!(exact("2(3)").as_deref(), Some("6"));
        assert!((value("2\\frac{\\pi}{2}") - std::f64::consts::PI).abs() < 1e-12);
        assert!((value("2\\sqrt{2}") - 8f64.sqrt()).abs() < 1e-12);
        assert!(parse("2 3").is_none());
    }

    #[test]
    fn irrationals_and_variables_evaluate_numerically() {
        assert_eq!(exact("\\pi"), None);
        assert_eq!(exact("\\sqrt{2}"), None);
        assert!((value("\\sin^2 x + \\cos^2 x") - 1.0).abs() < 1e-12);
        let x = test_value("x", 0);
        assert!((value("\\sin 2x") - (2.0 * x).sin()).abs() < 1e-12);
        assert!((value("\\sin x \\cos x") - x.sin() * x.cos()).abs() < 1e-12);
        assert!((value("\\sin x + 1") - (x.sin() + 1.0)).abs() < 1e-12);
        assert!((value("\\ln(e)") - test_value("e", 0).ln()).abs() < 1e-12);
        assert!((value("\\sqrt[3]{-8}") + 2.0).abs() < 1e-12);
        assert!((value("(-8)^{1/3}") + 2.0).abs() < 1e-12);
        assert_eq!(value("\\infty"), f64::INFINITY);
        assert!(value("\\sqrt{-1}").is_nan());
        let e = parse("x_1 + y_{12} + \\theta").unwrap();
        assert!(e.has_variables());
        assert!(!parse("2\\pi").unwrap().has_variables());
    }

    #[test]
    fn test_values_are_spread_and_signed() {
        for p in 0..POINTS {
            let (x, y) = (test_value("x", p), test_value("y", p));
            assert!(x != y);
            assert!((0.25..2.25).contains(&x.abs()));
            assert_eq!(x < 0.0, p + 3 >= POINTS);
        }
        let inside = (0..POINTS)
            .filter(|&p| test_value("x", p).abs() < 1.0)
            .count();
        assert_eq!(inside, 6);
    }

    #[test]
    fn malformed_or_deep_input_does_not_parse() {
        for s in [
            "",
            "1+",
            "(1",
            "\\frac{1}",
            "\\unknown",
            "1..2",
            "x^",
            "|1",
            "\\sqrt[",
        ] {
            assert!(parse(s).is_none(), "{s}");
        }
        let deep = format!(
            "{}1{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(parse(&deep).is_none());
        let shallow = format!("{}1{}", "(".repeat(10), ")".repeat(10));
        assert_eq!(parse(&shallow).unwrap().exact(), Rational::integer(1));
        let minus = "-".repeat(10_000) + "1";
        assert!(parse(&minus).is_none());
    }

    #[test]
    fn huge_numbers_and_powers_stay_bounded() {
        assert_eq!(exact("10^{100}"), None);
        assert!(value("10^{100}") > 1e99);
        assert_eq!(value("2^{2^{2^{2^{2}}}}"), f64::INFINITY);
        assert_eq!(exact("1e999999999999999999999"), None);
        assert_eq!(value("1000!"), f64::INFINITY);
        assert!(value("\\binom{100000}{50000}").is_nan());
        let long = "9".repeat(5000);
        assert!(value(&long).is_infinite());
    }
}
