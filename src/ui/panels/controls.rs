//! The controls: the top bar (policy, verifier, Run and Stop, sweeps and exports, the load state
//! and progress) and the strategy panel on the right (strategy and its own parameters,
//! aggregation, budget, temperature, top-p, seed), each label before its widget, both with the
//! same tooltip in the paper's terms.

use crate::data::revision::RevisionTemplate;
use crate::data::DatasetSpec;
use crate::search::mcts::{MctsParams, MctsSelect, MctsValue, TreeRule};
use crate::search::revisions::RevisionSelection;
use crate::search::spec::Exploration;
use crate::search::{Aggregation, StrategyKind};
use crate::ui::state::files::PathFor;
use crate::ui::state::{Command, ModelStatus, State};
use crate::verify::noisy::{BlindSpot, NoisySpec};
use crate::verify::VerifierSpec;

/// Budgets the slider offers: powers of two, to 256 for the searches and to 1024 where the
/// strategy samples whole solutions in parallel.
pub fn budgets(kind: StrategyKind) -> Vec<usize> {
    let max = if kind.is_parallel_sampling() { 10 } else { 8 };
    (0..=max).map(|k| 1usize << k).collect()
}

const TIP_STRATEGY: &str = "How the budget is spent: majority voting, best-of-N (naive or \
    verifier-weighted) over whole samples, or a step-wise search against the verifier (beam \
    search, lookahead search, DVTS), or sequential revisions in parallel chains";
const TIP_VERIFIER: &str = "What scores every step: the exact checker (oracle), the policy's own \
    log-probabilities, or a learned process/outcome reward model";
const TIP_AGGREGATION: &str = "How a solution's step scores become one: the last step's (the \
    paper's default), the minimum, the product or the mean";
const TIP_BEAM_WIDTH: &str = "Beam width M: each kept prefix is expanded M times and N/M prefixes \
    are kept (DVTS: N/M independent subtrees); must divide the budget";
const TIP_LOOKAHEAD: &str = "Lookahead k: steps rolled out greedily from each candidate step \
    before the verifier scores it; costs N x (k + 1) generations";
const TIP_MAX_ROUNDS: &str = "Rounds (steps) of search before the surviving prefixes are run to \
    the end of their solutions";
const TIP_BATCH: &str = "Adaptive majority draws this many samples a round, up to the budget, \
    and stops after the round where the vote is settled";
const TIP_CONFIDENCE: &str = "Adaptive majority stops once the probability that the leading \
    answer is the majority one, P(Beta(v1 + 1, v2 + 1) > 1/2) with v1 and v2 the two largest \
    vote counts, reaches this (Aggarwal et al. 2023 use 0.95)";
const TIP_REBASE_TEMPERATURE: &str = "REBASE shares the width N among the prefixes by a \
    softmax of their scores at this temperature: lower gives the best-scoring prefixes more \
    children (Wu et al. 2024 use 0.2)";
const TIP_RESAMPLE_TEMPERATURE: &str = "Particle filtering resamples the particles every step \
    with probability softmax(logit(score) / T): lower follows the verifier more greedily \
    (Puri et al. 2025 use 1)";
const TIP_EXPANSION_WIDTH: &str = "MCTS expands a selected leaf with W sampled next steps, \
    scored by the verifier and backed up the selected path (N += 1, Q = mean value)";
const TIP_TREE_RULE: &str = "How MCTS selects a child: puct (AlphaZero, OpenR) adds to Q an \
    exploration term led by the policy's prior (a softmax over siblings of their steps' mean \
    token log-probability); uct (rStar) adds c * sqrt(ln N_parent / N_child)";
const TIP_EXPLORATION: &str = "UCT's exploration constant c: higher visits rarely tried \
    children more (rStar uses 2)";
const TIP_MCTS_VALUE: &str = "The value MCTS backs up: step, the new child's verifier score \
    (OpenR); rollout, the aggregated score of a simulation to the end of the solution, kept as \
    a candidate";
const TIP_MCTS_SELECT: &str = "How MCTS chooses its answer: vote (weighted by the candidates' \
    scores), max-value (the best-scoring candidate), max-visits (the most-visited path's best \
    candidate)";
const TIP_SELECTIONS: &str = "Paths MCTS selects per round (P), with a virtual loss so they \
    spread; their leaves are expanded in one batched policy call";
const TIP_CHAINS: &str = "Chains P of sequential revisions: the budget is spent as P parallel \
    chains of N/P attempts, each attempt written after its chain's 4 most recent ones; must \
    divide the budget";
const TIP_SELECTION: &str = "How revisions choose the answer: majority over every attempt, or \
    hierarchical (verifier-weighted best-of-N within each chain, then across the chains)";
const TIP_TEMPLATE: &str = "How a revision sees earlier attempts: plain (what the toy reviser is \
    trained on) or prompted (headed attempts and a request to correct them, for models not \
    trained to revise; weaker than a trained reviser)";
const TIP_BUDGET: &str = "Generation budget N: generations (full-solution equivalents) per \
    problem; for beam search and DVTS, the number of beams";
const TIP_TEMPERATURE: &str = "Sampling temperature of the policy (0: greedy)";
const TIP_TOP_P: &str = "Top-p (nucleus sampling): each token is drawn from the smallest set of \
    tokens whose probability reaches p (1: the whole distribution)";
const TIP_POLICY: &str = "The policy that writes the solutions: a committed toy model, or any \
    model directory (config.json, tokenizer.json, safetensors) or GGUF file; it loads on the \
    worker thread";

/// The policies offered by name: the committed toy models, and SmolLM2 where
/// `scripts/fetch-models.sh` put it.
pub fn known_policies() -> Vec<(String, std::path::PathBuf)> {
    let mut v: Vec<(String, std::path::PathBuf)> = [
        ("toy policy", "models/toy/policy"),
        ("toy policy, 4x larger", "models/toy/policy-large"),
        ("toy reviser", "models/toy/reviser"),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_string(), crate::engine::beside_crate(p)))
    .collect();
    let smol = crate::engine::beside_crate("models/smollm2");
    if let Ok(d) = std::fs::read_dir(&smol) {
        for f in d.flatten() {
            let path = f.path();
            if path.extension().is_some_and(|e| e == "gguf") {
                v.push((
                    format!("SmolLM2 ({})", f.file_name().to_string_lossy()),
                    path,
                ));
            }
        }
    }
    v
}

const TIP_DATASET: &str = "The problems to search: the toy world's 500 held-out problems, or a \
    JSONL file in MATH500 or GSM8K layout (its bad lines are skipped and reported)";

const TIP_SEED: &str = "Seed of the search: the same seed and settings give the same tree";

const TIP_NOISY: &str = "A synthetic verifier of chosen quality (README, \"The verifier-quality \
    dial\"): the toy task's exact step labels plus noise calibrated so that its within-problem \
    AUC is Q. With it chosen, Q and the blind spot re-score the search on screen at once, with \
    no new generation; Run searches with them";
const TIP_Q: &str = "Verifier quality Q: the within-problem AUC the noisy oracle is calibrated to \
    (0.5 is chance, 1 the oracle). Dragging it re-scores the finished search on screen from its \
    stored steps: the scores, the choice and the tree's colours follow, the search's path does \
    not";
const TIP_BLIND: &str = "A class of wrong steps the noisy oracle does not check: it scores them \
    like right ones and believes them (last-digit: a wrong result with the right last digit; \
    subtraction: any wrong subtraction)";

/// Q of the noisy oracle when it is picked from the verifier list.
const DEFAULT_Q: f64 = 0.8;

/// The dial's rows: Q and the blind spot of the noisy oracle.
fn dial_rows(ui: &mut egui::Ui, spec: &mut NoisySpec) {
    let l = label(ui, "Verifier quality Q", TIP_Q);
    ui.add(egui::Slider::new(&mut spec.q, 0.51..=0.99).step_by(0.01))
        .labelled_by(l.id)
        .on_hover_text(TIP_Q);
    // Two decimals, so that a dragged Q names the same verifier the CLI's `noisy-oracle:0.9`
    // does.
    spec.q = (spec.q * 100.0).round() / 100.0;
    ui.end_row();
    let l = label(ui, "Blind spot", TIP_BLIND);
    egui::ComboBox::from_id_salt("blind-spot")
        .selected_text(spec.blind.map_or("none", BlindSpot::as_str))
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut spec.blind, None, "none");
            for b in [BlindSpot::LastDigit, BlindSpot::Subtraction] {
                ui.selectable_value(&mut spec.blind, Some(b), b.as_str());
            }
        })
        .response
        .labelled_by(l.id)
        .on_hover_text(TIP_BLIND);
    ui.end_row();
}

/// Each control: its label first, then the widget, both with the same tooltip.
fn label(ui: &mut egui::Ui, text: &str, tip: &str) -> egui::Response {
    ui.label(text).on_hover_text(tip)
}

/// Draws the top bar.
pub fn top(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    let mut s = app.settings.clone();
    ui.horizontal_wrapped(|ui| {
        ui.heading("thinkscale");
        ui.separator();
        let l = label(ui, "Policy", TIP_POLICY);
        let known = known_policies();
        let current = app.policy();
        let shown = known
            .iter()
            .find(|(_, p)| p == current)
            .map_or_else(|| current.display().to_string(), |(n, _)| n.clone());
        egui::ComboBox::from_id_salt("policy")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                for (name, path) in &known {
                    if ui
                        .selectable_label(path == current, name)
                        .on_hover_text(path.display().to_string())
                        .clicked()
                        && path != current
                    {
                        cmds.push(Command::SetPolicy(path.clone()));
                    }
                }
                if ui.button("Model directory…").clicked() {
                    cmds.push(Command::AskPath(PathFor::PolicyDir));
                }
                if ui.button("GGUF file…").clicked() {
                    cmds.push(Command::AskPath(PathFor::PolicyGguf));
                }
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(TIP_POLICY);
        ui.add_enabled_ui(s.spec().uses_verifier(), |ui| {
            let l = label(ui, "Verifier", TIP_VERIFIER);
            egui::ComboBox::from_id_salt("verifier")
                .selected_text(s.verifier.to_string())
                // One width whatever is chosen, so the controls after it stay put.
                .width(140.0)
                // Every verifier at once, without a scroll bar.
                .height(f32::INFINITY)
                .show_ui(ui, |ui| {
                    for v in VerifierSpec::BUILT_IN {
                        let name = v.to_string();
                        ui.selectable_value(&mut s.verifier, v.clone(), name);
                        if v == VerifierSpec::Oracle {
                            // The dial next to the exact checker it blurs.
                            let noisy = matches!(s.verifier, VerifierSpec::NoisyOracle(_));
                            if ui
                                .selectable_label(noisy, "noisy-oracle (synthetic)")
                                .on_hover_text(TIP_NOISY)
                                .clicked()
                                && !noisy
                            {
                                s.verifier = VerifierSpec::NoisyOracle(NoisySpec {
                                    q: DEFAULT_Q,
                                    blind: None,
                                    seed: 0,
                                });
                            }
                        }
                    }
                    if ui
                        .button("PRM directory…")
                        .on_hover_text(
                            "A process reward model directory: any of the four PRM formats \
                             thinkscale reads (README, \"Models and formats\")",
                        )
                        .clicked()
                    {
                        cmds.push(Command::AskPath(PathFor::PrmDir));
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(TIP_VERIFIER)
                .on_disabled_hover_text("majority voting reads no verifier");
            // The hint takes one width whatever it says, so Run does not move.
            let hint = if !s.spec().uses_verifier() {
                ""
            } else if app.verifier_loaded.as_ref() == Some(&s.verifier) {
                "loaded"
            } else {
                "loads on Run"
            };
            ui.add_sized(
                [86.0, ui.spacing().interact_size.y],
                egui::Label::new(egui::RichText::new(hint).weak()),
            )
            .on_hover_text(
                "The worker loads a verifier on the first search that uses it and keeps it",
            );
        });
        let l = label(ui, "Dataset", TIP_DATASET);
        let name = match &app.settings.dataset {
            DatasetSpec::Toy => "toy evaluation split".to_string(),
            d => d.to_string(),
        };
        egui::ComboBox::from_id_salt("dataset")
            .selected_text(name)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(
                        app.settings.dataset == DatasetSpec::Toy,
                        "toy evaluation split",
                    )
                    .clicked()
                    && app.settings.dataset != DatasetSpec::Toy
                {
                    cmds.push(Command::SetDataset(Box::new(DatasetSpec::Toy)));
                }
                if ui.button("JSONL file…").clicked() {
                    cmds.push(Command::AskPath(PathFor::Dataset));
                }
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(TIP_DATASET);
        ui.separator();
        let ready = matches!(app.model, ModelStatus::Ready(..));
        let can_run = ready && app.selected.is_some() && app.running.is_none();
        let why_not = if !ready {
            "the policy is not loaded"
        } else if app.running.is_some() {
            "a search is running"
        } else {
            "select a problem on the left first"
        };
        if ui
            .add_enabled(can_run, egui::Button::new("Run"))
            .on_hover_text("Search the selected problem with these settings")
            .on_disabled_hover_text(why_not)
            .clicked()
        {
            cmds.push(Command::Run);
        }
        if ui
            .add_enabled(app.running.is_some(), egui::Button::new("Stop"))
            .on_hover_text("Stop the search after the forward pass under way")
            .on_disabled_hover_text("no search is running")
            .clicked()
        {
            cmds.push(Command::Cancel);
        }
        ui.separator();
        if ui
            .button("Open sweep…")
            .on_hover_text(
                "Read a sweep directory's records and draw its curves in the Plots tab (or drop \
                 the directory on the window)",
            )
            .clicked()
        {
            cmds.push(Command::AskPath(PathFor::OpenSweep));
        }
        if ui
            .add_enabled(app.export.is_none(), egui::Button::new("Export figures…"))
            .on_hover_text("Write the paper figures (SVG, PNG, CSV, JSON) of a sweep directory")
            .clicked()
        {
            cmds.push(Command::AskPath(PathFor::ExportFigures));
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
                ui.label(format!("loading policy {}…", app.policy().display()));
            }
            (ModelStatus::Failed(e), _) => {
                ui.colored_label(crate::ui::theme::BAD, format!("policy failed to load: {e}"));
            }
            (ModelStatus::Ready(..), Some((_, done, total))) => {
                // What a search counts as it goes is its finished candidates (a tree search
                // finishes them late); what it spends is the budget in generations, N x (k + 1)
                // for lookahead.
                let spent = app.settings.spec().generations(app.settings.budget);
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .desired_width(160.0)
                        .text(format!("{done}/{total} candidates · {} tokens", app.tokens)),
                )
                .on_hover_text(format!(
                    "{done} of {total} candidates finished; the search spends a budget of \
                     {spent} generations"
                ));
            }
            (ModelStatus::Ready(name, params), None) => {
                ui.label(format!(
                    "{} params · cpu",
                    crate::export::data::fmt_compact(*params as f64)
                ))
                .on_hover_text(format!("{name}: {params} parameters, loaded"));
            }
        }
    });
    if s != app.settings {
        cmds.push(Command::SetSettings(s));
    }
}

/// The round cap's row (tree searches and REBASE).
fn max_rounds_row(ui: &mut egui::Ui, max_rounds: &mut usize) {
    let l = label(ui, "Max rounds", TIP_MAX_ROUNDS);
    ui.add(egui::Slider::new(max_rounds, 1..=60))
        .labelled_by(l.id)
        .on_hover_text(TIP_MAX_ROUNDS);
    ui.end_row();
}

/// A row with a menu of named choices.
fn choice_row<T: Copy + PartialEq>(
    ui: &mut egui::Ui,
    name: &str,
    tip: &str,
    value: &mut T,
    all: &[T],
    text: fn(T) -> &'static str,
) {
    let l = label(ui, name, tip);
    egui::ComboBox::from_id_salt(name)
        .selected_text(text(*value))
        .show_ui(ui, |ui| {
            for &x in all {
                ui.selectable_value(value, x, text(x));
            }
        })
        .response
        .labelled_by(l.id)
        .on_hover_text(tip);
    ui.end_row();
}

/// MCTS's rows: W, the tree rule (and UCT's c), the value, the choice and P.
fn mcts_rows(ui: &mut egui::Ui, m: &mut MctsParams) {
    let l = label(ui, "Expansion width", TIP_EXPANSION_WIDTH);
    ui.add(egui::Slider::new(&mut m.expansion_width, 1..=16))
        .labelled_by(l.id)
        .on_hover_text(TIP_EXPANSION_WIDTH);
    ui.end_row();
    choice_row(
        ui,
        "Tree rule",
        TIP_TREE_RULE,
        &mut m.tree_rule,
        TreeRule::ALL,
        TreeRule::as_str,
    );
    if m.tree_rule == TreeRule::Uct {
        let mut c = m.exploration.get();
        let l = label(ui, "Exploration", TIP_EXPLORATION);
        ui.add(
            egui::Slider::new(&mut c, 0.1..=10.0)
                .logarithmic(true)
                .step_by(0.01),
        )
        .labelled_by(l.id)
        .on_hover_text(TIP_EXPLORATION);
        ui.end_row();
        if let Ok(c) = Exploration::new(c) {
            m.exploration = c;
        }
    }
    choice_row(
        ui,
        "Value",
        TIP_MCTS_VALUE,
        &mut m.value,
        MctsValue::ALL,
        MctsValue::as_str,
    );
    choice_row(
        ui,
        "Choice",
        TIP_MCTS_SELECT,
        &mut m.select,
        MctsSelect::ALL,
        MctsSelect::as_str,
    );
    let l = label(ui, "Selections per round", TIP_SELECTIONS);
    ui.add(egui::Slider::new(&mut m.selections_per_round, 1..=16))
        .labelled_by(l.id)
        .on_hover_text(TIP_SELECTIONS);
    ui.end_row();
}

/// Draws the strategy panel: a grid of label and widget rows.
pub fn strategy(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    let mut s = app.settings.clone();
    ui.heading("Strategy settings");
    egui::Grid::new("strategy-controls")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let l = label(ui, "Strategy", TIP_STRATEGY);
            egui::ComboBox::from_id_salt("strategy")
                .selected_text(s.strategy.as_str())
                // Every strategy at once, without a scroll bar.
                .height(f32::INFINITY)
                .show_ui(ui, |ui| {
                    for k in StrategyKind::ALL {
                        ui.selectable_value(&mut s.strategy, k, k.as_str());
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(TIP_STRATEGY);
            ui.end_row();
            if s.strategy.is_tree_search() {
                // Beam widths that divide the budget: powers of two up to it.
                let widths: Vec<usize> = budgets(s.strategy)
                    .into_iter()
                    .filter(|&w| w <= s.budget.max(1))
                    .collect();
                let l = label(ui, "Beam width", TIP_BEAM_WIDTH);
                egui::ComboBox::from_id_salt("beam-width")
                    .selected_text(s.beam_width.to_string())
                    .show_ui(ui, |ui| {
                        for w in widths {
                            ui.selectable_value(&mut s.beam_width, w, w.to_string());
                        }
                    })
                    .response
                    .labelled_by(l.id)
                    .on_hover_text(TIP_BEAM_WIDTH);
                ui.end_row();
                if s.strategy == StrategyKind::Lookahead {
                    let l = label(ui, "Lookahead", TIP_LOOKAHEAD);
                    ui.add(egui::Slider::new(&mut s.lookahead, 1..=5))
                        .labelled_by(l.id)
                        .on_hover_text(TIP_LOOKAHEAD);
                    ui.end_row();
                }
                max_rounds_row(ui, &mut s.max_rounds);
            }
            if s.strategy == StrategyKind::Rebase {
                let l = label(ui, "Temperature (REBASE)", TIP_REBASE_TEMPERATURE);
                ui.add(
                    egui::Slider::new(&mut s.rebase_temperature, 0.01..=2.0)
                        .logarithmic(true)
                        .step_by(0.01),
                )
                .labelled_by(l.id)
                .on_hover_text(TIP_REBASE_TEMPERATURE);
                ui.end_row();
                max_rounds_row(ui, &mut s.max_rounds);
            }
            if s.strategy == StrategyKind::Particles {
                let l = label(ui, "Resample temperature", TIP_RESAMPLE_TEMPERATURE);
                ui.add(
                    egui::Slider::new(&mut s.resample_temperature, 0.05..=5.0)
                        .logarithmic(true)
                        .step_by(0.01),
                )
                .labelled_by(l.id)
                .on_hover_text(TIP_RESAMPLE_TEMPERATURE);
                ui.end_row();
                max_rounds_row(ui, &mut s.max_rounds);
            }
            if s.strategy == StrategyKind::Mcts {
                mcts_rows(ui, &mut s.mcts);
                max_rounds_row(ui, &mut s.max_rounds);
            }
            if s.strategy == StrategyKind::AdaptiveMajority {
                let l = label(ui, "Batch", TIP_BATCH);
                ui.add(egui::Slider::new(&mut s.batch, 1..=32))
                    .labelled_by(l.id)
                    .on_hover_text(TIP_BATCH);
                ui.end_row();
                let l = label(ui, "Confidence", TIP_CONFIDENCE);
                ui.add(egui::Slider::new(&mut s.confidence, 0.51..=1.0).step_by(0.01))
                    .labelled_by(l.id)
                    .on_hover_text(TIP_CONFIDENCE);
                ui.end_row();
            }
            if s.strategy == StrategyKind::Revisions {
                let chains: Vec<usize> = (1..=s.budget.max(1))
                    .filter(|p| s.budget.is_multiple_of(*p))
                    .collect();
                let l = label(ui, "Chains", TIP_CHAINS);
                egui::ComboBox::from_id_salt("chains")
                    .selected_text(format!("{} x {}", s.chains, s.budget / s.chains.max(1)))
                    .show_ui(ui, |ui| {
                        for p in chains {
                            let text = format!("{p} chains x {} attempts", s.budget / p);
                            ui.selectable_value(&mut s.chains, p, text);
                        }
                    })
                    .response
                    .labelled_by(l.id)
                    .on_hover_text(TIP_CHAINS);
                ui.end_row();
                let l = label(ui, "Selection", TIP_SELECTION);
                egui::ComboBox::from_id_salt("revision-selection")
                    .selected_text(s.revision_selection.as_str())
                    .show_ui(ui, |ui| {
                        for v in [RevisionSelection::Majority, RevisionSelection::Hierarchical] {
                            ui.selectable_value(&mut s.revision_selection, v, v.as_str());
                        }
                    })
                    .response
                    .labelled_by(l.id)
                    .on_hover_text(TIP_SELECTION);
                ui.end_row();
                let l = label(ui, "Template", TIP_TEMPLATE);
                egui::ComboBox::from_id_salt("revision-template")
                    .selected_text(s.revision_template.as_str())
                    .show_ui(ui, |ui| {
                        for t in [RevisionTemplate::Plain, RevisionTemplate::Prompted] {
                            ui.selectable_value(&mut s.revision_template, t, t.as_str());
                        }
                    })
                    .response
                    .labelled_by(l.id)
                    .on_hover_text(TIP_TEMPLATE);
                ui.end_row();
            }
            let l = label(ui, "Aggregation", TIP_AGGREGATION);
            ui.add_enabled_ui(s.spec().uses_verifier(), |ui| {
                egui::ComboBox::from_id_salt("aggregation")
                    .selected_text(s.aggregation.as_str())
                    .show_ui(ui, |ui| {
                        for a in Aggregation::ALL {
                            ui.selectable_value(&mut s.aggregation, a, a.as_str());
                        }
                    })
                    .response
                    .labelled_by(l.id)
                    .on_hover_text(TIP_AGGREGATION)
                    .on_disabled_hover_text("majority voting reads no verifier");
            });
            ui.end_row();
            if let VerifierSpec::NoisyOracle(spec) = &mut s.verifier {
                dial_rows(ui, spec);
            }
            let offered = budgets(s.strategy);
            let mut k = offered
                .iter()
                .position(|&b| b >= s.budget)
                .unwrap_or(offered.len() - 1);
            let l = label(ui, &format!("Budget N = {}", offered[k]), TIP_BUDGET);
            ui.add(egui::Slider::new(&mut k, 0..=offered.len() - 1).show_value(false))
                .labelled_by(l.id)
                .on_hover_text(TIP_BUDGET);
            s.budget = offered[k];
            ui.end_row();
            if !s.budget.is_multiple_of(s.beam_width.max(1)) {
                s.beam_width = s.beam_width.min(s.budget).max(1);
                while !s.budget.is_multiple_of(s.beam_width) {
                    s.beam_width -= 1;
                }
            }
            if !s.budget.is_multiple_of(s.chains.max(1)) {
                s.chains = s.chains.min(s.budget).max(1);
                while !s.budget.is_multiple_of(s.chains) {
                    s.chains -= 1;
                }
            }
            let l = label(ui, "Temperature", TIP_TEMPERATURE);
            ui.add(egui::Slider::new(&mut s.temperature, 0.0..=1.5).step_by(0.05))
                .labelled_by(l.id)
                .on_hover_text(TIP_TEMPERATURE);
            ui.end_row();
            let l = label(ui, "Top-p", TIP_TOP_P);
            ui.add(egui::Slider::new(&mut s.top_p, 0.05..=1.0).step_by(0.05))
                .labelled_by(l.id)
                .on_hover_text(TIP_TOP_P);
            ui.end_row();
            let l = label(ui, "Seed", TIP_SEED);
            ui.add(egui::DragValue::new(&mut s.seed))
                .labelled_by(l.id)
                .on_hover_text(TIP_SEED);
            ui.end_row();
        });
    if s != app.settings {
        cmds.push(Command::SetSettings(s));
    }
}
