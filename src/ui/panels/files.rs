//! The path prompt and the toasts ([`crate::ui::state::files`]).

use crate::ui::state::files::{Toast, NO_DIALOG};
use crate::ui::state::{Command, State};
use std::time::{Duration, Instant};

/// The path prompt, where one is asked for.
pub fn prompt(ctx: &egui::Context, app: &State, cmds: &mut Vec<Command>) {
    let Some(ask) = &app.path_ask else {
        return;
    };
    egui::Window::new(ask.what.title())
        .id(egui::Id::unique("path-prompt"))
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            let mut text = ask.text.clone();
            ui.horizontal(|ui| {
                let l = ui.label("Path");
                let field = ui
                    .add(egui::TextEdit::singleline(&mut text).desired_width(460.0))
                    .labelled_by(l.id);
                if field.changed() {
                    cmds.push(Command::SetPathText(text.clone()));
                }
                if !field.has_focus() && !field.lost_focus() {
                    field.request_focus();
                }
                if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    cmds.push(Command::SubmitPath);
                }
            });
            if app.no_dialog {
                ui.weak(NO_DIALOG);
            }
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!app.no_dialog, egui::Button::new("Browse…"))
                    .on_hover_text("Pick it in the system's file dialog")
                    .on_disabled_hover_text(NO_DIALOG)
                    .clicked()
                {
                    cmds.push(Command::BrowsePath);
                }
                if ui
                    .add_enabled(!ask.text.trim().is_empty(), egui::Button::new("OK"))
                    .clicked()
                {
                    cmds.push(Command::SubmitPath);
                }
                if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                    cmds.push(Command::CancelPath);
                }
            });
        });
}

/// The toasts still due, in the window's lower right corner.
pub fn toasts(ctx: &egui::Context, app: &State) {
    let now = Instant::now();
    let live: Vec<&Toast> = app.toasts.iter().filter(|t| t.until > now).collect();
    if live.is_empty() {
        return;
    }
    egui::Area::new(egui::Id::unique("toasts"))
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
        .order(egui::Order::Foreground)
        .interactable(false)
        .show(ctx, |ui| {
            for t in live {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_max_width(520.0);
                    if t.error {
                        ui.colored_label(crate::ui::theme::BAD, &t.text);
                    } else {
                        ui.label(&t.text);
                    }
                });
            }
        });
    ctx.request_repaint_after(Duration::from_millis(500));
}
