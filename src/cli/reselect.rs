//! `thinkscale reselect DIR`: a run's or a sweep's accuracy under every choice rule —
//! aggregation (last, min, mean, prod) x selection (max, vote), with majority as the baseline —
//! recomputed from the stored candidates and step scores, with no new generation (see
//! [`crate::analysis::reselect`]). Prints the table and writes it beside the records as
//! `reselect.md` and `reselect.json`.

use crate::analysis::reselect::{reselect, Selection};
use crate::io::write_json;
use crate::runner::sweep;
use crate::search::Aggregation;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `reselect`.
#[derive(Debug, Args)]
pub struct ReselectArgs {
    /// A run's or a sweep's directory (its sweep.json and records.jsonl).
    pub dir: PathBuf,
    /// How step scores become a solution's score, comma-separated: last, min, mean, prod.
    #[arg(long, value_delimiter = ',', value_parser = Aggregation::parse, default_value = "last,min,mean,prod")]
    pub aggregations: Vec<Aggregation>,
    /// How solutions' scores become a choice, comma-separated: max (the highest-scoring
    /// solution) and vote (the answer whose solutions' scores sum highest).
    #[arg(long, value_delimiter = ',', value_parser = Selection::parse, default_value = "max,vote")]
    pub selections: Vec<Selection>,
}

/// Runs `reselect`.
pub fn run(args: ReselectArgs) -> anyhow::Result<ExitCode> {
    let (manifest, records) = sweep::load(&args.dir)?;
    if records.is_empty() {
        anyhow::bail!("{}: no records to choose among", args.dir.display());
    }
    let table = reselect(&manifest, &records, &args.aggregations, &args.selections);
    let md = table.markdown();
    std::fs::write(args.dir.join("reselect.md"), &md)
        .with_context(|| format!("cannot write {}", args.dir.join("reselect.md").display()))?;
    write_json(&args.dir.join("reselect.json"), &table)?;
    print!("{md}");
    println!(
        "* the rule each setting ran with. Written to {} and reselect.json.",
        args.dir.join("reselect.md").display()
    );
    Ok(ExitCode::SUCCESS)
}
