//! The summary under the tree: the chosen answer, the selection switch (the answer chosen
//! again by another rule from the stored step scores, with no new generation), the answers
//! with their votes and scores, compute, and this session's accuracy by level.

use crate::analysis::reselect::{choose, rule_name, Rule, Selection};
use crate::search::select::answer_groups;
use crate::search::Aggregation;
use crate::store::Record;
use crate::ui::state::{Command, State};
use crate::ui::theme;

const TIP_SELECTION: &str = "Choose this search's answer again from its finished candidates' \
    stored step scores, with no new generation (as `thinkscale reselect` does for a whole run \
    or sweep): a PRM aggregation of each solution's step scores, then a selection among the \
    solutions. The search itself was steered by its own rule; only its final choice changes";
const TIP_MAJORITY: &str = "Majority voting: the most frequent final answer; reads no verifier \
    score";
const TIP_OWN: &str = "Back to the answer the search chose itself";

/// The aggregations in the order the switch shows them.
const AGGREGATIONS: [Aggregation; 4] = [
    Aggregation::Last,
    Aggregation::Min,
    Aggregation::Mean,
    Aggregation::Prod,
];

fn aggregation_tip(a: Aggregation) -> &'static str {
    match a {
        Aggregation::Last => {
            "PRM aggregation: a solution scores its last step's score (the paper's default)"
        }
        Aggregation::Min => "PRM aggregation: a solution scores its lowest step score",
        Aggregation::Mean => "PRM aggregation: a solution scores the mean of its step scores",
        Aggregation::Prod => "PRM aggregation: a solution scores the product of its step scores",
    }
}

fn selection_tip(s: Selection) -> &'static str {
    match s {
        Selection::Max => "Best-of-N: the single highest-scoring solution's answer",
        Selection::Vote => "Weighted best-of-N: the answer whose solutions' scores sum highest",
    }
}

/// The selection switch and the answer its rule chooses.
fn selection_switch(ui: &mut egui::Ui, app: &State, r: &Record, cmds: &mut Vec<Command>) {
    let own = app.own_rule();
    let shown: Option<Rule> = app.selection_rule.or(own);
    let mark = |rule: Rule| {
        if Some(rule) == own {
            " (the run's own rule)"
        } else {
            ""
        }
    };
    ui.horizontal_wrapped(|ui| {
        ui.label("Selection: aggregation")
            .on_hover_text(TIP_SELECTION);
        let (agg, sel) = match shown {
            Some(Some((a, s))) => (Some(a), Some(s)),
            _ => (None, None),
        };
        for a in AGGREGATIONS {
            let tip = format!(
                "{}{}",
                aggregation_tip(a),
                if own.flatten().is_some_and(|(o, _)| o == a) {
                    " — the run's own"
                } else {
                    ""
                }
            );
            if ui
                .selectable_label(agg == Some(a), a.as_str())
                .on_hover_text(tip)
                .clicked()
            {
                let rule = Some((a, sel.unwrap_or(Selection::Vote)));
                cmds.push(Command::SetSelectionRule(Some(rule)));
            }
        }
        ui.label("×");
        for s in Selection::ALL {
            let tip = format!(
                "{}{}",
                selection_tip(s),
                if own.flatten().is_some_and(|(_, o)| o == s) {
                    " — the run's own"
                } else {
                    ""
                }
            );
            if ui
                .selectable_label(sel == Some(s), s.as_str())
                .on_hover_text(tip)
                .clicked()
            {
                let rule = Some((agg.unwrap_or(Aggregation::Last), s));
                cmds.push(Command::SetSelectionRule(Some(rule)));
            }
        }
        ui.label("or");
        if ui
            .selectable_label(shown == Some(None), "majority")
            .on_hover_text(TIP_MAJORITY)
            .clicked()
        {
            cmds.push(Command::SetSelectionRule(Some(None)));
        }
        if app.selection_rule.is_some() && ui.button("run's own").on_hover_text(TIP_OWN).clicked() {
            cmds.push(Command::SetSelectionRule(None));
        }
    });
    let verdict = |correct: bool| if correct { "correct" } else { "wrong" };
    match (app.selection_rule, own) {
        (Some(rule), _) => {
            let pick = choose(&r.candidates, rule).and_then(|i| r.candidates.get(i));
            let answer = pick
                .and_then(|c| c.answer.clone())
                .unwrap_or_else(|| "none".into());
            let correct = pick.is_some_and(|c| c.correct == Some(true));
            ui.colored_label(
                theme::verdict_color(Some(correct)),
                format!(
                    "under {}{}: answer {answer}: {} (its leaf is marked in the tree)",
                    rule_name(rule),
                    mark(rule),
                    verdict(correct)
                ),
            );
        }
        (None, own) => {
            let answer = r.answer.clone().unwrap_or_else(|| "none".into());
            let by = match own {
                Some(rule) => format!("under {}{}", rule_name(rule), mark(rule)),
                None if app
                    .tree_info
                    .as_ref()
                    .and_then(|t| t.run.as_ref())
                    .is_some_and(|(c, _)| {
                        c.strategy.kind() == crate::search::StrategyKind::Mcts
                    }) =>
                {
                    "the run's own choice (MCTS's most-visited path)".into()
                }
                None => "the run's own choice (hierarchical over the revision chains)".into(),
            };
            ui.colored_label(
                theme::verdict_color(Some(r.correct)),
                format!("{by}: answer {answer}: {}", verdict(r.correct)),
            );
        }
    }
}

/// Draws the summary.
pub fn ui(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    if let Some(e) = &app.error {
        ui.colored_label(theme::BAD, e);
    }
    if let Some(n) = &app.notice {
        ui.colored_label(theme::BAD, n);
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
    if let Some(line) = app.dial_line() {
        ui.colored_label(theme::SELECTED, line);
    }
    if let Some(e) = &app.dial_error {
        ui.colored_label(theme::BAD, e);
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
    selection_switch(ui, app, r, cmds);
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
