//! Frame time of the tree view for a search of 11,111 steps (10 children per node, 4 deep): the
//! UI logic of one frame (layout cached, as the window caches it) and its tessellation, in a
//! 1600 x 1000 window, 50 frames after 10 of warm-up.
//!
//! `cargo run --release --example tree_frame_bench`

use std::time::Instant;
use thinkscale::ui::app::{Settings, TreeInfo};
use thinkscale::ui::panels::tree_view::{draw, layout, synthetic_tree, TreeView};

const FRAMES: usize = 60;

fn main() {
    let tree = synthetic_tree(10, 4);
    let t = Instant::now();
    let pos = layout(&tree);
    let layout_ms = t.elapsed().as_secs_f64() * 1e3;
    let info = TreeInfo::of(&Settings::default());
    let view = TreeView {
        tree: &tree,
        pos: &pos,
        chosen: Some(tree.nodes.len() - 1),
        selected: None,
        header: Some(&info.header),
        scored: true,
    };
    println!(
        "tree of {} nodes; layout (once per change, not per frame): {layout_ms:.2} ms",
        tree.nodes.len()
    );
    println!("| view | UI logic ms (mean / max) | tessellation ms (mean / max) | shapes |");
    println!("|---|---|---|---|");
    {
        let name = "11,111 steps";
        let ctx = egui::Context::default();
        let (mut ui_ms, mut tess_ms, mut shapes) = (Vec::new(), Vec::new(), 0);
        for frame in 0..FRAMES {
            let input = egui::RawInput {
                screen_rect: Some(egui::Rect::from_min_size(
                    egui::pos2(0.0, 0.0),
                    egui::vec2(1600.0, 1000.0),
                )),
                ..Default::default()
            };
            let mut cmds = Vec::new();
            let t = Instant::now();
            let mut out = ctx.run_ui(input, |ui| draw(ui, &view, &mut cmds));
            let ui_t = t.elapsed().as_secs_f64() * 1e3;
            out.textures_delta.clear();
            shapes = out.shapes.len();
            let t = Instant::now();
            let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
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
}
