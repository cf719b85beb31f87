//! The summary under the tree: the chosen answer, the answers with their votes and scores,
//! compute, and this session's accuracy by level.

use crate::search::select::answer_groups;
use crate::ui::app::App;
use crate::ui::theme;

/// Draws the summary.
pub fn ui(ui: &mut egui::Ui, app: &App) {
    if let Some(e) = &app.error {
        ui.colored_label(theme::BAD, e);
    }
    match &app.plot_status {
        Some(Ok(m)) => {
            ui.label(m);
        }
        Some(Err(e)) => {
            ui.colored_label(theme::BAD, e);
        }
        None => {}
    }
    let Some(r) = &app.last else {
        ui.label(match app.selected {
            Some(_) if app.running.is_some() => "searching…",
            Some(_) => "press Run to search this problem",
            None => "select a problem on the left",
        });
        return;
    };
    if let Some(dir) = &app.kept {
        ui.weak(format!("kept in {} (open it in Plots)", dir.display()));
    }
    ui.horizontal(|ui| {
        ui.strong(format!("{}  {}", r.id, r.question));
        ui.label(format!("reference {}", r.reference));
        ui.separator();
        let answer = r.answer.clone().unwrap_or_else(|| "none".into());
        ui.colored_label(
            theme::verdict_color(Some(r.correct)),
            format!(
                "chosen answer {answer}: {}",
                if r.correct { "correct" } else { "wrong" }
            ),
        );
    });
    ui.label(format!(
        "{} candidates, {} of them right; {} generations; policy {} prompt ({} more from the \
         prefix cache) + {} generated tokens, {:.3e} FLOPs; verifier {} tokens, {:.3e} FLOPs",
        r.candidates.len(),
        r.candidates
            .iter()
            .filter(|c| c.correct == Some(true))
            .count(),
        r.compute.generations,
        r.compute.prompt_tokens,
        r.compute.prompt_tokens_cached,
        r.compute.generated_tokens,
        r.compute.policy_flops,
        r.compute.verifier_tokens,
        r.compute.verifier_flops
    ));
    ui.columns(2, |cols| {
        egui::ScrollArea::vertical()
            .id_salt("answers")
            .show(&mut cols[0], |ui| {
                egui::Grid::new("answers_grid")
                    .striped(true)
                    .show(ui, |ui| {
                        ui.strong("answer");
                        ui.strong("votes");
                        ui.strong("score sum");
                        ui.end_row();
                        let mut groups = answer_groups(&r.candidates);
                        groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
                        for g in groups {
                            let c = &r.candidates[g[0]];
                            let a = c.answer.clone().unwrap_or_default();
                            ui.colored_label(theme::verdict_color(c.correct), a);
                            ui.label(g.len().to_string());
                            ui.label(format!(
                                "{:.2}",
                                g.iter().map(|&i| r.candidates[i].score).sum::<f32>()
                            ));
                            ui.end_row();
                        }
                    });
            });
        let ui = &mut cols[1];
        ui.strong("This session by level, under these settings");
        egui::Grid::new("tally").striped(true).show(ui, |ui| {
            ui.label("level");
            ui.label("run");
            ui.label("right");
            ui.end_row();
            for (level, (n, right)) in &app.tally() {
                ui.label(level.to_string());
                ui.label(n.to_string());
                ui.label(right.to_string());
                ui.end_row();
            }
        });
    });
}
