//! Property tests of the grader: no input panics, `equivalent` is reflexive and symmetric,
//! decorations (`$..$`, `\boxed{}`, `x =`, `\dfrac`, `\left(`) do not change an answer,
//! extraction finds what a box holds, inequality chains equal their intervals, decimals of
//! fractions follow the one decimal rule, and huge or deeply nested input returns.
//!
//! `grader_fuzz_long` is the stable fuzz run, ignored by default; run it with
//! `cargo test --lib grader_fuzz_long -- --ignored` (`PROPTEST_CASES=N` sets its cases, 200k by
//! default). The coverage-guided libFuzzer target is `tests/fuzz/fuzz_targets/grader.rs`; it needs a
//! nightly toolchain and cargo-fuzz: `cargo +nightly fuzz run --fuzz-dir tests/fuzz grader -- -dict=tests/fuzz/grader.dict`.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// LaTeX-ish answers from a small grammar: numbers, variables, fractions, roots, powers,
/// brackets of every kind, sets, intervals, matrices, text, units, and stray syntax.
fn latexish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        (0u32..2000).prop_map(|n| n.to_string()),
        (0u32..100, 0u32..100).prop_map(|(a, b)| format!("{a}.{b}")),
        prop::sample::select(vec![
            "x",
            "y",
            "e",
            "i",
            "A",
            "(B)",
            "\\pi",
            "\\infty",
            "-",
            ",",
            "=",
            "\\",
            "{",
            "}",
            "(",
            ")",
            "[",
            "]",
            "$",
            "\\%",
            "^\\circ",
            "\\!",
            " ",
            "\\text{ cm}",
            "\\text{Monday}",
            "\\pm",
            "\\cup",
            "&",
            "\\\\",
            "1,000",
            "2 1/2",
            "0.\\overline{3}",
            "é",
            "#### ",
            "\\boxed{",
            "\\left(",
            "\\right]",
            "\\sqrt",
            "\\frac",
            "^",
            "_",
            "!",
            "|",
            ";",
            ":",
            "\\approx",
            "\\sim 0.5",
            "<|im_end|>",
            "[Note: x]",
            "€",
            "²",
            "3,75",
            "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
        ])
        .prop_map(str::to_string),
    ];
    atom.prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("\\frac{{{a}}}{{{b}}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("\\dfrac{a}{b}")),
            inner.clone().prop_map(|a| format!("\\sqrt{{{a}}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}^{{{b}}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}+{b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}{b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a},{b}]")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("\\{{{a}, {b}\\}}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}, {b}")),
            inner.clone().prop_map(|a| format!("{{{a}}}")),
            inner.clone().prop_map(|a| format!("\\text{{{a}}}")),
            inner.clone().prop_map(|a| format!("x = {a}")),
            (inner.clone(), inner.clone(), inner.clone(), inner.clone()).prop_map(
                |(a, b, c, d)| format!("\\begin{{pmatrix}}{a}&{b}\\\\{c}&{d}\\end{{pmatrix}}")
            ),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a}\\cup {b}")),
        ]
    })
}

/// Checks what must hold for every pair: no panic (implicitly), reflexivity, symmetry, and an
/// answer boxed in a solution is extracted unchanged.
fn check_pair(a: &str, b: &str) -> Result<(), TestCaseError> {
    prop_assert!(equivalent(a, a), "not reflexive: {a:?}: {}", grade(a, a));
    prop_assert_eq!(
        equivalent(a, b),
        equivalent(b, a),
        "not symmetric: {:?} vs {:?}",
        a,
        b
    );
    let _ = normalize(a);
    let _ = extract(a, &ExtractOptions::all());
    Ok(())
}

/// Checks that `$..$`, padding, `\dfrac`, `\boxed{}`, `x =` and `\left(..\right)` do not
/// change what an answer means.
fn check_decorations(a: &str) -> Result<(), TestCaseError> {
    // A trailing backslash or one before `$` or `^` makes `\$` or `\^`: a different answer.
    if a.contains('$') || a.trim_end().ends_with('\\') || a.contains("\\^") {
        return Ok(());
    }
    // A chat template's special token ends a solution wherever it stands, and a trailing note
    // is cut from one: debris, not part of an answer that decorations could wrap.
    if a.contains("<|") || a.contains("[Note") {
        return Ok(());
    }
    let mut spellings = vec![
        format!("  {a} "),
        format!("${a}$"),
        a.replace("\\frac{", "\\dfrac{"),
    ];
    if !a.contains(['=', '{', '}']) && !a.contains("\\in") {
        spellings.push(format!("\\boxed{{{a}}}"));
        spellings.push(format!("x = {a}"));
    }
    for b in &spellings {
        prop_assert!(equivalent(a, b), "{:?} vs {:?}: {}", a, b, grade(a, b));
    }
    let (parenthesised, sized) = (format!("({a})"), format!("\\left({a}\\right)"));
    prop_assert!(
        equivalent(&parenthesised, &sized),
        "{:?}: {}",
        sized,
        grade(&parenthesised, &sized)
    );
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_text_is_graded_without_panics(a in any::<String>(), b in any::<String>()) {
        check_pair(&a, &b)?;
    }

    #[test]
    fn latexish_answers_are_reflexive_and_symmetric(a in latexish(), b in latexish()) {
        check_pair(&a, &b)?;
        // The same answers as a prose conclusion, and after chat-template debris.
        check_pair(&format!("We add them up, so the total is {a}"), &b)?;
        check_pair(&format!("{a}<|im_end|>{b}"), &b)?;
    }

    #[test]
    fn decorations_do_not_change_the_answer(a in latexish()) {
        check_decorations(&a)?;
    }

    #[test]
    fn fractions_equal_their_other_spellings(a in -999i64..1000, b in 1i64..1000, k in 1i64..50) {
        let frac = format!("\\frac{{{a}}}{{{b}}}");
        let slash = format!("{a}/{b}");
        let scaled = format!("\\dfrac{{{}}}{{{}}}", a * k, b * k);
        let off_by_one = format!("{}/{}", a + 1, b);
        prop_assert!(equivalent(&frac, &slash), "{} vs {}", frac, slash);
        prop_assert!(equivalent(&frac, &scaled), "{} vs {}", frac, scaled);
        prop_assert!(!equivalent(&frac, &off_by_one), "{} vs {}", frac, off_by_one);
    }

    #[test]
    fn inequalities_equal_their_intervals(lo in -99i64..100, width in 1i64..100, left in 0usize..2, right in 0usize..2) {
        let hi = lo + width;
        let (less, open) = [("<", '('), ("\\le", '[')][left];
        let (less2, close) = [("<", ')'), ("\\le", ']')][right];
        let chain = format!("{lo} {less} x {less2} {hi}");
        let greater = less.replace('<', ">").replace("\\le", "\\ge");
        let greater2 = less2.replace('<', ">").replace("\\le", "\\ge");
        let flipped = format!("{hi} {greater2} x {greater} {lo}");
        let interval = format!("{open}{lo}, {hi}{close}");
        let other = format!("{}{lo}, {hi}{close}", if open == '(' { '[' } else { '(' });
        let wider = format!("{open}{lo}, {}{close}", hi + 1);
        prop_assert!(equivalent(&chain, &interval), "{} vs {}", chain, interval);
        prop_assert!(equivalent(&flipped, &interval), "{} vs {}", flipped, interval);
        prop_assert!(!equivalent(&chain, &other), "{} vs {}", chain, other);
        prop_assert!(!equivalent(&chain, &wider), "{} vs {}", chain, wider);
    }

    #[test]
    fn decimals_follow_one_rule_for_fractions(p in 1i64..1000, q in 2i64..1000, places in 1usize..13) {
        // The fraction rounded (half up) and truncated to `places` places, from exact digits.
        let digits = |n: i64| -> String {
            let mut out = format!("{}.", n / q);
            let mut r = n % q;
            for _ in 0..places {
                r *= 10;
                out.push(char::from(b'0' + u8::try_from(r / q).unwrap()));
                r %= q;
            }
            out
        };
        let truncated = digits(p);
        let scale = 10i64.pow(u32::try_from(places).unwrap());
        let exact_in_places = (p * scale) % q == 0;
        let rounded = {
            let n = (2 * p * scale + q) / (2 * q);
            format!("{}.{:0width$}", n / scale, n % scale, width = places)
        };
        let frac = format!("\\frac{{{p}}}{{{q}}}");
        let significant = |d: &str| d.chars().filter(char::is_ascii_digit).skip_while(|c| *c == '0').count();
        for decimal in [&truncated, &rounded] {
            let want = exact_in_places || significant(decimal) >= 8;
            prop_assert_eq!(equivalent(&frac, decimal), want, "{} vs {}", frac, decimal);
        }
        // A last digit off by two is never equal, unless the digits are exact.
        let last = truncated.chars().last().and_then(|c| c.to_digit(10)).unwrap();
        let off = format!("{}{}", &truncated[..truncated.len() - 1], (last + 2) % 10);
        if !exact_in_places && last + 2 < 10 {
            prop_assert!(!equivalent(&frac, &off), "{} vs {}", frac, off);
        }
    }

    #[test]
    fn a_boxed_answer_is_extracted_unchanged(
        before in "[^{}]{0,40}",
        answer in "[^{}\\\\]{1,20}",
        after in "[^{}]{0,20}",
    ) {
        let text = format!("{before}\\boxed{{{answer}}}{after}");
        let want = answer.trim();
        let got = extract_answer(&text);
        if want.is_empty() || after.contains("\\boxed") || after.contains("\\fbox") {
            // Nothing to find, or a later (unclosed) box takes precedence.
            return Ok(());
        }
        prop_assert_eq!(got.as_deref(), Some(want));
    }
}

/// Inputs of 100 KB (and just under the parse limit) that would hang or overflow the stack of
/// a grader without bounds; the test passes by returning.
#[test]
fn huge_and_deeply_nested_input_returns() {
    let n = 50_000;
    let under = MAX_ANSWER_BYTES / 2 - 8;
    let inputs = [
        format!("{}1{}", "{".repeat(n), "}".repeat(n)),
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        "\\frac{".repeat(n / 3),
        format!("{}1", "-".repeat(2 * n)),
        format!("{}1{}", "{".repeat(under), "}".repeat(under)),
        format!("{}1{}", "(".repeat(under), ")".repeat(under)),
        format!("{}1{}", "\\{".repeat(under / 2), "\\}".repeat(under / 2)),
        format!("{}1", "-".repeat(MAX_ANSWER_BYTES - 1)),
        format!("{}1", "2^".repeat(MAX_ANSWER_BYTES / 2 - 1)),
        format!("{}1", "1+".repeat(MAX_ANSWER_BYTES / 2 - 1)),
        format!("{}2", "\\sqrt".repeat(MAX_ANSWER_BYTES / 5 - 1)),
        format!("{}1", "x=".repeat(MAX_ANSWER_BYTES / 2 - 1)),
        format!("{}1", "\\pm".repeat(MAX_ANSWER_BYTES / 3 - 1)),
        "1,".repeat(MAX_ANSWER_BYTES / 2 - 1),
        format!("{}9", "9".repeat(MAX_ANSWER_BYTES - 1)),
        format!("{}!", "100".repeat(MAX_ANSWER_BYTES / 3 - 1)),
        "\\boxed{".repeat(n / 7),
        "é{".repeat(n),
    ];
    for a in &inputs {
        for b in &inputs {
            let _ = grade(a, b);
        }
        assert!(equivalent(a, a));
        let _ = extract(a, &ExtractOptions::all());
    }
    // Sets of sets: the most pairwise work an answer under the limit can ask for.
    let inner = (0..30).map(|k| k.to_string()).collect::<Vec<_>>().join(",");
    let nested = format!("\\{{{}\\}}", vec![format!("\\{{{inner}\\}}"); 20].join(","));
    let other = nested.replacen("29", "31", 1);
    assert!(nested.len() <= MAX_ANSWER_BYTES);
    assert!(!equivalent(&nested, &other));
}

/// Huge inputs for the paths of relations, labels, several boxes, math spans, number words and
/// bracketed matrices; the test passes by returning.
#[test]
fn huge_relations_boxes_and_words_return() {
    let n = 50_000;
    let inputs: [String; 12] = [
        format!("{}1", "x<".repeat(MAX_ANSWER_BYTES / 2 - 1)),
        format!("{}1", "x \\le ".repeat(MAX_ANSWER_BYTES / 6 - 1)),
        format!("{}1", "f(x)=".repeat(MAX_ANSWER_BYTES / 5 - 1)),
        format!("{}1", " != ".repeat(MAX_ANSWER_BYTES / 4 - 1)),
        "x<1,".repeat(MAX_ANSWER_BYTES / 4 - 1),
        (0..n / 10).map(|k| format!("\\boxed{{{k}}}")).collect(),
        "\\boxed{1}".repeat(n / 9),
        "$1$ word ".repeat(n / 9),
        "The answer is ".repeat(n / 14),
        "one ".repeat(n / 4),
        "1 000 ".repeat(n / 6),
        "\\left[\\begin{array}{c}".repeat(n / 24),
    ];
    for a in &inputs {
        for b in &inputs {
            let _ = grade(a, b);
        }
        assert!(equivalent(a, a));
        let _ = extract(a, &ExtractOptions::all());
    }
}

/// Huge inputs for the paths of grading round 3: debris, notes, conclusions, semicolons,
/// approximations, ratios, negated inequalities, assignments, matrix products; the test passes
/// by returning.
#[test]
fn huge_round3_inputs_return() {
    let n = 50_000;
    let matrix = format!(
        "\\begin{{pmatrix}}{}\\end{{pmatrix}}",
        ["9&9&9&9&9&9&9&9"; 8].join("\\\\")
    );
    let inputs: [String; 12] = [
        "<|im_end|>".repeat(n / 10),
        "<|".repeat(n / 2),
        "[Note: x] ".repeat(n / 10),
        "so it is 1. ".repeat(n / 12),
        "1; ".repeat(MAX_ANSWER_BYTES / 3 - 1),
        format!("{}1", "1 \\approx ".repeat(MAX_ANSWER_BYTES / 10 - 1)),
        format!("{}1", "a : b = ".repeat(MAX_ANSWER_BYTES / 8 - 1)),
        "-x > -1; ".repeat(MAX_ANSWER_BYTES / 9 - 1),
        "p = 1, q = 2, ".repeat(MAX_ANSWER_BYTES / 14 - 1),
        [matrix.as_str(); 8].join(" "),
        "3,75".repeat(MAX_ANSWER_BYTES / 4 - 1),
        "15\\%".repeat(MAX_ANSWER_BYTES / 4 - 1),
    ];
    for a in &inputs {
        for b in &inputs {
            let _ = grade(a, b);
        }
        assert!(equivalent(a, a));
        let _ = extract(a, &ExtractOptions::all());
    }
}

/// The stable fuzz run: many more cases of every property above. Not run by default.
#[test]
#[ignore = "long: the fuzz target, run with --ignored"]
fn grader_fuzz_long() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(200_000);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let pair = (
        prop_oneof![
            latexish(),
            any::<String>(),
            "[-0-9.,/(){}\\[\\]\\\\a-e xy^_=+*!|$%]{0,60}"
        ],
        prop_oneof![
            latexish(),
            any::<String>(),
            "[-0-9.,/(){}\\[\\]\\\\a-e xy^_=+*!|$%]{0,60}"
        ],
    );
    let result = TestRunner::new(config.clone()).run(&pair, |(a, b)| check_pair(&a, &b));
    if let Err(e) = result {
        panic!("{e}");
    }
    let result = TestRunner::new(config).run(&latexish(), |a| check_decorations(&a));
    if let Err(e) = result {
        panic!("{e}");
    }
}
