//! `thinkscale grade GOLD PRED`: grade one predicted answer against a gold answer with the
//! grader the runs use ([`crate::grade`]), printing both normal forms and the verdict
//! with the rule that decided it.
//!
//! Exit status: 0 when the answers are equivalent, 1 when they are not (an empty PRED, or a
//! solution with no answer under `--extract`, is simply not equivalent), 2 on a usage error
//! (clap's own errors, and an empty GOLD: there is nothing to grade against).

use crate::grade::{self, ExtractOptions};
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `grade`.
#[derive(Debug, Args)]
pub struct GradeArgs {
    /// The gold (reference) answer, e.g. '\frac{1}{2}'. Values may start with '-'.
    #[arg(allow_hyphen_values = true)]
    pub gold: String,
    /// The predicted answer, e.g. 0.5; with --extract, a whole solution.
    #[arg(allow_hyphen_values = true)]
    pub pred: String,
    /// Treat PRED as a full solution and grade the answer found in it: the last \boxed{},
    /// else what follows "the answer is", else the line after "####".
    #[arg(long)]
    pub extract: bool,
    /// With --extract, fall back to the last number of the solution.
    #[arg(long, requires = "extract")]
    pub last_number: bool,
}

/// Runs `grade`.
pub fn run(args: GradeArgs) -> anyhow::Result<ExitCode> {
    if args.gold.trim().is_empty() {
        anyhow::bail!("GOLD is empty: give the reference answer to grade against");
    }
    let mut out = std::io::stdout().lock();
    let predicted = if args.extract {
        let options = ExtractOptions {
            last_number: args.last_number,
            ..ExtractOptions::default()
        };
        match grade::extract(&args.pred, &options) {
            Some(found) => {
                writeln!(out, "extracted: {} (by {})", found.answer, found.rule)?;
                found.answer
            }
            None => {
                writeln!(out, "gold:      {}", shown(&grade::normalize(&args.gold)))?;
                writeln!(out, "predicted: (no answer found in the solution)")?;
                writeln!(out, "not equal: no answer to grade")?;
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        args.pred
    };
    let verdict = grade::grade(&args.gold, &predicted);
    writeln!(out, "gold:      {}", shown(&verdict.reference))?;
    writeln!(out, "predicted: {}", shown(&verdict.predicted))?;
    writeln!(out, "{verdict}")?;
    Ok(if verdict.equal {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn shown(form: &str) -> &str {
    if form.is_empty() {
        "(empty)"
    } else {
        form
    }
}
