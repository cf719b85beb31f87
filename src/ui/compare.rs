//! Compare: pin the finished search on screen, then run (or show a stored) other search of the
//! same problem: the two trees side by side, each with its header, compute and chosen answer,
//! on the one colour scale of verifier scores, and the difference in tokens and FLOPs.

use super::app::{App, Command, TreeInfo};
use super::panels::tree_view::{self, Camera, TreeLayout, TreeView};
use crate::engine::ComputeMeter;
use crate::search::{NodeId, SearchTree};
use crate::store::Record;

/// A finished search kept beside the one on screen.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// Its tree and layout.
    pub tree: SearchTree,
    /// The tree's layout.
    pub layout: TreeLayout,
    /// How its tree is looked at.
    pub camera: Camera,
    /// Which search drew it.
    pub info: Option<TreeInfo>,
    /// Its record.
    pub record: Record,
    /// The leaf of its chosen answer.
    pub chosen: Option<NodeId>,
}

impl App {
    /// Pins the finished search on screen (as the dial and the selection switch show it).
    pub fn pin(&mut self) {
        let Some(record) = self.last.clone() else {
            return;
        };
        if self.running.is_some() {
            return;
        }
        self.pinned = Some(Box::new(Pinned {
            tree: self.tree.clone(),
            layout: self.tree_layout.clone(),
            camera: Camera::default(),
            info: self.tree_info.clone(),
            record,
            chosen: self.shown_chosen_leaf(),
        }));
    }
}

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
fn side_line(r: &Record) -> String {
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
pub fn ui(ui: &mut egui::Ui, app: &App, pinned: &Pinned, cmds: &mut Vec<Command>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::StrategyKind;
    use crate::ui::app::tests::{beam_searched, step_until};
    use egui_kittest::kittest::Queryable;

    #[test]
    fn a_pinned_search_sits_beside_the_next_with_the_difference_in_compute() {
        let (mut harness, _) = beam_searched("0.7", None);
        let beam = harness.state().last.clone().unwrap();
        let beam_tree = harness.state().tree.clone();
        harness.get_by_label("Pin").click();
        harness.run_steps(2);
        assert!(harness.state().pinned.is_some());
        harness.get_by_label("Pinned");
        // Pinned beside itself until another search comes.
        harness.get_by_label(&difference(&beam.compute, &beam.compute));

        // Weighted best-of-N on the same problem.
        let mut s = harness.state().settings.clone();
        s.strategy = StrategyKind::WeightedBestOfN;
        harness.state_mut().apply(Command::SetSettings(s));
        harness.state_mut().apply(Command::Run);
        harness.run_steps(2);
        step_until(&mut harness, "the second search", |a| {
            a.running.is_none() && a.last.as_ref().is_some_and(|r| r.candidates.len() == 16)
        });
        let app = harness.state();
        let now = app.last.clone().unwrap();
        let pinned = app.pinned.as_ref().unwrap();
        assert_eq!(pinned.record, beam);
        assert_eq!(pinned.tree, beam_tree);
        assert_ne!(app.tree, beam_tree);
        let line = difference(&beam.compute, &now.compute);
        let tokens = |r: &Record| r.compute.prompt_tokens + r.compute.generated_tokens;
        assert!(
            line.contains(&format!(
                "policy tokens {} -> {}",
                tokens(&beam),
                tokens(&now)
            )),
            "{line}"
        );
        harness.get_by_label(&line);
        harness.get_by_label("Current");
        harness.get_by_label(&side_line(&beam));
        harness.get_by_label(&side_line(&now));

        // The pinned tree zooms on its own.
        let camera = harness.state().tree_camera;
        // The left one of the two toolbars' "+" is the pinned tree's.
        let left = harness
            .get_all_by_label("+")
            .min_by(|a, b| a.rect().min.x.total_cmp(&b.rect().min.x))
            .unwrap();
        left.click();
        harness.run_steps(2);
        let app = harness.state();
        assert_ne!(app.pinned.as_ref().unwrap().camera, Camera::default());
        assert_eq!(app.tree_camera, camera);

        harness.get_by_label("Unpin").click();
        harness.run_steps(2);
        assert!(harness.state().pinned.is_none());
    }

    #[test]
    fn the_difference_reads_both_ways() {
        let a = ComputeMeter {
            prompt_tokens: 100,
            generated_tokens: 300,
            policy_flops: 1e9,
            generations: 16,
            ..Default::default()
        };
        let b = ComputeMeter {
            generated_tokens: 700,
            verifier_tokens: 50,
            ..a
        };
        assert_eq!(
            difference(&a, &b),
            "pinned -> current: policy tokens 400 -> 800 (+400, ×2.00); verifier tokens 0 -> 50 \
             (+50); FLOPs 1.000e9 -> 1.000e9 (+0.000e0, ×1.00); generations 16 -> 16 (+0, ×1.00)"
        );
        assert!(difference(&b, &a)
            .starts_with("pinned -> current: policy tokens 800 -> 400 (−400, ×0.50)"));
    }
}
