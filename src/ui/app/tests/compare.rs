use super::{beam_searched, step_until};
use crate::engine::ComputeMeter;
use crate::search::StrategyKind;
use crate::store::Record;
use crate::ui::app::*;
use crate::ui::layout::Camera;
use crate::ui::panels::compare::{difference, side_line};
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
    assert!(
        difference(&b, &a).starts_with("pinned -> current: policy tokens 800 -> 400 (−400, ×0.50)")
    );
}
