//! The Plots tab: any figure of the open sweep drawn with egui_plot from the very numbers
//! `thinkscale plot` draws ([`crate::export::Figure::data`]): accuracy against budget (log2
//! axis, 95% bands), against tokens or FLOPs per problem, the compute-optimal frontier with its
//! efficiency gain, the difficulty bins, the verifier's scores, and the FLOPs exchange with an
//! R slider. The difficulty bin picks the panel; the budget slider's value is marked on the
//! curves with each curve's accuracy there. Moving the slider, the bin or the figure redraws at
//! once from the curves already read, with no run. A second sweep can be laid over the first
//! (faded), a sweep can be started here (progress, time left, cancel; its curves fill in as
//! its records land), and the figure on screen exports to SVG or PNG with its CSV and JSON.

use crate::analysis::bins::BINS;
use crate::analysis::sweep::{SeriesPoint, SweepCurves};
use crate::export::data::{fmt_compact, Mark, Panel, Scale, Shape};
use crate::export::figures::Figure;
use crate::search::StrategyKind;
use crate::ui::state::{Command, LoadedSweep, State};
use crate::ui::sweeps::fmt_duration;
use egui_plot::{
    Bar, BarChart, FilledArea, Legend, Line, LineStyle, MarkerShape, Plot, PlotPoint, Points, Text,
    VLine,
};

/// A series' accuracy for bin `bin` (0: all problems) at each point: (point, accuracy).
fn series_points(s: &crate::analysis::sweep::Series, bin: usize) -> Vec<(&SeriesPoint, f64)> {
    s.points
        .iter()
        .filter_map(|p| {
            let y = if bin == 0 {
                Some(p.accuracy)
            } else {
                p.per_bin.get(bin - 1).copied()
            };
            y.map(|y| (p, y))
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
                .find(|p| (p.0.cost - budget as f64).abs() < 1e-9)
                .map(|p| (s.label.clone(), p.1))
        })
        .collect();
    if let Some(p) = frontier(c, bin)
        .into_iter()
        .find(|p| (p.0 - budget as f64).abs() < 1e-9)
    {
        out.push(("compute-optimal (cross-validated)".into(), p.1));
    }
    out
}

/// Problems in oracle bin `bin` (0: all).
fn bin_size(c: &SweepCurves, bin: usize) -> usize {
    match bin {
        0 => c.problems,
        b => c.bins.oracle_sizes.get(b - 1).copied().unwrap_or(0),
    }
}

/// The figures the tab offers, with their names in the chooser.
const FIGURES: [(Figure, &str); 7] = [
    (Figure::Accuracy, "accuracy vs budget"),
    (Figure::ComputeTokens, "accuracy vs tokens"),
    (Figure::ComputeFlops, "accuracy vs FLOPs"),
    (Figure::Optimal, "compute-optimal frontier"),
    (Figure::Bins, "difficulty bins"),
    (Figure::Scores, "verifier scores"),
    (Figure::Exchange, "FLOPs exchange"),
];

/// Whether a figure's panels are the bins (all problems, then bin 1, 2, …).
fn panels_are_bins(f: Figure) -> bool {
    matches!(
        f,
        Figure::Accuracy | Figure::ComputeTokens | Figure::ComputeFlops | Figure::Optimal
    )
}

/// The panel of `panels` that shows bin `bin` (0: all problems).
fn bin_panel(panels: &[Panel], bin: usize) -> Option<usize> {
    panels.iter().position(|p| {
        if bin == 0 {
            p.title == "all problems"
        } else {
            p.title == format!("bin {bin}") || p.title.starts_with(&format!("bin {bin} "))
        }
    })
}

fn colour(c: crate::export::palette::Rgb) -> egui::Color32 {
    egui::Color32::from_rgb(c.0, c.1, c.2)
}

fn to_x(scale: Scale, x: f64) -> f64 {
    match scale {
        Scale::Linear => x,
        Scale::Log2 => x.max(f64::MIN_POSITIVE).log2(),
    }
}

fn marker_shape(m: crate::export::data::Marker) -> Option<MarkerShape> {
    use crate::export::data::Marker;
    match m {
        Marker::None => None,
        Marker::Circle => Some(MarkerShape::Circle),
        Marker::Square => Some(MarkerShape::Square),
        Marker::Triangle => Some(MarkerShape::Up),
        Marker::Diamond => Some(MarkerShape::Diamond),
    }
}

/// The window's stroke for a figure's line style.
fn line_style(l: crate::export::data::LineStyle) -> LineStyle {
    use crate::export::data::LineStyle as Figure;
    match l {
        Figure::Solid => LineStyle::Solid,
        Figure::Dashed => LineStyle::dashed_loose(),
        Figure::Dotted => LineStyle::dotted_loose(),
    }
}

/// A histogram's bars in plot units: (centre, width, height), each bar spanning its bin.
fn histogram(scale: Scale, bins: &[crate::export::data::Bin]) -> Vec<(f64, f64, f64)> {
    bins.iter()
        .map(|b| {
            let (from, to) = (to_x(scale, b.from), to_x(scale, b.to));
            ((from + to) / 2.0, (to - from).abs(), b.y)
        })
        .collect()
}

/// Adds one mark's items to the plot; `suffix` names an overlay's series apart, and an
/// overlay's lines are faded and thinner (they keep their family's line style).
fn add_mark(
    dark: bool,
    p: &mut egui_plot::PlotUi<'_>,
    scale: Scale,
    m: &Mark,
    suffix: &str,
    bars: (usize, usize),
) {
    // The figures' black (the ceiling) would vanish on a dark background.
    let c = match colour(m.colour) {
        c if dark && u16::from(c.r()) + u16::from(c.g()) + u16::from(c.b()) < 90 => {
            egui::Color32::from_gray(200)
        }
        c => c,
    };
    let name = if m.in_legend {
        format!("{}{suffix}", m.series)
    } else {
        String::new()
    };
    let overlay = !suffix.is_empty();
    match &m.shape {
        Shape::Line(points) if !points.is_empty() => {
            let xs: Vec<f64> = points.iter().map(|q| to_x(scale, q.x)).collect();
            if !overlay && points.iter().all(|q| q.low.is_some() && q.high.is_some()) {
                let lows: Vec<f64> = points.iter().filter_map(|q| q.low).collect();
                let highs: Vec<f64> = points.iter().filter_map(|q| q.high).collect();
                p.add(
                    // Unnamed: the legend takes its entry's colour from the line.
                    FilledArea::new("", &xs, &lows, &highs).fill_color(c.gamma_multiply(0.15)),
                );
            }
            let pts: Vec<[f64; 2]> = xs.iter().zip(points).map(|(x, q)| [*x, q.y]).collect();
            let (c, width) = if overlay {
                (c.gamma_multiply(0.5), 1.2)
            } else {
                (c, 1.8)
            };
            p.line(
                Line::new(name.clone(), pts.clone())
                    .color(c)
                    .width(width)
                    .style(line_style(m.line)),
            );
            if let Some(shape) = marker_shape(m.marker) {
                p.points(
                    Points::new(name.clone(), pts)
                        .shape(shape)
                        .radius(3.0)
                        .color(c),
                );
            }
            for (x, q) in xs.iter().zip(points) {
                if let Some(note) = &q.note {
                    p.text(
                        Text::new("", PlotPoint::new(*x, q.y), format!("  {note}"))
                            .color(c)
                            .anchor(egui::Align2::LEFT_BOTTOM),
                    );
                }
            }
        }
        Shape::Bars(points) if !points.is_empty() => {
            let (k, n) = bars;
            let w = 0.8 / n.max(1) as f64;
            let shift = (k as f64 - (n.max(1) - 1) as f64 / 2.0) * w;
            let items = points
                .iter()
                .map(|q| {
                    let b = Bar::new(to_x(scale, q.x) + shift, q.y).width(w * 0.95);
                    if m.colour == crate::export::palette::REFERENCE {
                        b.fill(egui::Color32::TRANSPARENT)
                            .stroke(egui::Stroke::new(1.5, c))
                    } else {
                        b.fill(c)
                    }
                })
                .collect();
            p.bar_chart(BarChart::new(name, items).color(c));
        }
        Shape::Steps(bins) if !bins.is_empty() => {
            // A histogram: one bar per bin, its edges the bin's, outlined and lightly filled so
            // that two distributions read through each other (a line filled down to 0 drew
            // self-intersecting ribbons across the bins' vertical edges).
            let items = histogram(scale, bins)
                .into_iter()
                .map(|(centre, width, y)| {
                    Bar::new(centre, y)
                        .width(width)
                        .fill(c.gamma_multiply(0.3))
                        .stroke(egui::Stroke::new(1.5, c))
                })
                .collect();
            p.bar_chart(BarChart::new(name, items).color(c));
        }
        _ => {}
    }
}

/// Draws one panel of a figure, with `overlay` (a second sweep's same panel, named by
/// `overlay_name`) faded over it, a vertical marker at `marker` (data units) and `spots`
/// (points on the curves) ringed.
fn draw_panel(
    ui: &mut egui::Ui,
    panel: &Panel,
    overlay: Option<(&Panel, &str)>,
    marker: Option<(f64, String)>,
    spots: &[[f64; 2]],
) {
    let scale = panel.x.scale;
    let (x0, x1) = panel.x.range;
    let (y0, y1) = panel.y.range;
    let log = scale == Scale::Log2;
    let mut plot = Plot::new(("figure-panel", panel.title.as_str()))
        .legend(Legend::default())
        .x_axis_label(panel.x.label.clone())
        .y_axis_label(panel.y.label.clone())
        .include_x(to_x(scale, x0))
        .include_x(to_x(scale, x1))
        .include_y(y0)
        .include_y(y1);
    if log {
        plot = plot
            .x_grid_spacer(egui_plot::uniform_grid_spacer(|_| [1.0, 2.0, 4.0]))
            .x_axis_formatter(|m, _| fmt_compact(m.value.exp2()))
            .label_formatter(|pos| {
                Some(match pos {
                    egui_plot::HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => format!(
                        "{plot_name}\nx = {}\ny = {:.3}",
                        fmt_compact(position.x.exp2()),
                        position.y
                    ),
                    egui_plot::HoverPosition::Elsewhere { position } => format!(
                        "x = {}\ny = {:.3}",
                        fmt_compact(position.x.exp2()),
                        position.y
                    ),
                })
            });
    }
    let bar_marks = |p: &Panel| {
        p.marks
            .iter()
            .filter(|m| matches!(m.shape, Shape::Bars(_)))
            .count()
    };
    let dark = ui.visuals().dark_mode;
    plot.show(ui, |p| {
        let n = bar_marks(panel);
        let mut k = 0;
        for m in &panel.marks {
            add_mark(dark, p, scale, m, "", (k, n));
            k += usize::from(matches!(m.shape, Shape::Bars(_)));
        }
        if let Some((o, name)) = overlay {
            let suffix = format!(" [{name}]");
            for m in &o.marks {
                if matches!(m.shape, Shape::Line(_)) {
                    add_mark(dark, p, o.x.scale, m, &suffix, (0, 1));
                }
            }
        }
        if let Some((x, label)) = marker {
            p.vline(
                VLine::new(label, to_x(scale, x))
                    .color(egui::Color32::from_gray(170))
                    .width(1.5)
                    .style(LineStyle::dashed_dense()),
            );
        }
        if !spots.is_empty() {
            let pts: Vec<[f64; 2]> = spots.iter().map(|q| [to_x(scale, q[0]), q[1]]).collect();
            p.points(
                Points::new("at the budget slider", pts)
                    .shape(MarkerShape::Circle)
                    .filled(false)
                    .radius(7.0)
                    .color(egui::Color32::DARK_GRAY),
            );
        }
    });
}

/// Draws the tab.
pub fn ui(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    // The figure's numbers, built once a frame for the choosers and the plot.
    let built = app
        .sweep
        .as_ref()
        .map(|s| app.plot_figure.data(&s.manifest, &s.curves, &s.records));
    toolbar(ui, app, built.as_ref().and_then(|d| d.as_ref().ok()), cmds);
    sweep_runner(ui, app, cmds);
    ui.separator();
    let Some(sweep) = &app.sweep else {
        if app.sweep_loading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("reading the sweep's records…");
            });
        } else {
            ui.label(
                "No sweep open. \"Open sweep…\" reads a sweep directory (thinkscale sweep, run or \
                 evaluate write one, and so does every Run in this window: runs/window), or run \
                 one above; its curves appear here.",
            );
            if let Some(dir) = &app.kept {
                if ui
                    .button(format!("Open {}", dir.display()))
                    .on_hover_text("The sweep the last Run in this window was kept in")
                    .clicked()
                {
                    cmds.push(Command::OpenSweep(dir.clone()));
                }
            }
        }
        return;
    };
    let c = &sweep.curves;
    let bin = app.plot_bin;
    let figure = app.plot_figure;
    ui.horizontal_wrapped(|ui| {
        let in_bin = if bin > 0 && panels_are_bins(figure) {
            format!(" (difficulty bin {bin}: {})", bin_size(c, bin))
        } else {
            String::new()
        };
        ui.label(format!(
            "{} — {} problems{in_bin}, verifier {}",
            sweep.dir.display(),
            c.problems,
            sweep.manifest.config.verifier
        ));
        if let Some(o) = &app.overlay {
            ui.separator();
            ui.label(format!("overlay (faded): {}", o.dir.display()));
        }
    });
    let data = match built {
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            ui.label(format!("{e}"));
            return;
        }
        None => return,
    };
    let index = if panels_are_bins(figure) {
        match bin_panel(&data.panels, bin) {
            Some(i) => i,
            None => {
                ui.label(format!(
                    "this sweep has no problems in difficulty bin {bin}"
                ));
                return;
            }
        }
    } else {
        app.plot_panel.min(data.panels.len().saturating_sub(1))
    };
    let Some(panel) = data.panels.get(index) else {
        ui.label("this figure has no panel to draw");
        return;
    };
    let budget = app.settings.budget;
    let mut marker = None;
    let mut spots = Vec::new();
    match figure {
        Figure::Accuracy | Figure::Optimal => {
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
            marker = Some((budget as f64, format!("budget N = {budget}")));
        }
        Figure::ComputeTokens | Figure::ComputeFlops => {
            let flops = figure == Figure::ComputeFlops;
            let mut read = Vec::new();
            for s in c.series.iter().filter(|s| s.label != "pass@n") {
                if let Some((p, a)) = series_points(s, bin)
                    .into_iter()
                    .find(|(p, _)| p.budget == budget && p.tokens > 0.0)
                {
                    let x = if flops { p.flops } else { p.tokens };
                    spots.push([x, a]);
                    read.push(format!("{} {a:.3} at {}", s.label, fmt_compact(x)));
                }
            }
            ui.label(if read.is_empty() {
                format!("at N = {budget}: no curve has this budget")
            } else {
                format!("at N = {budget} (ringed): {}", read.join(" · "))
            });
        }
        _ => {}
    }
    if figure == Figure::Optimal {
        let sizes: Vec<String> = c
            .bins
            .oracle_sizes
            .iter()
            .enumerate()
            .map(|(b, n)| format!("{}: {n}", b + 1))
            .collect();
        ui.weak(format!(
            "compute-optimal is cross-validated: each bin's setting is chosen on part of its \
             problems and scored on the others, so on a small bin it can sit below the \
             settings it chooses from (problems per bin — {})",
            sizes.join(", ")
        ));
        let gain = c
            .efficiency
            .iter()
            .find(|e| (e.cost - budget as f64).abs() < 1e-9);
        if bin == 0 {
            if let Some(e) = gain {
                ui.label(format!(
                    "efficiency gain at N = {budget}: weighted best-of-N needs {} the compute \
                     to match compute-optimal's {:.3}",
                    crate::export::figures::gain_label(e.gain),
                    e.optimal
                ));
            }
        } else {
            // The bin's own numbers; the gain is a number of all problems only.
            let own = |label: &str| {
                at_budget(sweep, bin, budget)
                    .into_iter()
                    .find(|(l, _)| l.starts_with(label))
                    .map_or("—".to_string(), |(_, a)| format!("{a:.3}"))
            };
            ui.label(format!(
                "bin {bin} ({} problems) at N = {budget}: compute-optimal {}, weighted \
                 best-of-N {}{}",
                bin_size(c, bin),
                own("compute-optimal"),
                own("weighted-best-of-n"),
                gain.map_or(String::new(), |e| format!(
                    " (the efficiency gain, {}, is measured over all problems)",
                    crate::export::figures::gain_label(e.gain)
                ))
            ));
        }
    }
    let overlay_data = app.overlay.as_ref().and_then(|o| {
        let d = figure.data(&o.manifest, &o.curves, &o.records).ok()?;
        let i = if panels_are_bins(figure) {
            bin_panel(&d.panels, bin)?
        } else {
            index
        };
        d.panels.get(i).cloned().map(|p| (p, o.name()))
    });
    ui.label(egui::RichText::new(format!("{} — {}", data.title, panel.title)).strong());
    draw_panel(
        ui,
        panel,
        overlay_data.as_ref().map(|(p, n)| (p, n.as_str())),
        marker,
        &spots,
    );
}

/// The figure, bin and panel choosers, and the open, overlay and export buttons.
fn toolbar(
    ui: &mut egui::Ui,
    app: &State,
    data: Option<&crate::export::data::FigureData>,
    cmds: &mut Vec<Command>,
) {
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Figure");
        let name = |f: Figure| FIGURES.iter().find(|x| x.0 == f).map_or("?", |x| x.1);
        egui::ComboBox::from_id_salt("plot-figure")
            .selected_text(name(app.plot_figure))
            .show_ui(ui, |ui| {
                for (f, n) in FIGURES {
                    if ui.selectable_label(app.plot_figure == f, n).clicked() {
                        cmds.push(Command::SetPlotFigure(f));
                    }
                }
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(
                "Which figure of the sweep to draw: the same figures `thinkscale plot` writes",
            );
        if panels_are_bins(app.plot_figure) {
            let bin_label = ui.label("Difficulty bin");
            let bname = |b: usize| match b {
                0 => "all problems".to_string(),
                1 => "1 (easiest)".to_string(),
                b if b == BINS => format!("{b} (hardest)"),
                b => b.to_string(),
            };
            egui::ComboBox::from_id_salt("plot-bin")
                .selected_text(bname(app.plot_bin))
                .show_ui(ui, |ui| {
                    for b in 0..=BINS {
                        if ui.selectable_label(app.plot_bin == b, bname(b)).clicked() {
                            cmds.push(Command::SetPlotBin(b));
                        }
                    }
                })
                .response
                .labelled_by(bin_label.id)
                .on_hover_text(
                    "Oracle difficulty bins: problems cut into 5 quantiles of the policy's \
                     pass@1, bin 1 the easiest",
                );
        } else if let Some(data) = data {
            let panels: Vec<&str> = data.panels.iter().map(|p| p.title.as_str()).collect();
            if panels.len() > 1 {
                let exchange = app.plot_figure == Figure::Exchange;
                let l = ui.label(if exchange { "R" } else { "Panel" });
                let mut k = app.plot_panel.min(panels.len() - 1);
                let tip = if exchange {
                    "R = inference tokens / pretraining tokens: how much the deployment will \
                     generate relative to what the policy was trained on"
                } else {
                    "Which panel of the figure to draw"
                };
                ui.add(egui::Slider::new(&mut k, 0..=panels.len() - 1).show_value(false))
                    .labelled_by(l.id)
                    .on_hover_text(tip);
                ui.label(panels[k]);
                if k != app.plot_panel {
                    cmds.push(Command::SetPlotPanel(k));
                }
            }
        }
        ui.separator();
        if ui
            .button("Overlay sweep…")
            .on_hover_text("Draw a second sweep's curves, faded, over this one's")
            .clicked()
        {
            cmds.push(Command::AskPath(crate::ui::state::files::PathFor::Overlay));
        }
        if app.overlay.is_some() && ui.button("Remove overlay").clicked() {
            cmds.push(Command::CloseOverlay);
        }
        if ui
            .add_enabled(
                app.sweep.is_some() && app.plot_export.is_none(),
                egui::Button::new("Export plot…"),
            )
            .on_hover_text(
                "Write this figure as SVG or PNG (paper double-column preset, the sweep's \
                 configuration in its metadata) with its CSV and JSON",
            )
            .on_disabled_hover_text("open a sweep first")
            .clicked()
        {
            cmds.push(Command::AskPath(
                crate::ui::state::files::PathFor::ExportPlot,
            ));
        }
        match &app.plot_status {
            _ if app.plot_export.is_some() => {
                ui.spinner();
            }
            Some(Ok(m)) => {
                ui.label(m);
            }
            Some(Err(e)) => {
                ui.colored_label(crate::ui::theme::BAD, format!("export failed: {e}"));
            }
            None => {}
        }
    });
}

/// Reads a sweep's budgets as the field holds them (`1, 2, 4, 8`): each at least 1 and at most
/// [`crate::search::MAX_BUDGET`]; sorted, without repeats.
pub fn parse_budgets(text: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in text.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        let b: usize = part
            .trim()
            .parse()
            .map_err(|_| format!("'{}' is not a budget (a whole number)", part.trim()))?;
        if b == 0 || b > crate::search::MAX_BUDGET {
            return Err(format!(
                "budget {b} is not in 1..={}",
                crate::search::MAX_BUDGET
            ));
        }
        out.push(b);
    }
    if out.is_empty() {
        return Err("no budget: write them like 1, 2, 4, 8".into());
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Starting a sweep with the window's settings, and its progress while it runs.
fn sweep_runner(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    egui::CollapsingHeader::new("Run a sweep")
        .default_open(app.sweep_job.is_some())
        .show(ui, |ui| {
            if let Some(job) = &app.sweep_job {
                // Wrapped: the finished line is long, and an unwrapped row widened the panel
                // under the side panel at 1280x720, the plot's right edge and legend with it.
                ui.horizontal_wrapped(|ui| {
                    let frac = job.done as f32 / job.total.max(1) as f32;
                    let mut text = format!("{}/{} (run, problem) pairs", job.done, job.total);
                    let new = job.done.saturating_sub(job.resumed);
                    if new > 0 {
                        text += &format!(" · {} of {new} right", job.right);
                    }
                    if job.running() {
                        if let Some(eta) = job.eta() {
                            text += &format!(" · about {} left", fmt_duration(eta));
                        }
                    }
                    // The whole line, time left included, at any window width.
                    ui.add(egui::ProgressBar::new(frac).desired_width(160.0));
                    ui.label(text);
                    if job.running() {
                        if ui
                            .button("Cancel sweep")
                            .on_hover_text("Stop after the forward pass under way; every record on disk stays, and running the same sweep again resumes it")
                            .clicked()
                        {
                            cmds.push(Command::CancelSweep);
                        }
                    } else {
                        match &job.outcome {
                            Some(Ok(m)) => ui.label(format!("finished: {m}")),
                            Some(Err(e)) => ui.colored_label(crate::ui::theme::BAD, e.as_str()),
                            None => ui.label(""),
                        };
                    }
                });
                ui.weak(format!("into {}", job.dir.display()));
            }
            let s = &app.settings;
            let strategies: Vec<StrategyKind> = s.sweep_strategies.clone();
            let mut levels = match s.level_filter {
                Some(l) => format!("level {l} of the dataset (the list's filter)"),
                None => "the dataset".into(),
            };
            if let Some((b, ids)) = app.bin_problems() {
                levels += &format!(
                    " in difficulty bin {b} of the open sweep ({} problem{}, the list's filter)",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" }
                );
            }
            ui.label(format!(
                "The window's settings (verifier {}, temperature {}, seed {}) on the first {} \
                 problems of {levels}:",
                s.verifier, s.temperature, s.seed, s.sweep_problems
            ));
            ui.horizontal_wrapped(|ui| {
                let l = ui.label("Budgets");
                let id = ui.make_persistent_id("sweep-budgets");
                let joined = s
                    .sweep_budgets
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut text: String = ui
                    .data_mut(|d| d.get_temp::<String>(id))
                    .unwrap_or_else(|| joined.clone());
                let field = ui
                    .add(egui::TextEdit::singleline(&mut text).desired_width(180.0))
                    .labelled_by(l.id)
                    .on_hover_text(
                        "The generation budgets N the sweep runs, comma-separated (its own, not \
                         the budget slider's)",
                    );
                match parse_budgets(&text) {
                    Ok(b) if b != s.sweep_budgets && field.changed() => {
                        cmds.push(Command::SetSettings(crate::ui::state::Settings {
                            sweep_budgets: b,
                            ..s.clone()
                        }));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        ui.colored_label(crate::ui::theme::BAD, e);
                    }
                }
                if field.has_focus() {
                    ui.data_mut(|d| d.insert_temp(id, text));
                } else {
                    ui.data_mut(|d| d.remove::<String>(id));
                }
                let l = ui.label("Larger policy");
                let known = super::controls::known_policies();
                let name = |p: &std::path::Path| {
                    known
                        .iter()
                        .find(|(_, k)| k == p)
                        .map_or_else(|| p.display().to_string(), |(n, _)| n.clone())
                };
                egui::ComboBox::from_id_salt("sweep-larger")
                    .selected_text(s.sweep_larger.as_deref().map_or("none".into(), name))
                    .show_ui(ui, |ui| {
                        if ui.selectable_label(s.sweep_larger.is_none(), "none").clicked() {
                            cmds.push(Command::SetSettings(crate::ui::state::Settings {
                                sweep_larger: None,
                                ..s.clone()
                            }));
                        }
                        for (n, p) in &known {
                            if p != app.policy()
                                && ui
                                    .selectable_label(s.sweep_larger.as_ref() == Some(p), n)
                                    .clicked()
                            {
                                cmds.push(Command::SetSettings(crate::ui::state::Settings {
                                    sweep_larger: Some(p.clone()),
                                    ..s.clone()
                                }));
                            }
                        }
                    })
                    .response
                    .labelled_by(l.id)
                    .on_hover_text(
                        "A larger policy for the FLOPs exchange: it answers every problem once, \
                         greedily, and the Exchange figure compares it with this policy's \
                         compute-optimal accuracy at equal FLOPs",
                    );
            });
            ui.horizontal_wrapped(|ui| {
                for k in StrategyKind::ALL {
                    let mut on = strategies.contains(&k);
                    if ui.checkbox(&mut on, k.as_str()).changed() {
                        let next: Vec<StrategyKind> = StrategyKind::ALL
                            .into_iter()
                            .filter(|x| if *x == k { on } else { strategies.contains(x) })
                            .collect();
                        cmds.push(Command::SetSettings(crate::ui::state::Settings {
                            sweep_strategies: next,
                            ..s.clone()
                        }));
                    }
                }
                let l = ui.label("Problems");
                let mut n = s.sweep_problems;
                if ui
                    .add(egui::DragValue::new(&mut n).range(1..=500))
                    .labelled_by(l.id)
                    .on_hover_text("How many problems of the window's dataset the sweep runs")
                    .changed()
                {
                    cmds.push(Command::SetSettings(crate::ui::state::Settings {
                        sweep_problems: n,
                        ..s.clone()
                    }));
                }
                let busy = app.sweep_job.as_ref().is_some_and(|j| j.running());
                let why = if busy {
                    "a sweep is running"
                } else {
                    "choose at least one strategy"
                };
                if ui
                    .add_enabled(!busy && !strategies.is_empty(), egui::Button::new("Run sweep…"))
                    .on_hover_text("Choose a directory (a new one, or a sweep of the same settings to resume) and run the sweep there")
                    .on_disabled_hover_text(why)
                    .clicked()
                {
                    cmds.push(Command::AskPath(crate::ui::state::files::PathFor::RunSweep));
                }
            });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_draws_one_bar_per_bin_edge_to_edge() {
        let bin = |from: f64, to: f64, y: f64| crate::export::data::Bin {
            from,
            to,
            y,
            count: 1,
        };
        let bins = [bin(0.0, 0.25, 0.5), bin(0.25, 0.5, 0.0), bin(0.5, 1.0, 0.5)];
        let bars = histogram(Scale::Linear, &bins);
        assert_eq!(
            bars,
            vec![(0.125, 0.25, 0.5), (0.375, 0.25, 0.0), (0.75, 0.5, 0.5)]
        );
        // Bars tile the bins: each ends where the next begins.
        for w in bars.windows(2) {
            assert!((w[0].0 + w[0].1 / 2.0 - (w[1].0 - w[1].1 / 2.0)).abs() < 1e-12);
        }
    }

    #[test]
    fn a_sweeps_budgets_field_reads_sorted_distinct_budgets_and_names_a_bad_one() {
        assert_eq!(parse_budgets("16, 1,4  2,4"), Ok(vec![1, 2, 4, 16]));
        assert_eq!(parse_budgets("8"), Ok(vec![8]));
        assert!(parse_budgets("1, x").unwrap_err().contains("'x'"));
        assert!(parse_budgets("0").unwrap_err().contains("budget 0"));
        assert!(parse_budgets("100000").unwrap_err().contains("100000"));
        assert!(parse_budgets(" , ").unwrap_err().contains("no budget"));
    }
}
