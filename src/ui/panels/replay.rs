//! The replay bar above the tree ([`crate::ui::state::replay`]).

use crate::ui::state::{Command, State};

/// The replay bar above the tree: the round slider, Prev/Next, Latest, and stored searches of
/// the selected problem when a sweep is open.
pub fn bar(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    let last = app.tree.rounds();
    let shown = app.replay.unwrap_or(last);
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Round").on_hover_text(TIP_ROUND);
        let mut r = shown;
        let slider = ui
            .add_enabled(
                last > 0,
                egui::Slider::new(&mut r, 0..=last.max(1)).integer(),
            )
            .labelled_by(l.id)
            .on_hover_text(TIP_ROUND);
        if slider.changed() && r != shown {
            cmds.push(Command::SetReplay(Some(r)));
        }
        if ui
            .add_enabled(shown > 0, egui::Button::new("< Prev"))
            .on_hover_text("The round before (←)")
            .clicked()
        {
            cmds.push(Command::SetReplay(Some(shown - 1)));
        }
        if ui
            .add_enabled(shown < last, egui::Button::new("Next >"))
            .on_hover_text("The round after (→)")
            .clicked()
        {
            cmds.push(Command::SetReplay(Some(shown + 1)));
        }
        if ui
            .add_enabled(app.replay.is_some(), egui::Button::new("Latest"))
            .on_hover_text("The search as it is now (a live search is followed again)")
            .clicked()
        {
            cmds.push(Command::SetReplay(None));
        }
        match (app.replay, &app.derived) {
            (Some(r), Some(d)) => {
                ui.label(format!(
                    "round {r} of {last}: {} steps by then; visits and Q as they ended are \
                     shown at the last round",
                    d.steps
                ));
            }
            _ if app.running.is_some() => {
                ui.weak(format!("round {last}, live"));
            }
            _ => {
                ui.weak(format!("round {last} of {last}"));
            }
        }
        ui.separator();
        let mut wrong = app.wrong_only;
        if ui
            .checkbox(&mut wrong, "Wrong candidates only")
            .on_hover_text(
                "Show only the paths to finished candidates whose answer is wrong (or missing): \
                 where the search went astray",
            )
            .changed()
        {
            cmds.push(Command::SetWrongOnly(wrong));
        }
        if app.pinned.is_none() {
            ui.separator();
            if ui
                .add_enabled(
                    app.last.is_some() && app.running.is_none(),
                    egui::Button::new("Pin"),
                )
                .on_hover_text(
                    "Keep this search beside the next one of the same problem: the two trees \
                     side by side with their compute and answers",
                )
                .on_disabled_hover_text("no finished search on screen")
                .clicked()
            {
                cmds.push(Command::Pin);
            }
        }
        let stored = app.stored_searches();
        if !stored.is_empty() {
            ui.separator();
            let l = ui.label("Stored").on_hover_text(TIP_STORED);
            let current = app
                .stored
                .and_then(|k| stored.iter().find(|(i, _)| *i == k))
                .map_or("choose…".to_string(), |(_, name)| name.clone());
            egui::ComboBox::from_id_salt("stored-search")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    for (k, name) in &stored {
                        if ui.selectable_label(app.stored == Some(*k), name).clicked() {
                            cmds.push(Command::ShowStored(*k));
                        }
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(TIP_STORED);
        }
    });
    // The arrow keys step through the rounds while no widget holds the keyboard.
    let free = ui.memory(|m| m.focused().is_none());
    if free && last > 0 {
        let (left, right) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::ArrowRight),
            )
        });
        if left && shown > 0 {
            cmds.push(Command::SetReplay(Some(shown - 1)));
        } else if right && shown < last {
            cmds.push(Command::SetReplay(Some(shown + 1)));
        }
    }
}

const TIP_ROUND: &str = "Replay: the search at the end of this round — the steps that existed, \
    which were pruned by then, and what MCTS selected in it. Round 0 is the question alone; the \
    last is the search as it ended (← and → step through the rounds)";
const TIP_STORED: &str = "The searches of this problem kept in the open sweep or run directory: \
    show one's tree, choice and configuration, and replay it";
