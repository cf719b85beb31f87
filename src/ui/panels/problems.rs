//! The problem list: a search box, level and difficulty-bin filters, each problem's status
//! under the current settings, and the problem Run will search, always in view.

use crate::analysis::bins::BINS;
use crate::ui::state::{Command, State};
use crate::ui::theme;

/// The problems the filters let through, by index.
pub fn visible(app: &State) -> Vec<usize> {
    let q = app.problem_query.trim().to_lowercase();
    (0..app.problems.len())
        .filter(|&i| {
            let p = &app.problems[i];
            (app.settings.level_filter.is_none() || p.level == app.settings.level_filter)
                && (q.is_empty()
                    || p.question.to_lowercase().contains(&q)
                    || p.id.to_lowercase().contains(&q))
                && app.bin_filter.is_none_or(|b| app.bin_of(&p.id) == Some(b))
        })
        .collect()
}

/// Draws the list.
pub fn ui(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    ui.heading("Problems");
    let mut q = app.problem_query.clone();
    ui.horizontal(|ui| {
        let l = ui.label("Search");
        if ui
            .add(egui::TextEdit::singleline(&mut q).hint_text("text or id"))
            .labelled_by(l.id)
            .on_hover_text("Show the problems whose question or id contains this")
            .changed()
        {
            cmds.push(Command::SetProblemQuery(q.clone()));
        }
    });
    let mut s = app.settings.clone();
    ui.horizontal(|ui| {
        ui.label("Level")
            .on_hover_text("The dataset's own difficulty level");
        ui.selectable_value(&mut s.level_filter, None, "all");
        for l in 1..=crate::data::toy::LEVELS {
            ui.selectable_value(&mut s.level_filter, Some(l), l.to_string());
        }
    });
    if s != app.settings {
        cmds.push(Command::SetSettings(s.clone()));
    }
    ui.horizontal(|ui| {
        let tip = "Oracle difficulty bin of the open sweep (quantiles of the policy's pass@1, \
                   1 the easiest)";
        ui.add_enabled_ui(app.sweep.is_some(), |ui| {
            ui.label("Bin")
                .on_hover_text(tip)
                .on_disabled_hover_text("open a sweep in Plots to know the bins");
            let mut b = app.bin_filter;
            ui.selectable_value(&mut b, None, "all");
            for k in 1..=BINS {
                ui.selectable_value(&mut b, Some(k), k.to_string());
            }
            if b != app.bin_filter {
                cmds.push(Command::SetBinFilter(b));
            }
        });
    });
    let tally = app.tally();
    let (done, right) = tally.values().fold((0, 0), |a, t| (a.0 + t.0, a.1 + t.1));
    if done > 0 {
        ui.label(format!("under these settings: {right}/{done} right"));
    }
    // The problem Run searches, whatever the filters show.
    match app.selected.and_then(|i| app.problems.get(i)) {
        Some(p) => ui.label(format!(
            "Run searches: L{} {}",
            p.level.unwrap_or(0),
            p.question
        )),
        None => ui.weak("Run searches the problem selected below"),
    };
    ui.separator();
    let shown = visible(app);
    if shown.is_empty() {
        ui.label("no problem matches the filters");
    }
    let now = app.verdicts_now();
    let row_h = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_rows(ui, row_h, shown.len(), |ui, range| {
            for &i in &shown[range] {
                let p = &app.problems[i];
                let mut text = egui::text::LayoutJob::default();
                let fmt = |c| egui::TextFormat {
                    color: c,
                    ..Default::default()
                };
                text.append(
                    &format!("L{} ", p.level.unwrap_or(0)),
                    0.0,
                    fmt(ui.visuals().weak_text_color()),
                );
                text.append(&p.question, 0.0, fmt(ui.visuals().text_color()));
                if let Some(&ok) = now.and_then(|v| v.get(&p.id)) {
                    text.append(
                        if ok { "  right" } else { "  wrong" },
                        0.0,
                        fmt(theme::verdict_color(Some(ok))),
                    );
                }
                if ui
                    .selectable_label(app.selected == Some(i), text)
                    .on_hover_text(&p.id)
                    .clicked()
                {
                    cmds.push(Command::SelectProblem(i));
                }
            }
        });
}
