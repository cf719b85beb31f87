//! The problem list with its level filter.

use crate::ui::app::{App, Command};
use crate::ui::theme;

/// Draws the list.
pub fn ui(ui: &mut egui::Ui, app: &App, cmds: &mut Vec<Command>) {
    ui.heading("Problems");
    let mut s = app.settings.clone();
    ui.horizontal(|ui| {
        ui.label("Level");
        ui.selectable_value(&mut s.level_filter, None, "all");
        for l in 1..=crate::data::toy::LEVELS {
            ui.selectable_value(&mut s.level_filter, Some(l), l.to_string());
        }
    });
    if s != app.settings {
        cmds.push(Command::SetSettings(s.clone()));
    }
    let (done, right) = app
        .tally
        .values()
        .fold((0, 0), |a, t| (a.0 + t.0, a.1 + t.1));
    if done > 0 {
        ui.label(format!("this session: {right}/{done} right"));
    }
    ui.separator();
    let visible: Vec<usize> = (0..app.problems.len())
        .filter(|&i| s.level_filter.is_none() || app.problems[i].level == s.level_filter)
        .collect();
    let row_h = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_rows(ui, row_h, visible.len(), |ui, range| {
            for &i in &visible[range] {
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
                if let Some(&ok) = app.verdicts.get(&p.id) {
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
