//! The synthetic task: seeded arithmetic with an exact step checker.
//!
//! A problem is an integer expression such as `(3+4)*12-5`. Its canonical solution performs one
//! operation per line and rewrites the whole expression after it, so the state stays explicit
//! for a tiny model:
//!
//! ```text
//! 3+4=7: 7*12-5
//! 7*12=84: 84-5
//! 84-5=79: 79
//! \boxed{79}
//! ```
//!
//! Levels 1..=5 add operations, larger operands, and parentheses. Every intermediate value of
//! the canonical solution stays in `0..=999`. The checker ([`check_steps`]) marks each line of
//! any candidate solution correct or incorrect exactly: a step is correct when its annotation
//! (`a op b=c`) is true arithmetic and its rewritten expression still evaluates to the
//! problem's value; the final `\boxed{}` line is correct when it holds that value. This is the
//! oracle verifier.

use super::Problem;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// Number of difficulty levels of the toy task.
pub const LEVELS: u8 = 5;
/// Problems per level in the fixed evaluation split.
pub const EVAL_PER_LEVEL: usize = 100;
/// Seed of the fixed evaluation split; never change it, results on disk refer to it.
pub const EVAL_SEED: u64 = 0x5eed_0000_2408_3314;
/// Largest intermediate value a generated problem may have.
pub const MAX_VALUE: i64 = 999;
/// Longest text the checker will parse as one expression (bounds its work).
const MAX_EXPR_CHARS: usize = 512;
/// Deepest parenthesis nesting the checker accepts.
const MAX_DEPTH: usize = 32;

/// What a level is made of.
#[derive(Debug, Clone, Copy)]
struct LevelSpec {
    ops: usize,
    max_operand: i64,
    paren_groups: usize,
    paren_prob: f64,
}

fn level_spec(level: u8) -> LevelSpec {
    match level {
        0 | 1 => LevelSpec {
            ops: 1,
            max_operand: 20,
            paren_groups: 0,
            paren_prob: 0.0,
        },
        2 => LevelSpec {
            ops: 2,
            max_operand: 20,
            paren_groups: 0,
            paren_prob: 0.0,
        },
        3 => LevelSpec {
            ops: 3,
            max_operand: 20,
            paren_groups: 1,
            paren_prob: 0.5,
        },
        4 => LevelSpec {
            ops: 4,
            max_operand: 25,
            paren_groups: 1,
            paren_prob: 0.7,
        },
        _ => LevelSpec {
            ops: 5,
            max_operand: 30,
            paren_groups: 2,
            paren_prob: 0.8,
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Num(i64),
    Op(u8),
    L,
    R,
}

fn render(toks: &[Tok]) -> String {
    let mut s = String::new();
    for t in toks {
        match t {
            Tok::Num(n) => s.push_str(&n.to_string()),
            Tok::Op(o) => s.push(*o as char),
            Tok::L => s.push('('),
            Tok::R => s.push(')'),
        }
    }
    s
}

fn apply(a: i64, op: u8, b: i64) -> Option<i64> {
    match op {
        b'+' => a.checked_add(b),
        b'-' => a.checked_sub(b),
        b'*' => a.checked_mul(b),
        _ => None,
    }
}

/// One line of a canonical solution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalStep {
    /// Left operand.
    pub a: i64,
    /// Operator: `+`, `-` or `*`.
    pub op: char,
    /// Right operand.
    pub b: i64,
    /// Result of the operation.
    pub c: i64,
    /// The whole expression after the operation.
    pub expr: String,
}

impl CanonicalStep {
    /// The step as one line of solution text.
    pub fn line(&self) -> String {
        format!("{}{}{}={}: {}", self.a, self.op, self.b, self.c, self.expr)
    }
}

/// Performs the next operation in canonical order: innermost parentheses first, then the first
/// `*`, then the first `+`/`-`, left to right.
fn canonical_step(toks: &[Tok]) -> Option<(CanonicalStep, Vec<Tok>)> {
    canonical_step_at(toks).map(|(step, out, _)| (step, out))
}

/// [`canonical_step`], and the index of the result in the rewritten tokens.
fn canonical_step_at(toks: &[Tok]) -> Option<(CanonicalStep, Vec<Tok>, usize)> {
    let (lo, hi) = match toks.iter().position(|t| *t == Tok::R) {
        Some(r) => {
            let l = toks[..r].iter().rposition(|t| *t == Tok::L)?;
            (l + 1, r)
        }
        None => (0, toks.len()),
    };
    let group = &toks[lo..hi];
    let k = group.iter().position(|t| *t == Tok::Op(b'*')).or_else(|| {
        group
            .iter()
            .position(|t| matches!(t, Tok::Op(b'+') | Tok::Op(b'-')))
    })?;
    let k = lo + k;
    let (Tok::Num(a), Tok::Op(op), Tok::Num(b)) =
        (*toks.get(k.checked_sub(1)?)?, toks[k], *toks.get(k + 1)?)
    else {
        return None;
    };
    let c = apply(a, op, b)?;
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    out.extend_from_slice(&toks[..k - 1]);
    out.push(Tok::Num(c));
    out.extend_from_slice(&toks[k + 2..]);
    // A group reduced to one number loses its parentheses in the same step.
    let mut p = k - 1;
    if p > 0 && out.get(p - 1) == Some(&Tok::L) && out.get(p + 1) == Some(&Tok::R) {
        out.remove(p + 1);
        out.remove(p - 1);
        p -= 1;
    }
    let step = CanonicalStep {
        a,
        op: op as char,
        b,
        c,
        expr: render(&out),
    };
    Some((step, out, p))
}

/// A kind of near-miss error, the hard negatives a step-checking verifier trains on: the slips
/// the toy policy makes, each a few characters away from the right step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearMiss {
    /// One digit of the result changed: `7*12=94` for `7*12=84`.
    DigitOff,
    /// The result off by one: `7*12=83`.
    OffByOne,
    /// The right operation on a wrong operand (one off, as misread), written either with the
    /// misread operand (`7*13=91`, true arithmetic on the wrong numbers) or with the right ones
    /// (`7*12=91`).
    WrongOperand,
    /// The right result, but another number of the expression miscopied in the rewrite
    /// (`84-5` rewritten as `84-6`).
    CopySlip,
}

/// Every kind of near miss.
pub const NEAR_MISSES: [NearMiss; 4] = [
    NearMiss::DigitOff,
    NearMiss::OffByOne,
    NearMiss::WrongOperand,
    NearMiss::CopySlip,
];

/// `n` with one of its digits replaced by another (never a leading zero).
fn change_digit(n: i64, rng: &mut impl Rng) -> i64 {
    let digits: Vec<u8> = n.to_string().into_bytes();
    let i = rng.random_range(0..digits.len());
    let lowest = if i == 0 && digits.len() > 1 { 1 } else { 0 };
    let choices: Vec<u8> = (lowest..=9u8)
        .map(|d| b'0' + d)
        .filter(|d| *d != digits[i])
        .collect();
    let mut out = digits;
    out[i] = choices[rng.random_range(0..choices.len())];
    String::from_utf8(out)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n)
}

/// `n` plus or minus one.
fn off_by_one(n: i64, rng: &mut impl Rng) -> i64 {
    if rng.random_bool(0.5) {
        n + 1
    } else {
        n - 1
    }
}

/// A solution of `question` with a near miss of `kind` planted at step `at` (0-based), the rest
/// solved canonically from the expression the slip leaves, as a policy that slipped and went on
/// would; the last line boxes the value it reaches. `None` when the slip cannot be planted there
/// (a copy slip in an expression with one number), leaves the task's range `0..=999`, or
/// happens not to be an error.
pub fn near_miss_solution(
    question: &str,
    at: usize,
    kind: NearMiss,
    rng: &mut impl Rng,
) -> Option<Vec<String>> {
    let mut toks = tokenize(question)?;
    let mut lines = Vec::new();
    let mut index = 0;
    while toks.len() > 1 {
        let (step, mut next, p) = canonical_step_at(&toks)?;
        if index != at {
            if !(0..=MAX_VALUE).contains(&step.c) {
                return None;
            }
            lines.push(step.line());
            toks = next;
            index += 1;
            continue;
        }
        let (mut a, mut b, mut c) = (step.a, step.b, step.c);
        match kind {
            NearMiss::DigitOff => c = change_digit(c, rng),
            NearMiss::OffByOne => c = off_by_one(c, rng),
            NearMiss::WrongOperand => {
                let (a2, b2) = if rng.random_bool(0.5) {
                    (off_by_one(a, rng), b)
                } else {
                    (a, off_by_one(b, rng))
                };
                c = apply(a2, step.op as u8, b2)?;
                if rng.random_bool(0.5) {
                    (a, b) = (a2, b2);
                }
            }
            NearMiss::CopySlip => {
                let others: Vec<usize> = (0..next.len())
                    .filter(|&i| i != p && matches!(next[i], Tok::Num(_)))
                    .collect();
                if others.is_empty() {
                    return None;
                }
                let i = others[rng.random_range(0..others.len())];
                let Tok::Num(n) = next[i] else {
                    return None;
                };
                let m = if rng.random_bool(0.5) {
                    change_digit(n, rng)
                } else {
                    off_by_one(n, rng)
                };
                if !(0..=MAX_VALUE).contains(&m) {
                    return None;
                }
                next[i] = Tok::Num(m);
            }
        }
        if !(0..=MAX_VALUE).contains(&c) || !(0..=MAX_VALUE).contains(&a) || b < 0 {
            return None;
        }
        next[p] = Tok::Num(c);
        let slipped = CanonicalStep {
            a,
            op: step.op,
            b,
            c,
            expr: render(&next),
        };
        if slipped == step {
            return None;
        }
        lines.push(slipped.line());
        toks = next;
        index += 1;
    }
    if index <= at {
        return None;
    }
    let [Tok::Num(value)] = toks.as_slice() else {
        return None;
    };
    lines.push(format!("\\boxed{{{value}}}"));
    let target = evaluate(question)?;
    let labels = check_steps(&lines, target);
    if labels.iter().all(|ok| *ok) {
        return None;
    }
    Some(lines)
}

/// The canonical solution of an expression: its steps and final value. `None` if the text is
/// not an expression this task generates.
pub fn solve(question: &str) -> Option<(Vec<CanonicalStep>, i64)> {
    let mut toks = tokenize(question)?;
    let mut steps = Vec::new();
    while toks.len() > 1 {
        let (step, next) = canonical_step(&toks)?;
        steps.push(step);
        toks = next;
    }
    match toks.as_slice() {
        [Tok::Num(v)] => Some((steps, *v)),
        _ => None,
    }
}

/// The canonical solution as text: one step per line, then `\boxed{value}`.
pub fn canonical_solution(question: &str) -> Option<String> {
    let (steps, value) = solve(question)?;
    let mut lines: Vec<String> = steps.iter().map(CanonicalStep::line).collect();
    lines.push(format!("\\boxed{{{value}}}"));
    Some(lines.join("\n"))
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push(Tok::Num(s[start..i].parse().ok()?));
                continue;
            }
            c @ (b'+' | b'-' | b'*') => out.push(Tok::Op(c)),
            b'(' => out.push(Tok::L),
            b')' => out.push(Tok::R),
            _ => return None,
        }
        i += 1;
    }
    Some(out)
}

/// Generates one problem of `level` (1..=5) from `rng`.
pub fn generate(level: u8, rng: &mut impl Rng) -> (String, i64) {
    let spec = level_spec(level);
    loop {
        let n = spec.ops + 1;
        let operands: Vec<i64> = (0..n)
            .map(|_| rng.random_range(1..=spec.max_operand))
            .collect();
        let ops: Vec<u8> = (0..spec.ops)
            .map(|_| b"+-*"[rng.random_range(0..3usize)])
            .collect();
        // Parenthesised operand ranges [i, j], i < j, never the whole expression.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for _ in 0..spec.paren_groups {
            if rng.random_bool(spec.paren_prob) {
                let i = rng.random_range(0..n - 1);
                let j = rng.random_range(i + 1..n);
                groups.push((i, j));
            }
        }
        let well_formed = groups.iter().all(|&(i, j)| !(i == 0 && j == n - 1))
            && groups.windows(2).all(|w| {
                let ((a, b), (c, d)) = (w[0], w[1]);
                (a, b) != (c, d) && (b < c || d < a || (a <= c && d <= b) || (c <= a && b <= d))
            });
        if !well_formed {
            continue;
        }
        let mut toks = Vec::new();
        for (k, &x) in operands.iter().enumerate() {
            for &(i, _) in &groups {
                if i == k {
                    toks.push(Tok::L);
                }
            }
            toks.push(Tok::Num(x));
            for &(_, j) in &groups {
                if j == k {
                    toks.push(Tok::R);
                }
            }
            if k < spec.ops {
                toks.push(Tok::Op(ops[k]));
            }
        }
        // Nested groups sharing an end must close the inner one first; render() handles order
        // by construction only when the outer group comes first, so re-check by solving.
        let question = render(&toks);
        let Some((steps, value)) = solve(&question) else {
            continue;
        };
        if steps.len() != spec.ops || steps.iter().any(|s| s.c < 0 || s.c > MAX_VALUE) {
            continue;
        }
        if evaluate(&question) != Some(value) {
            continue;
        }
        return (question, value);
    }
}

/// The subject of every toy problem.
pub const SUBJECT: &str = "arithmetic";

/// Whether `problem` is a toy problem (its steps can be checked exactly).
pub fn is_toy(problem: &Problem) -> bool {
    problem.subject == SUBJECT && problem.level.is_some()
}

/// Builds a problem record.
pub fn problem(id: String, level: u8, question: String, value: i64) -> Problem {
    Problem {
        id,
        question,
        answer: value.to_string(),
        level: Some(level),
        subject: SUBJECT.into(),
    }
}

/// The fixed evaluation split: [`EVAL_PER_LEVEL`] distinct problems per level, levels 1..=5,
/// identical on every machine, in the order L1, L2, .., L5, L1, .. so that any prefix is
/// balanced across levels.
pub fn eval_split() -> Vec<Problem> {
    let mut rng = ChaCha8Rng::seed_from_u64(EVAL_SEED);
    let mut seen = HashSet::new();
    let mut by_level: Vec<Vec<Problem>> = Vec::new();
    for level in 1..=LEVELS {
        let mut problems = Vec::with_capacity(EVAL_PER_LEVEL);
        while problems.len() < EVAL_PER_LEVEL {
            let (q, v) = generate(level, &mut rng);
            if seen.insert(q.clone()) {
                problems.push(problem(
                    format!("toy-L{level}-{:03}", problems.len()),
                    level,
                    q,
                    v,
                ));
            }
        }
        by_level.push(problems);
    }
    // Levels interleaved, so that the first k problems cover every level evenly.
    (0..EVAL_PER_LEVEL)
        .flat_map(|i| by_level.iter().map(move |l| l[i].clone()))
        .collect()
}

/// The questions of the evaluation split, so training can leave them out.
pub fn eval_questions() -> HashSet<String> {
    eval_split().into_iter().map(|p| p.question).collect()
}

/// Evaluates an integer expression with the usual precedence (`*` before `+`/`-`, left to
/// right), parentheses and unary minus. `None` for anything else, for overflow, or for text
/// longer or deeper than the checker's bounds.
pub fn evaluate(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() || s.len() > MAX_EXPR_CHARS {
        return None;
    }
    let mut p = Parser {
        b: s.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.expr()?;
    (p.i == p.b.len()).then_some(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn expr(&mut self) -> Option<i64> {
        let mut v = self.term()?;
        while let Some(c @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let r = self.term()?;
            v = apply(v, c, r)?;
        }
        Some(v)
    }
    fn term(&mut self) -> Option<i64> {
        let mut v = self.factor()?;
        while self.peek() == Some(b'*') {
            self.i += 1;
            let r = self.factor()?;
            v = v.checked_mul(r)?;
        }
        Some(v)
    }
    fn factor(&mut self) -> Option<i64> {
        match self.peek()? {
            b'-' => {
                self.i += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let v = self.factor()?.checked_neg();
                self.depth -= 1;
                v
            }
            b'(' => {
                self.i += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let v = self.expr()?;
                if self.peek() != Some(b')') {
                    return None;
                }
                self.i += 1;
                self.depth -= 1;
                Some(v)
            }
            b'0'..=b'9' => {
                let start = self.i;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
                std::str::from_utf8(&self.b[start..self.i])
                    .ok()?
                    .parse()
                    .ok()
            }
            _ => None,
        }
    }
}

/// The content of the last `\boxed{...}` in `text` (balanced braces), trimmed.
pub fn extract_boxed(text: &str) -> Option<String> {
    let start = text.rfind("\\boxed{")? + "\\boxed{".len();
    let mut depth = 1usize;
    for (k, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(text[start..start + k].trim().to_string());
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether two toy answers are the same integer.
pub fn answers_equal(a: &str, b: &str) -> bool {
    match (evaluate(a), evaluate(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// Whether one line is locally right: a true `a op b=c` annotation (if any) and an expression
/// that still evaluates to `target`, or a `\boxed{}` holding `target`.
pub fn step_ok(line: &str, target: i64) -> bool {
    let line = line.trim();
    if line.starts_with("\\boxed{") {
        return extract_boxed(line).and_then(|a| evaluate(&a)) == Some(target);
    }
    let expr = match line.split_once(": ") {
        Some((annotation, expr)) => {
            let Some((lhs, rhs)) = annotation.split_once('=') else {
                return false;
            };
            match (evaluate(lhs), evaluate(rhs)) {
                (Some(l), Some(r)) if l == r => expr,
                _ => return false,
            }
        }
        None => line,
    };
    evaluate(expr) == Some(target)
}

/// Whether a line's annotation `a op b=c` is true arithmetic; `None` for a line without one.
pub fn annotation_ok(line: &str) -> Option<bool> {
    let (annotation, _) = line.trim().split_once(": ")?;
    let (lhs, rhs) = annotation.split_once('=')?;
    Some(matches!((evaluate(lhs), evaluate(rhs)), (Some(l), Some(r)) if l == r))
}

/// Oracle step labels for a candidate solution: step `i` is correct when it and every step
/// before it are locally right ([`step_ok`]), so the first error makes the rest incorrect.
pub fn check_steps<S: AsRef<str>>(steps: &[S], target: i64) -> Vec<bool> {
    let mut ok = true;
    steps
        .iter()
        .map(|s| {
            ok = ok && step_ok(s.as_ref(), target);
            ok
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_solution_follows_precedence_and_parentheses() {
        let s = canonical_solution("(3+4)*12-5").unwrap();
        assert_eq!(s, "3+4=7: 7*12-5\n7*12=84: 84-5\n84-5=79: 79\n\\boxed{79}");
        let s = canonical_solution("8*7+6*17").unwrap();
        assert_eq!(
            s,
            "8*7=56: 56+6*17\n6*17=102: 56+102\n56+102=158: 158\n\\boxed{158}"
        );
        let s = canonical_solution("2*((3+4)-1)").unwrap();
        assert_eq!(s, "3+4=7: 2*(7-1)\n7-1=6: 2*6\n2*6=12: 12\n\\boxed{12}");
    }

    #[test]
    fn eval_split_is_fixed_and_levels_grow() {
        let a = eval_split();
        let b = eval_split();
        assert_eq!(a, b);
        assert_eq!(a.len(), 500);
        let ids: HashSet<_> = a.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids.len(), 500);
        for p in &a {
            let level = p.level.unwrap();
            let (steps, v) = solve(&p.question).unwrap();
            assert_eq!(steps.len(), level as usize, "{}", p.question);
            assert_eq!(v.to_string(), p.answer);
            assert_eq!(evaluate(&p.question), Some(v));
            assert!(steps.iter().all(|s| (0..=MAX_VALUE).contains(&s.c)));
        }
        // Parentheses appear only from level 3 on, and do appear there.
        assert!(a
            .iter()
            .filter(|p| p.level < Some(3))
            .all(|p| !p.question.contains('(')));
        assert!(a
            .iter()
            .filter(|p| p.level == Some(5))
            .any(|p| p.question.contains('(')));
        // The first problems are pinned: the split must be the same on every machine.
        assert_eq!(a[0].id, "toy-L1-000");
        assert_eq!(a[4].id, "toy-L5-000");
        assert_eq!(a[5].id, "toy-L1-001");
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        let gen = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (1..=5).map(|l| generate(l, &mut rng).0).collect::<Vec<_>>()
        };
        assert_eq!(gen(7), gen(7));
        assert_ne!(gen(7), gen(8));
    }

    #[test]
    fn checker_accepts_the_canonical_solution() {
        for p in eval_split().iter().step_by(7) {
            let sol = canonical_solution(&p.question).unwrap();
            let lines: Vec<&str> = sol.lines().collect();
            let target: i64 = p.answer.parse().unwrap();
            assert!(check_steps(&lines, target).iter().all(|&ok| ok), "{sol}");
        }
    }

    #[test]
    fn checker_flags_planted_errors_and_everything_after() {
        let lines = [
            "8*7=56: 56+6*17",
            "6*17=112: 56+112",
            "56+112=168: 168",
            "\\boxed{168}",
        ];
        assert_eq!(check_steps(&lines, 158), vec![true, false, false, false]);
        // A wrong annotation with a right expression is still a wrong step.
        assert_eq!(check_steps(&["8*7=55: 56+6*17"], 158), vec![false]);
        // A right annotation with a miscopied expression is wrong.
        assert_eq!(check_steps(&["8*7=56: 56+7*17"], 158), vec![false]);
        // Garbage is wrong, never a panic.
        for junk in [
            "",
            ":",
            "=:",
            "\\boxed{",
            "((((((",
            "9999999999999999999*9",
            "1=1: ",
        ] {
            assert!(!step_ok(junk, 158), "{junk:?}");
        }
        assert!(step_ok("\\boxed{158}", 158));
        assert!(!step_ok("\\boxed{157}", 158));
    }

    #[test]
    fn near_misses_are_one_slip_then_a_consistent_continuation() {
        let q = "13+18+(8-3)-14";
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // A digit off in the first step: the slip, then the canonical steps from what it left.
        let mut seen = HashSet::new();
        for _ in 0..50 {
            let lines = near_miss_solution(q, 0, NearMiss::DigitOff, &mut rng).unwrap();
            assert_eq!(lines.len(), 5, "{lines:?}");
            let (annotation, expr) = lines[0].split_once(": ").unwrap();
            assert!(annotation.starts_with("8-3="), "{lines:?}");
            assert_ne!(annotation, "8-3=5");
            let c: i64 = annotation["8-3=".len()..].parse().unwrap();
            assert_eq!(expr, format!("13+18+{c}-14"));
            assert_eq!(lines[4], format!("\\boxed{{{}}}", 13 + 18 + c - 14));
            assert_eq!(check_steps(&lines, 22), vec![false; 5]);
            seen.insert(c);
        }
        assert!(seen.len() >= 5, "{seen:?}");
        // Off by one in the second step: the first step stays right.
        let lines = near_miss_solution(q, 1, NearMiss::OffByOne, &mut rng).unwrap();
        assert_eq!(lines[0], "8-3=5: 13+18+5-14");
        assert!(lines[1] == "13+18=30: 30+5-14" || lines[1] == "13+18=32: 32+5-14");
        assert_eq!(
            check_steps(&lines, 22),
            vec![true, false, false, false, false]
        );
        // A wrong operand: true arithmetic on a misread number, or the right numbers and the
        // misread one's result; either way the step is wrong.
        for _ in 0..20 {
            let lines = near_miss_solution(q, 2, NearMiss::WrongOperand, &mut rng).unwrap();
            let (annotation, _) = lines[2].split_once(": ").unwrap();
            let (lhs, rhs) = annotation.split_once('=').unwrap();
            let misread = evaluate(lhs) == evaluate(rhs);
            assert!(misread || lhs == "31+5", "{lines:?}");
            assert_eq!(check_steps(&lines, 22)[..3], [true, true, false]);
        }
        // A copy slip: the annotation is right, another number changes in the rewrite.
        let lines = near_miss_solution(q, 0, NearMiss::CopySlip, &mut rng).unwrap();
        assert!(lines[0].starts_with("8-3=5: "));
        assert_ne!(lines[0], "8-3=5: 13+18+5-14");
        assert!(!check_steps(&lines, 22)[0]);
        // No number left to miscopy in the last step; no step 9.
        assert!(near_miss_solution(q, 3, NearMiss::CopySlip, &mut rng).is_none());
        assert!(near_miss_solution(q, 9, NearMiss::DigitOff, &mut rng).is_none());
        // Never out of the task's range, on many problems of every level.
        for level in 1..=LEVELS {
            for _ in 0..200 {
                let (q, _) = generate(level, &mut rng);
                let kind = NEAR_MISSES[rng.random_range(0..4)];
                let at = rng.random_range(0..usize::from(level));
                if let Some(lines) = near_miss_solution(&q, at, kind, &mut rng) {
                    let target = evaluate(&q).unwrap();
                    assert!(!check_steps(&lines, target).iter().all(|ok| *ok));
                    assert!(lines.iter().all(|l| !l.contains("--") && !l.contains("+-")));
                }
            }
        }
    }

    #[test]
    fn evaluate_bounds_its_work() {
        let deep = "(".repeat(100) + "1" + &")".repeat(100);
        assert_eq!(evaluate(&deep), None);
        assert_eq!(evaluate("-(3-5)*2"), Some(4));
        assert_eq!(evaluate(&"1+".repeat(1000)), None);
    }

    #[test]
    fn boxed_extraction_takes_the_last_balanced_box() {
        assert_eq!(
            extract_boxed("a \\boxed{1} b \\boxed{{2}}").as_deref(),
            Some("{2}")
        );
        assert_eq!(extract_boxed("\\boxed{12"), None);
        assert!(answers_equal("012", "12"));
    }
}
