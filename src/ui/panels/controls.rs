//! The top bar: strategy, verifier, aggregation, budget, temperature, seed, Run and Cancel.

use crate::search::{Aggregation, StrategyKind};
use crate::ui::app::{App, Command, ModelStatus};
use crate::verify::VerifierSpec;

/// Budgets the slider offers: powers of two.
pub const BUDGETS: [usize; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

/// Draws the bar.
pub fn ui(ui: &mut egui::Ui, app: &App, cmds: &mut Vec<Command>) {
    let mut s = app.settings.clone();
    ui.horizontal_wrapped(|ui| {
        ui.heading("thinkscale");
        ui.separator();
        egui::ComboBox::from_label("Strategy")
            .selected_text(s.strategy.as_str())
            .show_ui(ui, |ui| {
                for k in StrategyKind::ALL {
                    ui.selectable_value(&mut s.strategy, k, k.as_str());
                }
            });
        ui.add_enabled_ui(s.strategy.uses_verifier(), |ui| {
            egui::ComboBox::from_label("Verifier")
                .selected_text(s.verifier.to_string())
                .show_ui(ui, |ui| {
                    for v in VerifierSpec::BUILT_IN {
                        let name = v.to_string();
                        ui.selectable_value(&mut s.verifier, v, name);
                    }
                });
            egui::ComboBox::from_label("Aggregation")
                .selected_text(s.aggregation.as_str())
                .show_ui(ui, |ui| {
                    for a in Aggregation::ALL {
                        ui.selectable_value(&mut s.aggregation, a, a.as_str());
                    }
                });
        });
        if s.strategy.is_tree_search() {
            // Beam widths that divide the budget: powers of two up to it.
            let widths: Vec<usize> = BUDGETS
                .iter()
                .copied()
                .filter(|&w| w <= s.budget.max(1))
                .collect();
            egui::ComboBox::from_label("Beam width")
                .selected_text(s.beam_width.to_string())
                .show_ui(ui, |ui| {
                    for w in widths {
                        ui.selectable_value(&mut s.beam_width, w, w.to_string());
                    }
                });
            if s.strategy == StrategyKind::Lookahead {
                ui.add(egui::Slider::new(&mut s.lookahead, 1..=5).text("Lookahead"));
            }
            ui.add(egui::Slider::new(&mut s.max_rounds, 1..=60).text("Max rounds"));
        }
        let mut k = BUDGETS
            .iter()
            .position(|&b| b >= s.budget)
            .unwrap_or(BUDGETS.len() - 1);
        let label = format!("Budget {}", BUDGETS[k]);
        ui.add(
            egui::Slider::new(&mut k, 0..=BUDGETS.len() - 1)
                .show_value(false)
                .text(label),
        );
        s.budget = BUDGETS[k];
        if !s.budget.is_multiple_of(s.beam_width.max(1)) {
            s.beam_width = s.beam_width.min(s.budget).max(1);
            while !s.budget.is_multiple_of(s.beam_width) {
                s.beam_width -= 1;
            }
        }
        ui.add(
            egui::Slider::new(&mut s.temperature, 0.0..=1.5)
                .step_by(0.05)
                .text("Temperature"),
        );
        let seed_label = ui.label("Seed");
        ui.add(egui::DragValue::new(&mut s.seed))
            .labelled_by(seed_label.id);
        ui.separator();
        let ready = matches!(app.model, ModelStatus::Ready(..));
        let can_run = ready && app.selected.is_some() && app.running.is_none();
        if ui.add_enabled(can_run, egui::Button::new("Run")).clicked() {
            cmds.push(Command::Run);
        }
        if ui
            .add_enabled(app.running.is_some(), egui::Button::new("Cancel"))
            .clicked()
        {
            cmds.push(Command::Cancel);
        }
        ui.separator();
        if ui
            .button("Open sweep…")
            .on_hover_text("Read a sweep directory's records and draw its curves in the Plots tab")
            .clicked()
        {
            if let Some(dir) = rfd::FileDialog::new()
                .set_title("A sweep directory (holds sweep.json)")
                .pick_folder()
            {
                cmds.push(Command::OpenSweep(dir));
            }
        }
        if ui
            .add_enabled(app.export.is_none(), egui::Button::new("Export figures…"))
            .on_hover_text("Write the paper figures (SVG, PNG, CSV, JSON) of a sweep directory")
            .clicked()
        {
            if let Some(dir) = rfd::FileDialog::new()
                .set_title("A sweep directory (holds sweep.json)")
                .pick_folder()
            {
                cmds.push(Command::ExportFigures(dir));
            }
        }
        match &app.export_status {
            _ if app.export.is_some() => {
                ui.spinner();
                ui.label("exporting figures…");
            }
            Some(Ok(msg)) => {
                ui.label(format!("figures: {msg}"));
            }
            Some(Err(e)) => {
                ui.colored_label(crate::ui::theme::BAD, format!("export failed: {e}"));
            }
            None => {}
        }
        match (&app.model, app.running) {
            (ModelStatus::Loading, _) => {
                ui.spinner();
                ui.label("loading policy…");
            }
            (ModelStatus::Failed(e), _) => {
                ui.colored_label(crate::ui::theme::BAD, format!("policy failed to load: {e}"));
            }
            (ModelStatus::Ready(..), Some((_, done, total))) => {
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .desired_width(120.0)
                        .text(format!("{done}/{total} generations")),
                );
            }
            (ModelStatus::Ready(name, params), None) => {
                ui.label(format!("policy {name} ({params} parameters)"));
            }
        }
    });
    if s != app.settings {
        cmds.push(Command::SetSettings(s));
    }
}
