//! Frame time of the whole window (egui_kittest driving the real app) with a search tree of
//! 11,111 steps on screen: the UI logic of one frame (every panel, the tree view, the step-score
//! chart, AccessKit's update as kittest runs it) and its tessellation, in a 1600 x 1000 window,
//! 50 frames after 10 of warm-up, for three views of the tree: fitted (all of it on screen, the
//! view a search starts in), at 100%, and at 300%; then replayed at round 2 (the tree cut to the
//! 1,110 steps of its first three levels), and compared (a second tree of the same size pinned beside it).
//!
//! `cargo run --release --example window_frame_bench`

use egui_kittest::Harness;
use std::time::Instant;
use thinkscale::search::NodeStatus;
use thinkscale::store::Record;
use thinkscale::ui::app::{App, Command, Settings, TreeInfo};
use thinkscale::ui::layout::{layout, Camera};
use thinkscale::ui::panels::tree_view::synthetic_tree;

const FRAMES: usize = 60;

fn main() -> std::io::Result<()> {
    let app = App::new(
        &egui::Context::default(),
        thinkscale::engine::default_policy_dir(),
    )?;
    let mut harness = Harness::builder()
        .with_size([1600.0, 1000.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    {
        let app = harness.state_mut();
        let mut tree = synthetic_tree(10, 4);
        // The last level finishes, half right: the step-score chart draws every candidate.
        let n = tree.nodes.len();
        for (k, i) in (n - 10_000..n).enumerate() {
            tree.nodes[i].status = NodeStatus::Finished {
                answer: Some("79".into()),
                correct: Some(k % 2 == 0),
            };
        }
        app.tree_layout = layout(&tree, &Default::default());
        app.tree = tree;
        app.tree_info = Some(TreeInfo::of(&Settings::default()));
        app.chosen_leaf = Some(n - 1);
    }
    println!(
        "window with a tree of {} nodes (10,000 finished candidates in the step-score chart)",
        harness.state().tree.nodes.len()
    );
    println!("| view | UI logic ms (mean / max) | tessellation ms (mean / max) | shapes |");
    println!("|---|---|---|---|");
    for (name, camera) in [
        ("fitted (all on screen)", Camera::default()),
        (
            "100%",
            Camera {
                follow: false,
                ..Camera::default()
            },
        ),
        (
            "300%",
            Camera {
                zoom: 3.0,
                follow: false,
                ..Camera::default()
            },
        ),
    ] {
        harness.state_mut().apply(Command::SetCamera(camera));
        measure(&mut harness, name);
    }
    harness
        .state_mut()
        .apply(Command::SetCamera(Camera::default()));
    harness.state_mut().apply(Command::SetReplay(Some(2)));
    measure(&mut harness, "replayed at round 2 (fitted)");
    harness.state_mut().apply(Command::SetReplay(None));
    {
        let app = harness.state_mut();
        app.last = Some(Record {
            id: "synthetic".into(),
            level: None,
            question: app.tree.nodes[0].text.clone(),
            reference: "79".into(),
            answer: Some("79".into()),
            correct: true,
            candidates: Vec::new(),
            compute: Default::default(),
            seed: 0,
            tree: None,
            chosen: None,
            judged: Vec::new(),
        });
        app.apply(Command::Pin);
    }
    measure(
        &mut harness,
        "compare: two such trees side by side (fitted)",
    );
    Ok(())
}

/// Steps the window `FRAMES` times and prints a row: UI logic and tessellation times (mean and
/// max after 10 frames of warm-up) and the shapes of the last frame.
fn measure(harness: &mut Harness<'_, App>, name: &str) {
    let (mut ui_ms, mut tess_ms, mut shapes) = (Vec::new(), Vec::new(), 0);
    for frame in 0..FRAMES {
        let t = Instant::now();
        harness.step();
        let ui_t = t.elapsed().as_secs_f64() * 1e3;
        let out = harness.output();
        shapes = out.shapes.len();
        let (clipped, ppp) = (out.shapes.clone(), out.pixels_per_point);
        let t = Instant::now();
        let prims = harness.ctx.tessellate(clipped, ppp);
        let tess_t = t.elapsed().as_secs_f64() * 1e3;
        std::hint::black_box(prims);
        if frame >= 10 {
            ui_ms.push(ui_t);
            tess_ms.push(tess_t);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    println!(
        "| {name} | {:.2} / {:.2} | {:.2} / {:.2} | {shapes} |",
        mean(&ui_ms),
        max(&ui_ms),
        mean(&tess_ms),
        max(&tess_ms)
    );
}
