//! `thinkscale plot`: paper figures of a sweep directory, each with the CSV and JSON of the
//! numbers it draws (see [`crate::export`]).

use crate::analysis::sweep::curves;
use crate::export::{self, Figure, Format, Preset};
use crate::runner::sweep;
use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Which figures to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureChoice {
    /// Every figure the sweep has data for.
    All,
    /// One figure.
    One(Figure),
}

impl FigureChoice {
    /// Parses `all` or a figure's name.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim() == "all" {
            return Ok(Self::All);
        }
        Figure::parse(s)
            .map(Self::One)
            .map_err(|e| format!("{e}, or all"))
    }
}

/// Flags of `plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The sweep directory (its sweep.json and records.jsonl).
    pub sweep: PathBuf,
    /// The figure: accuracy, compute-tokens, compute-flops, optimal, bins, scores, exchange,
    /// or all (every figure the sweep has data for).
    #[arg(long, default_value = "all", value_parser = FigureChoice::parse)]
    pub figure: FigureChoice,
    /// Where: FILE.svg or FILE.png for one figure (FILE.csv and FILE.json go beside it), or a
    /// directory (created if missing) for NAME.FORMAT files. Default: SWEEP/figures.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Paper width: single (one column, 3.25 in) or double (two columns, 6.75 in).
    #[arg(long, default_value = "single", value_parser = Preset::parse)]
    pub preset: Preset,
    /// Image format when --out is a directory: svg or png (300 dpi).
    #[arg(long, default_value = "svg", value_parser = Format::parse)]
    pub format: Format,
}

/// Whether `out` names a file (it has an extension and is not an existing directory).
fn names_a_file(out: &Path) -> bool {
    out.extension().is_some() && !out.is_dir()
}

/// Runs `plot`.
pub fn run(args: PlotArgs) -> anyhow::Result<ExitCode> {
    let (manifest, records) = sweep::load(&args.sweep)?;
    let curves = curves(&manifest, &records);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.sweep.join("figures"));
    let figures: Vec<Figure> = match args.figure {
        FigureChoice::All => {
            if names_a_file(&out) {
                bail!(
                    "--figure all writes one file per figure: give --out a directory, not {}",
                    out.display()
                );
            }
            Figure::ALL.to_vec()
        }
        FigureChoice::One(f) => vec![f],
    };
    let to_dir = !names_a_file(&out);
    if to_dir {
        std::fs::create_dir_all(&out)
            .with_context(|| format!("cannot create {}", out.display()))?;
    }
    let bar = super::progress_bar(figures.len() as u64, "figures")?;
    let mut written = Vec::new();
    for figure in figures {
        bar.set_message(figure.as_str());
        let file = if to_dir {
            out.join(format!("{figure}.{}", args.format))
        } else {
            out.clone()
        };
        match figure.data(&manifest, &curves, &records) {
            Err(no) if args.figure == FigureChoice::All => {
                bar.println(format!("skipped: {no}"));
            }
            Err(no) => return Err(no.into()),
            Ok(_) => written.extend(export::write_figure(
                figure,
                &manifest,
                &curves,
                &records,
                args.preset,
                &file,
            )?),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if written.is_empty() {
        bail!(
            "no figure has data in {} (no records yet?)",
            args.sweep.display()
        );
    }
    for f in &written {
        println!("{}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
