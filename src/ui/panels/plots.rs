//! The Plots tab: a sweep's accuracy curves (egui_plot) for all problems or one difficulty bin,
//! on a log2 budget axis with 95% bands, the compute-optimal frontier, and the budget slider's
//! value marked on the curves with each curve's accuracy there. Everything is read from the
//! sweep's records once ([`crate::analysis::sweep::curves`]); moving the slider or the bin
//! redraws at once, with no run.

use crate::analysis::bins::BINS;
use crate::analysis::sweep::SweepCurves;
use crate::export::palette;
use crate::ui::app::{App, Command, LoadedSweep};
use egui_plot::{FilledArea, Legend, Line, LineStyle, Plot, VLine};

/// A series' accuracy for bin `bin` (0: all problems) at each point: (cost, accuracy).
fn series_points(s: &crate::analysis::sweep::Series, bin: usize) -> Vec<(f64, f64)> {
    s.points
        .iter()
        .filter_map(|p| {
            let y = if bin == 0 {
                Some(p.accuracy)
            } else {
                p.per_bin.get(bin - 1).copied()
            };
            y.map(|y| (p.cost, y))
        })
        .collect()
}

/// The compute-optimal frontier of bin `bin` (0: all).
fn frontier(c: &SweepCurves, bin: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = c
        .optimal
        .iter()
        .filter(|o| o.bin == bin)
        .map(|o| (o.cost, o.accuracy))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// Each curve's accuracy at `budget` generations for bin `bin` (where it has that budget), in
/// the order drawn: what the marker line reads.
pub fn at_budget(sweep: &LoadedSweep, bin: usize, budget: usize) -> Vec<(String, f64)> {
    let c = &sweep.curves;
    let mut out: Vec<(String, f64)> = c
        .series
        .iter()
        .filter_map(|s| {
            series_points(s, bin)
                .into_iter()
                .find(|p| (p.0 - budget as f64).abs() < 1e-9)
                .map(|p| (s.label.clone(), p.1))
        })
        .collect();
    if let Some(p) = frontier(c, bin)
        .into_iter()
        .find(|p| (p.0 - budget as f64).abs() < 1e-9)
    {
        out.push(("compute-optimal".into(), p.1));
    }
    out
}

fn colour(i: usize) -> egui::Color32 {
    let c = palette::series_colour(i);
    egui::Color32::from_rgb(c.0, c.1, c.2)
}

/// Draws the tab.
pub fn ui(ui: &mut egui::Ui, app: &App, cmds: &mut Vec<Command>) {
    let Some(sweep) = &app.sweep else {
        if app.sweep_loading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("reading the sweep's records…");
            });
        } else {
            ui.label(
                "No sweep open. \"Open sweep…\" reads a sweep directory (thinkscale sweep, run or \
                 evaluate write one) and draws its curves here.",
            );
        }
        return;
    };
    let c = &sweep.curves;
    let bin = app.plot_bin;
    ui.horizontal_wrapped(|ui| {
        ui.label(format!(
            "{} — {} problems, verifier {}",
            sweep.dir.display(),
            c.problems,
            sweep.manifest.config.verifier
        ));
        ui.separator();
        let bin_label = ui.label("Difficulty bin");
        let name = |b: usize| match b {
            0 => "all problems".to_string(),
            1 => "1 (easiest)".to_string(),
            b if b == BINS => format!("{b} (hardest)"),
            b => b.to_string(),
        };
        egui::ComboBox::from_id_salt("plot-bin")
            .selected_text(name(bin))
            .show_ui(ui, |ui| {
                for b in 0..=BINS {
                    if ui.selectable_label(bin == b, name(b)).clicked() {
                        cmds.push(Command::SetPlotBin(b));
                    }
                }
            })
            .response
            .labelled_by(bin_label.id)
            .on_hover_text(
                "Oracle difficulty bins: problems cut into 5 quantiles of the policy's pass@1, \
                 bin 1 the easiest",
            );
    });
    let budget = app.settings.budget;
    let readings = at_budget(sweep, bin, budget);
    ui.label(if readings.is_empty() {
        format!("at N = {budget}: no curve has this budget")
    } else {
        format!(
            "at N = {budget}: {}",
            readings
                .iter()
                .map(|(l, a)| format!("{l} {a:.3}"))
                .collect::<Vec<_>>()
                .join(" · ")
        )
    });
    Plot::new("sweep-accuracy")
        .legend(Legend::default())
        .x_axis_label("generation budget")
        .y_axis_label("accuracy")
        .include_y(0.0)
        .include_y(1.0)
        .x_grid_spacer(egui_plot::uniform_grid_spacer(|_| [1.0, 2.0, 4.0]))
        .x_axis_formatter(|m, _| format!("{}", m.value.exp2().round()))
        .show(ui, |p| {
            for (i, s) in c.series.iter().enumerate() {
                let pts = series_points(s, bin);
                if pts.is_empty() {
                    continue;
                }
                let col = colour(i);
                let xs: Vec<f64> = pts.iter().map(|q| q.0.log2()).collect();
                if bin == 0 && s.label != "pass@n" {
                    let lows: Vec<f64> = s.points.iter().map(|q| q.low).collect();
                    let highs: Vec<f64> = s.points.iter().map(|q| q.high).collect();
                    if lows.len() == xs.len() {
                        p.add(
                            FilledArea::new(s.label.clone(), &xs, &lows, &highs)
                                .fill_color(col.gamma_multiply(0.15)),
                        );
                    }
                }
                let line: Vec<[f64; 2]> = xs.iter().zip(&pts).map(|(x, q)| [*x, q.1]).collect();
                let mut l = Line::new(s.label.clone(), line).color(col).width(1.5);
                if s.label == "pass@n" {
                    l = l
                        .style(LineStyle::dashed_loose())
                        .color(egui::Color32::GRAY);
                }
                p.line(l);
            }
            let f: Vec<[f64; 2]> = frontier(c, bin).iter().map(|q| [q.0.log2(), q.1]).collect();
            if !f.is_empty() {
                p.line(
                    Line::new("compute-optimal", f)
                        .color(crate::ui::theme::CHOSEN)
                        .width(2.5),
                );
            }
            p.vline(
                VLine::new(format!("budget N = {budget}"), (budget as f64).log2())
                    .color(egui::Color32::DARK_GRAY),
            );
        });
}
