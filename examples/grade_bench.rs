//! Times the grader on every worked example of the rules of grading round 3
//! ([`thinkscale::grade::cases::CASES`]) and on huge inputs for their paths, and prints the
//! slowest. Each comparison must take under 50 ms in a release build; the example exits with
//! status 1 when one does not (a measurement, so it is an example, not a timed test):
//!
//! ```text
//! cargo run --release --example grade_bench
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};
use thinkscale::grade::{self, cases::CASES};

/// The most one comparison may take.
const LIMIT: Duration = Duration::from_millis(50);
/// Repeats per pair; the slowest repeat counts.
const REPEATS: usize = 5;

fn slowest(reference: &str, predicted: &str) -> Duration {
    (0..REPEATS)
        .map(|_| {
            let t = Instant::now();
            let v = grade::grade(reference, predicted);
            let back = grade::equivalent(predicted, reference);
            std::hint::black_box((v, back));
            t.elapsed()
        })
        .max()
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let matrix = |n: usize| {
        let row = vec!["12345"; n].join("&");
        format!(
            "\\begin{{pmatrix}}{}\\end{{pmatrix}}",
            vec![row; n].join("\\\\")
        )
    };
    let product = vec![matrix(8); 8].join(" ");
    let sum = vec![matrix(8); 8].join(" + ");
    let nested_sum = format!("{}1", "\\sqrt{x-50}+".repeat(60));
    let huge: Vec<(String, String)> = vec![
        (product.clone(), product),
        (sum.clone(), sum),
        (nested_sum.clone(), nested_sum.chars().rev().collect()),
        ("p = 1, q = 2, ".repeat(60), "(1, 2), ".repeat(60)),
        ("-x > -1; ".repeat(100), "x < 1; ".repeat(100)),
        (
            format!("{}0.43", "3/7 \\approx ".repeat(100)),
            "\\frac{3}{7}".into(),
        ),
        ("(1,2)\\ ".repeat(120), "\\{(1,2)\\}".into()),
        (
            format!("so the number is 12 {}", "<|im_end|>".repeat(5000)),
            "12".into(),
        ),
        ("[Note: x] ".repeat(5000), "12".into()),
        ("<|".repeat(25_000), "12".into()),
        ("<\u{ff5c}".repeat(10_000), "12".into()),
        ("so it is 1. ".repeat(4000), "1".into()),
        ("3,75".repeat(400), "3.75".into()),
        ("15\\%".repeat(300), "0.15".into()),
        (
            "V_1 : V_2 = ".repeat(150) + "1",
            "\\frac{AO}{OB} = ".repeat(100) + "1",
        ),
    ];
    let mut worst = (Duration::ZERO, String::new());
    let mut over = 0;
    let mut check = |label: String, took: Duration| {
        if took > LIMIT {
            over += 1;
            println!("OVER {LIMIT:?}: {took:?} {label}");
        }
        if took > worst.0 {
            worst = (took, label);
        }
    };
    for c in CASES {
        let took = slowest(c.reference, c.predicted);
        check(
            format!("[{}] {:?} vs {:?}", c.rule, c.reference, c.predicted),
            took,
        );
    }
    for (a, b) in &huge {
        let took = slowest(a, b);
        let short = |s: &str| s.chars().take(40).collect::<String>();
        check(
            format!(
                "[huge, {} bytes] {:?}... vs {:?}...",
                a.len(),
                short(a),
                short(b)
            ),
            took,
        );
    }
    println!(
        "{} examples and {} huge inputs; slowest {:?}: {}",
        CASES.len(),
        huge.len(),
        worst.0,
        worst.1
    );
    if over > 0 {
        println!("{over} over the limit of {LIMIT:?}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
