//! The figures and the numbers each one draws. A figure is a [`Figure`] variant and a builder
//! that turns a sweep into [`FigureData`]; [`super::draw`] draws any `FigureData`, so a new
//! figure needs a new kind of mark only when it draws something none of the others do.

use super::data::{
    fmt_number, Axis, Bin, FigureData, LineStyle, Mark, Marker, Panel, Point, Shape,
};
use super::looks::{self, Family, Look};
use super::palette;
use crate::analysis::bins::BINS;
use crate::analysis::sweep::{Series, SweepCurves};
use crate::runner::sweep::{SweepManifest, SweepRecord, SweepRun};
use crate::search::StrategyKind;
use crate::verify::VerifierSpec;
use serde::{Deserialize, Serialize};

/// A figure of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Figure {
    /// Accuracy against generation budget per strategy setting, overall and per difficulty bin.
    Accuracy,
    /// Accuracy against the tokens the policy generated per problem, overall and per bin.
    ComputeTokens,
    /// Accuracy against inference FLOPs (policy and verifier) per problem, overall and per bin.
    ComputeFlops,
    /// Compute-optimal accuracy against weighted best-of-N, with the efficiency gain.
    Optimal,
    /// Problems per oracle difficulty bin, and accuracy by bin at the largest budget.
    Bins,
    /// Verifier score distributions of the bank's samples, right against wrong.
    Scores,
    /// The FLOPs exchange: per bin and ratio R, the policy's compute-optimal accuracy at the
    /// budget that matches a larger policy's FLOPs, against the larger policy's greedy accuracy.
    Exchange,
    /// The search zoo (`sweep --preset search-zoo`): accuracy against tokens generated per
    /// problem, one panel per verifier quality; drawn from several sweeps, not one.
    SearchZoo,
}

/// Why a sweep has nothing to draw for a figure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("figure {figure}: nothing to draw: {reason}")]
pub struct NoData {
    /// The figure's name.
    pub figure: &'static str,
    /// What is missing.
    pub reason: String,
}

impl Figure {
    /// Every figure, in the order a set writes them.
    pub const ALL: [Figure; 7] = [
        Self::Accuracy,
        Self::ComputeTokens,
        Self::ComputeFlops,
        Self::Optimal,
        Self::Bins,
        Self::Scores,
        Self::Exchange,
    ];

    /// The name as flags and files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accuracy => "accuracy",
            Self::ComputeTokens => "compute-tokens",
            Self::ComputeFlops => "compute-flops",
            Self::Optimal => "optimal",
            Self::Bins => "bins",
            Self::Scores => "scores",
            Self::Exchange => "exchange",
            Self::SearchZoo => "search-zoo",
        }
    }

    /// Parses a figure's name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown figure '{s}': the figures are {}",
                    Self::ALL.map(Figure::as_str).join(", ")
                )
            })
    }

    /// The numbers this figure draws for a sweep; [`NoData`] when the sweep has none (a
    /// sweep without a bank of samples has no verifier scores, for one).
    pub fn data(
        self,
        manifest: &SweepManifest,
        curves: &SweepCurves,
        records: &[SweepRecord],
    ) -> Result<FigureData, NoData> {
        let built = match self {
            Self::Accuracy => accuracy(manifest, curves),
            Self::ComputeTokens => compute(manifest, curves, Cost::Tokens),
            Self::ComputeFlops => compute(manifest, curves, Cost::Flops),
            Self::Optimal => optimal(manifest, curves),
            Self::Bins => bins(manifest, curves),
            Self::Scores => scores(manifest, records),
            Self::Exchange => exchange(manifest, curves),
            Self::SearchZoo => Err(
                "the search zoo's figure is drawn from its several sweeps (sweep --preset \
                 search-zoo writes it)"
                    .into(),
            ),
        };
        built.map_err(|reason| NoData {
            figure: self.as_str(),
            reason,
        })
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verifier as a figure names it; a synthetic one says so.
pub fn verifier_label(v: &VerifierSpec) -> String {
    let name = v.to_string();
    match v {
        VerifierSpec::NoisyOracle(_) if !name.contains("synthetic") => {
            format!("{name} (synthetic)")
        }
        _ => name,
    }
}

/// The label of the ceiling series in [`SweepCurves`].
const CEILING: &str = "pass@n";

/// How each series of the curves is drawn, the same in every figure of the curves: the
/// ceiling black and dashed without markers, the others by [`looks::assign`] over their
/// strategies' families.
fn looks(curves: &SweepCurves) -> Vec<Look> {
    let families: Vec<Family> = curves
        .series
        .iter()
        .filter(|s| s.label != CEILING)
        .map(|s| Family::of(s.strategy))
        .collect();
    let mut assigned = looks::assign(&families).into_iter();
    curves
        .series
        .iter()
        .map(|s| {
            let ceiling = Look {
                colour: palette::REFERENCE,
                line: LineStyle::Dashed,
                marker: Marker::None,
            };
            if s.label == CEILING {
                ceiling
            } else {
                assigned.next().unwrap_or(ceiling)
            }
        })
        .collect()
}

fn line(series: &str, look: &Look, points: Vec<Point>) -> Mark {
    Mark {
        series: series.into(),
        colour: look.colour,
        line: look.line,
        marker: look.marker,
        in_legend: true,
        shape: Shape::Line(points),
    }
}

/// A difficulty bin's panel title.
fn bin_title(b: usize) -> String {
    match b {
        1 => "bin 1 (easiest)".into(),
        b if b == BINS => format!("bin {b} (hardest)"),
        b => format!("bin {b}"),
    }
}

/// The bins that hold problems.
fn bins_with_problems(curves: &SweepCurves) -> Vec<usize> {
    (1..=BINS)
        .filter(|&b| curves.bins.oracle_sizes.get(b - 1).is_some_and(|&n| n > 0))
        .collect()
}

fn no_records() -> String {
    "the sweep has no records yet".into()
}

/// The panels of an accuracy figure: all problems (with the 95% bands, but for the ceiling)
/// and one per difficulty bin that holds problems, each drawing the `drawn` series at the x
/// that `x_of` gives a point (a point without one is left out).
fn accuracy_panels(
    curves: &SweepCurves,
    drawn: &[(&Series, &Look)],
    x: &Axis,
    x_of: &dyn Fn(&crate::analysis::sweep::SeriesPoint) -> Option<f64>,
) -> Vec<Panel> {
    let panel =
        |title: String,
         y_of: &dyn Fn(&crate::analysis::sweep::SeriesPoint, bool) -> Option<Point>| {
            Panel {
                title,
                wide: false,
                x: x.clone(),
                y: Axis::accuracy(),
                marks: drawn
                    .iter()
                    .map(|(s, look)| {
                        let ceiling = s.label == CEILING;
                        let points = s.points.iter().filter_map(|p| y_of(p, ceiling)).collect();
                        line(&s.label, look, points)
                    })
                    .collect(),
            }
        };
    let mut panels = vec![panel("all problems".into(), &|p, ceiling| {
        x_of(p).map(|x| Point {
            low: (!ceiling).then_some(p.low),
            high: (!ceiling).then_some(p.high),
            ..Point::at(x, p.accuracy)
        })
    })];
    for b in bins_with_problems(curves) {
        panels.push(panel(bin_title(b), &|p, _| {
            let a = *p.per_bin.get(b - 1)?;
            x_of(p).map(|x| Point::at(x, a))
        }));
    }
    panels
}

/// Accuracy against generation budget: every series of the curves, a panel for all problems
/// (with 95% interval bands) and one per difficulty bin.
fn accuracy(manifest: &SweepManifest, curves: &SweepCurves) -> Result<FigureData, String> {
    let looks = looks(curves);
    let drawn: Vec<(&Series, &Look)> = curves
        .series
        .iter()
        .zip(&looks)
        .filter(|(s, _)| !s.points.is_empty())
        .collect();
    if drawn.is_empty() {
        return Err(no_records());
    }
    let xs: Vec<f64> = drawn
        .iter()
        .flat_map(|(s, _)| s.points.iter().map(|p| p.cost))
        .collect();
    let x = Axis::budgets("generation budget", &xs, &manifest.config.budgets);
    let panels = accuracy_panels(curves, &drawn, &x, &|p| Some(p.cost));
    Ok(FigureData {
        title: format!(
            "Accuracy by generation budget ({} problems, verifier {})",
            curves.problems,
            verifier_label(&manifest.config.verifier)
        ),
        panels,
    })
}

/// What a compute figure puts on its horizontal axis.
#[derive(Clone, Copy)]
enum Cost {
    Tokens,
    Flops,
}

/// Accuracy against compute per problem (tokens generated or inference FLOPs, as the records
/// measured them), every series of the curves but the ceiling, on a log2 axis: a panel for
/// all problems (with bands) and one per difficulty bin.
fn compute(
    manifest: &SweepManifest,
    curves: &SweepCurves,
    cost: Cost,
) -> Result<FigureData, String> {
    let of = |p: &crate::analysis::sweep::SeriesPoint| match cost {
        Cost::Tokens => p.tokens,
        Cost::Flops => p.flops,
    };
    let looks = looks(curves);
    let drawn: Vec<(&Series, &Look)> = curves
        .series
        .iter()
        .zip(&looks)
        .filter(|(s, _)| s.label != CEILING && s.points.iter().any(|p| of(p) > 0.0))
        .collect();
    if drawn.is_empty() {
        return Err(if curves.series.is_empty() {
            no_records()
        } else {
            "the records carry no compute counts".into()
        });
    }
    let xs: Vec<f64> = drawn
        .iter()
        .flat_map(|(s, _)| s.points.iter().map(of))
        .filter(|&x| x > 0.0)
        .collect();
    let (label, unit) = match cost {
        Cost::Tokens => ("tokens generated per problem", "tokens"),
        Cost::Flops => ("inference FLOPs per problem", "FLOPs"),
    };
    let x = Axis::log2(label, &xs);
    let panels = accuracy_panels(curves, &drawn, &x, &|p| Some(of(p)).filter(|&v| v > 0.0));
    Ok(FigureData {
        title: format!(
            "Accuracy by {unit} per problem ({} problems, verifier {})",
            curves.problems,
            verifier_label(&manifest.config.verifier)
        ),
        panels,
    })
}

/// The search zoo: one panel per verifier (in the order given), each with every series of
/// that verifier's sweep but the ceiling, accuracy against tokens generated per problem on one
/// shared log2 axis (without bands: nine series' bands hide one another; each sweep's own
/// figures have them). Series look the same in every panel (the sweeps run the
/// same settings in the same order).
pub fn search_zoo(parts: &[(String, &SweepCurves)]) -> Result<FigureData, String> {
    let drawn = |c: &'_ SweepCurves| -> Vec<usize> {
        (0..c.series.len())
            .filter(|&i| {
                c.series[i].label != CEILING && c.series[i].points.iter().any(|p| p.tokens > 0.0)
            })
            .collect()
    };
    let xs: Vec<f64> = parts
        .iter()
        .flat_map(|(_, c)| {
            drawn(c)
                .into_iter()
                .flat_map(|i| c.series[i].points.iter().map(|p| p.tokens))
                .collect::<Vec<_>>()
        })
        .filter(|&x| x > 0.0)
        .collect();
    if xs.is_empty() {
        return Err(no_records());
    }
    let x = Axis::log2("tokens generated per problem", &xs);
    let mut problems = 0;
    let panels: Vec<Panel> = parts
        .iter()
        .map(|(verifier, c)| {
            problems = problems.max(c.problems);
            let looks = looks(c);
            Panel {
                title: verifier.clone(),
                wide: false,
                x: x.clone(),
                y: Axis::accuracy(),
                marks: drawn(c)
                    .into_iter()
                    .map(|i| {
                        let s = &c.series[i];
                        let points = s
                            .points
                            .iter()
                            .filter(|p| p.tokens > 0.0)
                            .map(|p| Point::at(p.tokens, p.accuracy))
                            .collect();
                        line(&s.label, &looks[i], points)
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(FigureData {
        title: format!(
            "Search strategies at equal tokens by verifier quality ({problems} problems)"
        ),
        panels,
    })
}

/// An efficiency gain as the figure writes it.
pub fn gain_label(gain: Option<f64>) -> String {
    gain.map_or_else(|| "not reached".into(), |g| format!("{g:.1}x"))
}

/// Compute-optimal accuracy against weighted best-of-N, every compute-optimal point of all
/// problems annotated with its efficiency gain; a panel per bin where the data has them.
fn optimal(manifest: &SweepManifest, curves: &SweepCurves) -> Result<FigureData, String> {
    let of_bin = |b: usize| {
        let mut v: Vec<_> = curves.optimal.iter().filter(|o| o.bin == b).collect();
        v.sort_by(|a, z| a.cost.total_cmp(&z.cost));
        v
    };
    if of_bin(0).is_empty() {
        return Err(if curves.series.is_empty() {
            no_records()
        } else {
            "no compute-optimal points".into()
        });
    }
    let looks = looks(curves);
    let bon = curves
        .series
        .iter()
        .zip(&looks)
        .find(|(s, _)| s.strategy == StrategyKind::WeightedBestOfN && !s.points.is_empty());
    let optimal_look = Look {
        colour: palette::REFERENCE,
        line: LineStyle::Solid,
        marker: Marker::Square,
    };
    let mut xs: Vec<f64> = curves.optimal.iter().map(|o| o.cost).collect();
    if let Some((s, _)) = bon {
        xs.extend(s.points.iter().map(|p| p.cost));
    }
    let x = Axis::budgets("generation budget", &xs, &manifest.config.budgets);
    let mut panels = Vec::new();
    let mut bins = vec![0];
    if curves.optimal.iter().any(|o| o.bin > 0) {
        bins.extend(bins_with_problems(curves));
    }
    for b in bins {
        let opt = of_bin(b);
        if opt.is_empty() {
            continue;
        }
        let mut marks = Vec::new();
        if let Some((s, look)) = bon {
            let points = s
                .points
                .iter()
                .filter_map(|p| {
                    let y = if b == 0 {
                        Some(p.accuracy)
                    } else {
                        p.per_bin.get(b - 1).copied()
                    };
                    y.map(|y| Point::at(p.cost, y))
                })
                .collect();
            marks.push(line(&s.label, look, points));
        }
        let points = opt
            .iter()
            .map(|o| Point {
                note: (b == 0).then(|| {
                    gain_label(
                        curves
                            .efficiency
                            .iter()
                            .find(|e| e.cost == o.cost)
                            .and_then(|e| e.gain),
                    )
                }),
                ..Point::at(o.cost, o.accuracy)
            })
            .collect();
        marks.push(line("compute-optimal", &optimal_look, points));
        panels.push(Panel {
            title: if b == 0 {
                "all problems".into()
            } else {
                bin_title(b)
            },
            // The gains written over the points need the width.
            wide: b == 0,
            x: x.clone(),
            y: Axis::accuracy(),
            marks,
        });
    }
    Ok(FigureData {
        title: format!(
            "Compute-optimal vs weighted best-of-N (verifier {})",
            verifier_label(&manifest.config.verifier)
        ),
        panels,
    })
}

/// Round ticks from 0 to at least `max`: about four steps of 1, 2 or 5 times a power of ten.
fn round_ticks(max: f64) -> (f64, Vec<f64>) {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let raw = max / 4.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    let n = (max / step).ceil() as usize;
    let ticks: Vec<f64> = (0..=n).map(|i| i as f64 * step).collect();
    (n as f64 * step, ticks)
}

/// The bins' x axis: one tick per bin.
fn bin_axis() -> Axis {
    let at: Vec<f64> = (1..=BINS).map(|b| b as f64).collect();
    Axis::linear(
        "oracle difficulty bin (1 = easiest)",
        (0.5, BINS as f64 + 0.5),
        &at,
        fmt_number,
    )
}

/// Problems per oracle bin, and each series' accuracy per bin at the sweep's largest budget.
fn bins(manifest: &SweepManifest, curves: &SweepCurves) -> Result<FigureData, String> {
    let sizes = &curves.bins.oracle_sizes;
    if curves.problems == 0 || sizes.iter().all(|&n| n == 0) {
        return Err(no_records());
    }
    let most = sizes.iter().copied().max().unwrap_or(0) as f64;
    let (top, at) = round_ticks(most);
    let mut panels = vec![Panel {
        title: "problems per bin".into(),
        wide: true,
        x: bin_axis(),
        y: Axis::linear("problems", (0.0, top), &at, fmt_number),
        marks: vec![Mark {
            series: "problems".into(),
            colour: palette::NEUTRAL,
            line: LineStyle::Solid,
            marker: Marker::None,
            in_legend: false,
            shape: Shape::Bars(
                sizes
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| Point::at((i + 1) as f64, n as f64))
                    .collect(),
            ),
        }],
    }];
    if let Some(&largest) = manifest.config.budgets.iter().max() {
        let looks = looks(curves);
        let marks: Vec<Mark> = curves
            .series
            .iter()
            .zip(&looks)
            .filter_map(|(s, look)| {
                let p = s.points.iter().find(|p| p.budget == largest)?;
                let points = bins_with_problems(curves)
                    .into_iter()
                    .filter_map(|b| p.per_bin.get(b - 1).map(|&a| Point::at(b as f64, a)))
                    .collect();
                Some(Mark {
                    shape: Shape::Bars(points),
                    ..line(&s.label, look, Vec::new())
                })
            })
            .collect();
        if !marks.is_empty() {
            panels.push(Panel {
                title: format!("accuracy by bin at N = {largest}"),
                wide: true,
                x: bin_axis(),
                y: Axis::accuracy(),
                marks,
            });
        }
    }
    Ok(FigureData {
        title: format!(
            "Difficulty bins (oracle: pass@1 of {} samples; {} problems, verifier {})",
            curves.bins.oracle_samples,
            curves.problems,
            verifier_label(&manifest.config.verifier)
        ),
        panels,
    })
}

/// The FLOPs exchange: a panel per ratio R, bars per bin (0 = all problems) for the larger
/// policy answering greedily and for the policy with compute-optimal test-time compute at the
/// matched budget (no bar where that budget lies beyond the sweep).
fn exchange(manifest: &SweepManifest, curves: &SweepCurves) -> Result<FigureData, String> {
    let Some(e) = &curves.exchange else {
        return Err("the sweep ran no larger policy (--larger-policy)".into());
    };
    if e.rows.is_empty() {
        return Err("no exchange ratios".into());
    }
    let at: Vec<f64> = (0..=BINS).map(|b| b as f64).collect();
    let x = Axis::linear(
        "oracle difficulty bin (0 = all problems, 1 = easiest)",
        (-0.5, BINS as f64 + 0.5),
        &at,
        fmt_number,
    );
    let small = Look {
        colour: palette::series_colour(0),
        line: LineStyle::Solid,
        marker: Marker::None,
    };
    let larger = Look {
        colour: palette::NEUTRAL,
        line: LineStyle::Solid,
        marker: Marker::None,
    };
    let panels = e
        .rows
        .iter()
        .map(|row| {
            let bars = |f: &dyn Fn(&crate::analysis::exchange::ExchangeCell) -> Option<f64>| {
                row.cells
                    .iter()
                    .filter_map(|c| {
                        f(c).map(|y| Point {
                            note: None,
                            ..Point::at(c.bin as f64, y)
                        })
                    })
                    .collect::<Vec<_>>()
            };
            Panel {
                title: format!(
                    "R = {}: {} generations match the larger policy",
                    fmt_number(row.ratio),
                    fmt_number(row.budget)
                ),
                wide: true,
                x: x.clone(),
                y: Axis::accuracy(),
                marks: vec![
                    Mark {
                        shape: Shape::Bars(bars(&|c| Some(c.larger))),
                        ..line("larger policy, greedy", &larger, Vec::new())
                    },
                    Mark {
                        shape: Shape::Bars(bars(&|c| c.small)),
                        ..line(
                            "policy + compute-optimal test-time compute",
                            &small,
                            Vec::new(),
                        )
                    },
                ],
            }
        })
        .collect();
    Ok(FigureData {
        title: format!(
            "FLOPs exchange: {:.1}x larger policy vs test-time compute (verifier {})",
            e.m,
            verifier_label(&manifest.config.verifier)
        ),
        panels,
    })
}

/// Bins of a score histogram.
const SCORE_BINS: usize = 20;

/// The verifier's scores of the bank's samples, right against wrong: each class's share of
/// its samples per score bin.
fn scores(manifest: &SweepManifest, records: &[SweepRecord]) -> Result<FigureData, String> {
    let mut right = Vec::new();
    let mut wrong = Vec::new();
    for r in records {
        if !matches!(r.run, SweepRun::Bank { .. }) {
            continue;
        }
        for c in &r.record.candidates {
            let s = f64::from(c.score);
            match c.correct {
                Some(true) if s.is_finite() => right.push(s),
                Some(false) if s.is_finite() => wrong.push(s),
                _ => {}
            }
        }
    }
    if right.is_empty() && wrong.is_empty() {
        return Err(if records.is_empty() {
            no_records()
        } else {
            "no bank of graded samples (the sweep ran no sampling strategy)".into()
        });
    }
    let all = right.iter().chain(&wrong).copied();
    let lo = all.clone().fold(0.0, f64::min);
    let hi = all.fold(1.0, f64::max);
    let width = (hi - lo) / SCORE_BINS as f64;
    let histogram = |values: &[f64]| -> Vec<Bin> {
        let mut counts = vec![0usize; SCORE_BINS];
        for &v in values {
            let i = (((v - lo) / width).floor() as usize).min(SCORE_BINS - 1);
            counts[i] += 1;
        }
        counts
            .into_iter()
            .enumerate()
            .map(|(i, count)| Bin {
                from: lo + i as f64 * width,
                to: lo + (i + 1) as f64 * width,
                y: count as f64 / values.len() as f64,
                count,
            })
            .collect()
    };
    let mut marks = Vec::new();
    for (name, values, colour) in [
        ("right", &right, palette::RIGHT),
        ("wrong", &wrong, palette::WRONG),
    ] {
        if values.is_empty() {
            continue;
        }
        marks.push(Mark {
            series: format!("{name} (n = {})", values.len()),
            colour,
            line: LineStyle::Solid,
            marker: Marker::None,
            in_legend: true,
            shape: Shape::Steps(histogram(values)),
        });
    }
    let tallest = marks
        .iter()
        .flat_map(|m| match &m.shape {
            Shape::Steps(bins) => bins.iter().map(|b| b.y).collect(),
            _ => Vec::new(),
        })
        .fold(0.0, f64::max);
    let (top, at) = round_ticks(tallest);
    let x_at: Vec<f64> = (0..=5)
        .map(|i| lo + (hi - lo) * f64::from(i) / 5.0)
        .collect();
    let cfg = &manifest.config;
    Ok(FigureData {
        title: format!(
            "Verifier scores of the bank's samples: {}",
            verifier_label(&cfg.verifier)
        ),
        panels: vec![Panel {
            title: "all problems".into(),
            wide: true,
            x: Axis::linear(
                &format!("verifier score ({} step)", cfg.aggregation.as_str()),
                (lo, hi),
                &x_at,
                |v| format!("{v:.1}"),
            ),
            y: Axis::linear("fraction of samples", (0.0, top), &at, |v| {
                format!("{v:.2}")
            }),
            marks,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::noisy::NoisySpec;

    #[test]
    fn figures_parse_their_names() {
        for f in Figure::ALL {
            assert_eq!(Figure::parse(f.as_str()), Ok(f));
        }
        let err = Figure::parse("flops").unwrap_err();
        assert!(
            err.contains("accuracy, compute-tokens, compute-flops, optimal, bins, scores"),
            "{err}"
        );
    }

    #[test]
    fn a_synthetic_verifier_is_labelled_synthetic() {
        let noisy = VerifierSpec::NoisyOracle(NoisySpec::parse("0.8").unwrap());
        assert_eq!(verifier_label(&noisy), "noisy-oracle:0.8 (synthetic)");
        assert_eq!(verifier_label(&VerifierSpec::Oracle), "oracle");
    }

    #[test]
    fn round_ticks_cover_the_maximum_in_round_steps() {
        assert_eq!(round_ticks(7.0), (8.0, vec![0.0, 2.0, 4.0, 6.0, 8.0]));
        assert_eq!(round_ticks(0.0), (1.0, vec![0.0, 0.5, 1.0]));
        let (top, t) = round_ticks(0.37);
        assert!(top >= 0.37 && t.len() <= 6, "{top} {t:?}");
        assert_eq!(gain_label(Some(4.06)), "4.1x");
        assert_eq!(gain_label(None), "not reached");
    }
}
