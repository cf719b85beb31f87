//! The two trees of a comparison side by side ([`crate::ui::state::compare`]).

use super::tree_view::{self, TreeView};
use crate::engine::ComputeMeter;
use crate::store::Record;
use crate::ui::state::compare::Pinned;
use crate::ui::state::{Command, State};

/// Policy tokens (prompt run plus generated) of a record.
fn policy_tokens(c: &ComputeMeter) -> u64 {
    c.prompt_tokens + c.generated_tokens
}

/// `b` against `a`: the difference and the ratio.
fn change(a: f64, b: f64, fmt: impl Fn(f64) -> String) -> String {
    let sign = if b >= a { "+" } else { "−" };
    let ratio = if a > 0.0 {
        format!(", ×{:.2}", b / a)
    } else {
        String::new()
    };
    format!(
        "{} -> {} ({sign}{}{ratio})",
        fmt(a),
        fmt(b),
        fmt((b - a).abs())
    )
}

/// The difference line: the current search against the pinned one.
pub fn difference(a: &ComputeMeter, b: &ComputeMeter) -> String {
    let count = |x: f64| format!("{x:.0}");
    let sci = |x: f64| format!("{x:.3e}");
    format!(
        "pinned -> current: policy tokens {}; verifier tokens {}; FLOPs {}; generations {}",
        change(policy_tokens(a) as f64, policy_tokens(b) as f64, count),
        change(a.verifier_tokens as f64, b.verifier_tokens as f64, count),
        change(
            a.policy_flops + a.verifier_flops,
            b.policy_flops + b.verifier_flops,
            sci
        ),
        change(a.generations as f64, b.generations as f64, count),
    )
}

/// One side's line under its tree: the chosen answer, its verdict and its compute.
pub(crate) fn side_line(r: &Record) -> String {
    format!(
        "answer {} ({}) · {} candidates · {} policy tokens · {} verifier tokens · {:.3e} FLOPs",
        r.answer.as_deref().unwrap_or("none"),
        if r.correct { "right" } else { "wrong" },
        r.candidates.len(),
        policy_tokens(&r.compute),
        r.compute.verifier_tokens,
        r.compute.policy_flops + r.compute.verifier_flops
    )
}

/// The two trees side by side (the pinned one left), with the difference above them.
pub fn ui(ui: &mut egui::Ui, app: &State, pinned: &Pinned, cmds: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Unpin")
            .on_hover_text("Back to one tree")
            .clicked()
        {
            cmds.push(Command::Unpin);
        }
        ui.strong("Compare");
        match &app.last {
            Some(now) if app.running.is_none() => {
                ui.label(difference(&pinned.record.compute, &now.compute));
            }
            _ => {
                ui.weak("run (or show a stored) search of this problem to compare it with the pinned one");
            }
        }
    });
    if app.last.as_ref().is_some_and(|r| r.id != pinned.record.id) {
        ui.colored_label(
            crate::ui::theme::BAD,
            format!(
                "the pinned search is of problem {}, the current one of {}",
                pinned.record.id,
                app.last.as_ref().map_or("", |r| r.id.as_str())
            ),
        );
    }
    // One colour key for both trees, the scale they share.
    tree_view::legend(
        ui,
        pinned.info.as_ref().is_none_or(|i| i.scored),
        pinned
            .tree
            .nodes
            .iter()
            .chain(&app.tree.nodes)
            .any(|n| n.q.is_some()),
    );
    // Two halves of exactly the room left, so neither tree draws past it.
    let size = egui::vec2(
        (ui.available_width() - ui.spacing().item_spacing.x) / 2.0,
        ui.available_height(),
    );
    ui.horizontal_top(|ui| {
        ui.allocate_ui_with_layout(size, egui::Layout::top_down(egui::Align::LEFT), |ui| {
            ui.set_max_size(size);
            ui.push_id("pinned", |ui| {
                ui.strong("Pinned");
                ui.label(side_line(&pinned.record));
                let view = TreeView {
                    tree: &pinned.tree,
                    layout: &pinned.layout,
                    camera: pinned.camera,
                    chosen: pinned.chosen,
                    selected: None,
                    header: pinned.info.as_ref().map(|i| i.header.as_str()),
                    scored: pinned.info.as_ref().is_none_or(|i| i.scored),
                    any_collapsed: false,
                    pinned: true,
                    pinned_pair: true,
                };
                let mut own = Vec::new();
                tree_view::draw(ui, &view, &mut own);
                // The pinned tree only pans and zooms.
                for c in own {
                    if let Command::SetCamera(cam) = c {
                        cmds.push(Command::SetPinnedCamera(cam));
                    }
                }
            });
        });
        ui.allocate_ui_with_layout(size, egui::Layout::top_down(egui::Align::LEFT), |ui| {
            ui.set_max_size(size);
            ui.push_id("current", |ui| {
                ui.strong("Current");
                match &app.last {
                    Some(r) if app.running.is_none() => {
                        ui.label(side_line(r));
                    }
                    _ => {
                        ui.label("searching…");
                    }
                }
                let view = TreeView {
                    pinned_pair: true,
                    ..TreeView::of(app)
                };
                tree_view::draw(ui, &view, cmds);
            });
        });
    });
}
