//! Figures of a small synthetic sweep written to a temporary directory and read back as any
//! sweep is (`runner::sweep::load`, `analysis::sweep::curves`).

use super::*;
use crate::analysis::bins::BINS;
use crate::analysis::sweep::curves;
use crate::engine::ComputeMeter;
use crate::runner::sweep::{load, SweepConfig, SweepRun};
use crate::search::{Aggregation, Candidate, Step, StrategyKind};
use crate::store::Record;
use crate::verify::noisy::NoisySpec;
use crate::verify::VerifierSpec;
use std::collections::BTreeMap;

const CONFIG: &str = r#"
dataset = { kind = "toy" }
policy = "models/toy/policy"
verifier = "oracle"
strategies = ["majority", "weighted-best-of-n", "beam"]
budgets = [1, 2, 4, 8]
beam_widths = [2]
bin_samples = 8
draws = 20
"#;

/// Right samples among 8 per problem: problem 0 is the easiest.
const RIGHT: [usize; 10] = [8, 7, 6, 6, 4, 3, 2, 2, 1, 0];

fn candidate(answer: &str, correct: bool, score: f32) -> Candidate {
    Candidate {
        steps: vec![Step {
            text: format!("\\boxed{{{answer}}}"),
            score,
            tokens: 4,
        }],
        answer: Some(answer.into()),
        correct: Some(correct),
        score,
        tokens: 4,
        leaf: 0,
    }
}

fn record(p: usize, correct: bool, candidates: Vec<Candidate>) -> Record {
    Record {
        id: format!("p{p}"),
        level: Some(1 + (p % 3) as u8),
        question: format!("{p}+{p}"),
        reference: "42".into(),
        answer: Some("42".into()),
        correct,
        // 8 samples of 4 tokens, a searched problem as much.
        compute: ComputeMeter {
            generated_tokens: 32,
            policy_flops: 8e6,
            ..Default::default()
        },
        candidates,
        seed: 0,
        tree: None,
        chosen: None,
        judged: vec![],
    }
}

/// Problem `p`'s 8 samples: the right ones score high, the wrong ones (two answers) low, with
/// some overlap.
fn samples(p: usize) -> Vec<Candidate> {
    (0..8)
        .map(|j| {
            if j < RIGHT[p] {
                candidate("42", true, 0.45 + 0.07 * j as f32)
            } else {
                let a = if j % 2 == 0 { "41" } else { "40" };
                candidate(a, false, 0.05 + 0.08 * (j - RIGHT[p]) as f32)
            }
        })
        .collect()
}

/// Writes a sweep of `config` with bins, a bank (when a sampling strategy is in it) and beam
/// searches at budgets 2, 4 and 8.
fn write_sweep(dir: &Path, config: &SweepConfig) {
    std::fs::create_dir_all(dir).unwrap();
    let manifest = SweepManifest {
        config: config.clone(),
        // A larger policy four times the size, pretrained on as many tokens: the matched
        // budgets are 4 + 9/R.
        policies: vec![
            crate::runner::sweep::PolicyFacts {
                role: "policy".into(),
                params: 1000,
                pretrain_tokens: Some(5000),
            },
            crate::runner::sweep::PolicyFacts {
                role: "larger-policy".into(),
                params: 4000,
                pretrain_tokens: Some(5000),
            },
        ],
        models: vec![],
        thinkscale_version: "0.1.0".into(),
        problems: Vec::new(),
    };
    crate::io::write_json(&dir.join("sweep.json"), &manifest).unwrap();
    let mut lines = Vec::new();
    for (p, &right) in RIGHT.iter().enumerate() {
        lines.push(SweepRecord {
            run: SweepRun::Bins { budget: 8 },
            record: record(p, right > 4, samples(p)),
        });
        if config.strategies.iter().any(|k| k.is_parallel_sampling()) {
            lines.push(SweepRecord {
                run: SweepRun::Bank { budget: 8, seed: 0 },
                record: record(p, right > 4, samples(p)),
            });
        }
        lines.push(SweepRecord {
            run: SweepRun::Larger,
            record: record(p, right >= 4, vec![]),
        });
        for budget in [2, 4, 8] {
            lines.push(SweepRecord {
                run: SweepRun::Search {
                    strategy: StrategyKind::Beam.with(Aggregation::Last, 2, 40, 0),
                    budget,
                    seed: 0,
                },
                record: record(p, right * budget > 12, vec![]),
            });
        }
    }
    let text: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    std::fs::write(dir.join("records.jsonl"), text).unwrap();
}

fn config() -> SweepConfig {
    toml::from_str(CONFIG).unwrap()
}

struct Sweep {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    manifest: SweepManifest,
    records: Vec<SweepRecord>,
    curves: SweepCurves,
}

fn sweep_of(config: &SweepConfig) -> Sweep {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    write_sweep(&dir, config);
    let (manifest, records) = load(&dir).unwrap();
    let curves = curves(&manifest, &records);
    Sweep {
        _tmp: tmp,
        dir,
        manifest,
        records,
        curves,
    }
}

impl Sweep {
    fn write(&self, figure: Figure, preset: Preset, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
        write_figure(
            figure,
            &self.manifest,
            &self.curves,
            &self.records,
            preset,
            out,
        )
    }
}

/// A CSV line split into fields (quoted fields may hold commas and doubled quotes).
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

/// The CSV's rows keyed by (panel, series), each `[x, x_to, y, low, high, count, note]`.
fn csv_rows(path: &Path) -> BTreeMap<(String, String), Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(FigureData::CSV_HEADER));
    let mut rows: BTreeMap<(String, String), Vec<Vec<String>>> = BTreeMap::new();
    for line in lines {
        let f = fields(line);
        assert_eq!(f.len(), 9, "{line}");
        rows.entry((f[0].clone(), f[1].clone()))
            .or_default()
            .push(f[2..].to_vec());
    }
    rows
}

fn num(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("'{s}' is not a number"))
}

/// Equal JSON, numbers within a relative 1e-12.
fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-12 * x.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

fn svg_metadata(svg: &str) -> serde_json::Value {
    let open = svg.find("<svg").unwrap();
    let tag_end = open + svg[open..].find('>').unwrap() + 1;
    let rest = svg[tag_end..].trim_start();
    let body = rest
        .strip_prefix("<metadata>")
        .expect("<metadata> right after the opening <svg> tag");
    let body = &body[..body.find("</metadata>").unwrap()];
    let json = body
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn every_figure_writes_svg_csv_and_json_with_the_sweep_in_its_metadata() {
    let s = sweep_of(&config());
    let out = s.dir.join("out");
    std::fs::create_dir(&out).unwrap();
    let config = serde_json::to_value(&s.manifest.config).unwrap();
    for figure in Figure::ALL {
        let svg_path = out.join(format!("{figure}.svg"));
        let files = s.write(figure, Preset::Single, &svg_path).unwrap();
        assert_eq!(
            files,
            vec![
                svg_path.clone(),
                out.join(format!("{figure}.csv")),
                out.join(format!("{figure}.json"))
            ]
        );
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert!(
            svg.contains("width=\"234\""),
            "{figure}: 3.25 in at 72 units"
        );
        assert!(svg.contains("font-family=\"DejaVu Sans\""), "{figure}");
        let meta = svg_metadata(&svg);
        assert_eq!(meta["sweep"]["config"], config, "{figure}");
        assert_eq!(meta["figure"], figure.as_str());
        assert_eq!(
            meta["software"],
            format!("thinkscale {}", env!("CARGO_PKG_VERSION"))
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[2]).unwrap()).unwrap();
        assert_eq!(json["figure"], figure.as_str());
        assert_eq!(json["preset"], "single");
        assert_eq!(json["sweep"]["config"], config);
        // The JSON and the CSV hold the numbers drawn (serde_json reads floats to within an
        // ulp or so; the CSV is compared exactly).
        let data = figure.data(&s.manifest, &s.curves, &s.records).unwrap();
        let drawn = serde_json::to_value(&data).unwrap();
        assert!(close(&json["panels"], &drawn["panels"]), "{figure}");
        assert_eq!(json["title"], drawn["title"]);
        assert_eq!(std::fs::read_to_string(&files[1]).unwrap(), data.csv());
    }
    // The double preset is 6.75 in wide.
    let wide = out.join("wide.svg");
    s.write(Figure::Accuracy, Preset::Double, &wide).unwrap();
    assert!(std::fs::read_to_string(&wide)
        .unwrap()
        .contains("width=\"486\""));
}

#[test]
fn accuracy_csv_rows_are_the_sweep_curves() {
    let s = sweep_of(&config());
    let out = s.dir.join("accuracy.svg");
    let files = s.write(Figure::Accuracy, Preset::Single, &out).unwrap();
    let rows = csv_rows(&files[1]);
    // Majority, weighted best-of-N, pass@n and beam search.
    assert_eq!(s.curves.series.len(), 4);
    let mut expected_rows = 0;
    for series in &s.curves.series {
        let all = &rows[&("all problems".to_string(), series.label.clone())];
        assert_eq!(all.len(), series.points.len(), "{}", series.label);
        for (row, p) in all.iter().zip(&series.points) {
            assert_eq!(num(&row[0]), p.cost);
            assert_eq!(num(&row[2]), p.accuracy, "{} at {}", series.label, p.budget);
            if series.label == "pass@n" {
                assert_eq!((row[3].as_str(), row[4].as_str()), ("", ""));
            } else {
                assert_eq!(num(&row[3]), p.low);
                assert_eq!(num(&row[4]), p.high);
            }
        }
        expected_rows += all.len();
        for b in 1..=BINS {
            let title = match b {
                1 => "bin 1 (easiest)".to_string(),
                5 => "bin 5 (hardest)".to_string(),
                b => format!("bin {b}"),
            };
            let panel = &rows[&(title, series.label.clone())];
            assert_eq!(
                panel.len(),
                series.points.len(),
                "{} in bin {b}",
                series.label
            );
            for (row, p) in panel.iter().zip(&series.points) {
                assert_eq!(num(&row[2]), p.per_bin[b - 1]);
            }
            expected_rows += panel.len();
        }
    }
    assert_eq!(rows.values().map(Vec::len).sum::<usize>(), expected_rows);
    // Beam search ran at 2, 4 and 8 only; the sampling strategies at every budget.
    let beam = s
        .curves
        .series
        .iter()
        .find(|x| x.strategy == StrategyKind::Beam)
        .unwrap();
    assert_eq!(beam.points.len(), 3);
    assert!(s.curves.series[0].points.len() == 4);
}

#[test]
fn optimal_bins_and_scores_csvs_hold_the_numbers_drawn() {
    let s = sweep_of(&config());
    // Compute-optimal: bin 0 against the efficiency gains.
    let files = s
        .write(Figure::Optimal, Preset::Single, &s.dir.join("optimal.svg"))
        .unwrap();
    let rows = csv_rows(&files[1]);
    let opt = &rows[&("all problems".to_string(), "compute-optimal".to_string())];
    let all: Vec<_> = s.curves.optimal.iter().filter(|o| o.bin == 0).collect();
    assert_eq!(opt.len(), all.len());
    for (row, o) in opt.iter().zip(&all) {
        assert_eq!(num(&row[0]), o.cost);
        assert_eq!(num(&row[2]), o.accuracy);
        let e = s
            .curves
            .efficiency
            .iter()
            .find(|e| e.cost == o.cost)
            .unwrap();
        assert_eq!(row[6], figures::gain_label(e.gain));
    }
    let bon = s
        .curves
        .series
        .iter()
        .find(|x| x.strategy == StrategyKind::WeightedBestOfN)
        .unwrap();
    let drawn = &rows[&("all problems".to_string(), bon.label.clone())];
    assert_eq!(
        drawn.iter().map(|r| num(&r[2])).collect::<Vec<_>>(),
        bon.points.iter().map(|p| p.accuracy).collect::<Vec<_>>()
    );
    // Bins: the problems per oracle bin.
    let files = s
        .write(Figure::Bins, Preset::Single, &s.dir.join("bins.svg"))
        .unwrap();
    let rows = csv_rows(&files[1]);
    let sizes = rows
        .iter()
        .find(|((panel, _), _)| panel.starts_with("problems per bin"))
        .map(|(_, r)| r.iter().map(|r| num(&r[2]) as usize).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(sizes, s.curves.bins.oracle_sizes);
    assert_eq!(sizes.iter().sum::<usize>(), RIGHT.len());
    // Scores: every graded sample of the bank, once.
    let files = s
        .write(Figure::Scores, Preset::Single, &s.dir.join("scores.svg"))
        .unwrap();
    let rows = csv_rows(&files[1]);
    let right: usize = RIGHT.iter().sum();
    let wrong = 8 * RIGHT.len() - right;
    for (name, n) in [("right", right), ("wrong", wrong)] {
        let key = ("all problems".to_string(), format!("{name} (n = {n})"));
        let bins = &rows[&key];
        assert_eq!(bins.iter().map(|r| num(&r[5]) as usize).sum::<usize>(), n);
        let share: f64 = bins.iter().map(|r| num(&r[2])).sum();
        assert!((share - 1.0).abs() < 1e-9, "{name}: {share}");
    }
}

#[test]
fn a_png_decodes_and_carries_the_sweep_in_a_text_chunk() {
    let s = sweep_of(&config());
    let out = s.dir.join("acc.png");
    let files = s.write(Figure::Accuracy, Preset::Single, &out).unwrap();
    assert_eq!(files[0], out);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    assert_eq!(frame.width, 975, "3.25 in at 300 dpi");
    assert_eq!(frame.color_type, png::ColorType::Rgb);
    // Not blank: the figure drew in more than two colours.
    let mut colours: Vec<&[u8]> = buf[..frame.buffer_size()].chunks(3).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 20, "{} colours", colours.len());
    let info = reader.info();
    let text: BTreeMap<String, String> = info
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect();
    assert_eq!(
        text["Software"],
        format!("thinkscale {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(text["thinkscale:figure"], "accuracy");
    let sweep: SweepManifest = serde_json::from_str(&text["thinkscale:sweep"]).unwrap();
    assert_eq!(sweep, s.manifest);
    let dims = info.pixel_dims.unwrap();
    assert_eq!((dims.xppu, dims.unit), (11811, png::Unit::Meter));
}

#[test]
fn rendering_twice_gives_identical_bytes() {
    let s = sweep_of(&config());
    for format in Format::ALL {
        for figure in Figure::ALL {
            let a = s.dir.join(format!("a-{figure}.{format}"));
            let b = s.dir.join(format!("b-{figure}.{format}"));
            let fa = s.write(figure, Preset::Double, &a).unwrap();
            let fb = s.write(figure, Preset::Double, &b).unwrap();
            assert_eq!(fa.len(), fb.len(), "{figure} as {format}");
            for (x, y) in fa.iter().zip(&fb) {
                assert_eq!(
                    std::fs::read(x).unwrap(),
                    std::fs::read(y).unwrap(),
                    "{} differs from {}",
                    x.display(),
                    y.display()
                );
            }
        }
    }
}

#[test]
fn bad_outputs_are_refused_clearly_and_write_nothing() {
    let s = sweep_of(&config());
    let pdf = s.dir.join("fig.pdf");
    let err = format!(
        "{:#}",
        s.write(Figure::Accuracy, Preset::Single, &pdf).unwrap_err()
    );
    assert!(
        err.contains("fig.pdf") && err.contains(".svg") && err.contains(".png"),
        "{err}"
    );
    let jpg = s.dir.join("fig.jpg");
    let err = format!(
        "{:#}",
        s.write(Figure::Accuracy, Preset::Single, &jpg).unwrap_err()
    );
    assert!(err.contains("'.jpg'") && err.contains(".svg"), "{err}");
    let missing = s.dir.join("no-such-dir").join("fig.svg");
    let err = format!(
        "{:#}",
        s.write(Figure::Accuracy, Preset::Single, &missing)
            .unwrap_err()
    );
    assert!(
        err.contains("no-such-dir") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!s.dir.join("fig.csv").exists() && !s.dir.join("no-such-dir").exists());
    // The set needs the sweep's directory.
    let err = write_figure_set(
        &s.dir.join("gone"),
        &s.manifest,
        &s.curves,
        &s.records,
        Preset::Single,
        Format::Svg,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("gone"), "{err:#}");
}

#[test]
fn a_figure_without_data_is_skipped_in_the_set_and_refused_alone() {
    // Beam search only: no bank of samples, so no verifier scores.
    let mut cfg = config();
    cfg.strategies = vec![StrategyKind::Beam];
    let s = sweep_of(&cfg);
    let files = write_figure_set(
        &s.dir,
        &s.manifest,
        &s.curves,
        &s.records,
        Preset::Single,
        Format::Svg,
    )
    .unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(s.dir.join("figures"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "accuracy.svg",
            "accuracy.csv",
            "accuracy.json",
            "compute-tokens.svg",
            "compute-tokens.csv",
            "compute-tokens.json",
            "compute-flops.svg",
            "compute-flops.csv",
            "compute-flops.json",
            "optimal.svg",
            "optimal.csv",
            "optimal.json",
            "bins.svg",
            "bins.csv",
            "bins.json",
            "exchange.svg",
            "exchange.csv",
            "exchange.json"
        ]
    );
    let err = s
        .write(Figure::Scores, Preset::Single, &s.dir.join("scores.svg"))
        .unwrap_err();
    assert!(format!("{err:#}").contains("no bank"), "{err:#}");
    assert!(!s.dir.join("scores.svg").exists());
}

#[test]
fn a_synthetic_verifier_says_so_in_the_scores_title() {
    let mut cfg = config();
    cfg.verifier = VerifierSpec::NoisyOracle(NoisySpec::parse("0.8").unwrap());
    let s = sweep_of(&cfg);
    let data = Figure::Scores
        .data(&s.manifest, &s.curves, &s.records)
        .unwrap();
    assert!(data.title.contains("synthetic"), "{}", data.title);
    let svg = s.dir.join("scores.svg");
    s.write(Figure::Scores, Preset::Single, &svg).unwrap();
    assert!(std::fs::read_to_string(&svg).unwrap().contains("synthetic"));
    let plain = sweep_of(&config());
    let data = Figure::Scores
        .data(&plain.manifest, &plain.curves, &plain.records)
        .unwrap();
    assert!(!data.title.contains("synthetic"), "{}", data.title);
    assert!(data.title.contains("oracle"), "{}", data.title);
}

#[test]
fn the_exchange_csv_holds_each_ratios_bars() {
    let s = sweep_of(&config());
    let e = s.curves.exchange.as_ref().unwrap();
    assert_eq!(e.m, 4.0);
    // M = 4 with equal data: 4 + 9 / R.
    assert!((e.rows[1].budget - (4.0 + 9.0 / 0.79)).abs() < 1e-9);
    s.write(
        Figure::Exchange,
        Preset::Double,
        &s.dir.join("exchange.svg"),
    )
    .unwrap();
    let csv = std::fs::read_to_string(s.dir.join("exchange.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let mut expected = 0;
    for row in &e.rows {
        for c in &row.cells {
            expected += 1 + usize::from(c.small.is_some());
            let larger = rows
                .iter()
                .filter(|r| r.contains("larger policy, greedy"))
                .any(|r| r.contains(&format!(",{},,{},", c.bin as f64, c.larger)));
            assert!(larger, "bin {} of R = {}: {csv}", c.bin, row.ratio);
        }
    }
    assert_eq!(rows.len(), expected, "{csv}");
}

/// The sweep's curves with twelve strategy settings over every strategy (and the ceiling),
/// each drawn from the weighted best-of-N curve.
fn twelve_series(s: &Sweep) -> SweepCurves {
    let mut curves = s.curves.clone();
    let template = curves
        .series
        .iter()
        .find(|x| x.strategy == StrategyKind::WeightedBestOfN)
        .unwrap()
        .clone();
    let ceiling = curves
        .series
        .iter()
        .find(|x| x.label == "pass@n")
        .unwrap()
        .clone();
    let kinds = StrategyKind::ALL.into_iter().chain([StrategyKind::Beam]);
    curves.series = kinds
        .enumerate()
        .map(|(i, strategy)| crate::analysis::sweep::Series {
            label: format!("{} #{i}", strategy.as_str()),
            strategy,
            ..template.clone()
        })
        .collect();
    // The ceiling among them, as the curves order it: it takes no colour from the palette.
    curves.series.insert(2, ceiling);
    curves
}

#[test]
fn twelve_series_share_no_colour_and_marker_and_families_share_a_line_style() {
    use super::data::{LineStyle, Marker, Shape};
    use super::looks::Family;
    let s = sweep_of(&config());
    let curves = twelve_series(&s);
    let looks_in = |figure: Figure| {
        let data = figure.data(&s.manifest, &curves, &s.records).unwrap();
        let mut looks = BTreeMap::new();
        for m in data.panels.iter().flat_map(|p| &p.marks) {
            if matches!(m.shape, Shape::Line(_) | Shape::Bars(_)) && m.series != "problems" {
                looks.insert(m.series.clone(), (m.colour, m.marker, m.line));
            }
        }
        looks
    };
    let accuracy = looks_in(Figure::Accuracy);
    let strategies: Vec<_> = accuracy.keys().filter(|k| *k != "pass@n").collect();
    assert_eq!(strategies.len(), 12);
    for (i, a) in strategies.iter().enumerate() {
        for b in &strategies[i + 1..] {
            let (la, lb) = (accuracy[*a], accuracy[*b]);
            assert!((la.0, la.1) != (lb.0, lb.1), "{a} and {b} look alike");
        }
    }
    // Seven colours for twelve series: all seven used.
    let colours: std::collections::BTreeSet<_> =
        strategies.iter().map(|k| accuracy[*k].0).collect();
    assert_eq!(colours.len(), palette::SERIES.len());
    // A family, a line style.
    for series in &curves.series {
        let (_, marker, line) = accuracy[&series.label];
        if series.label == "pass@n" {
            assert_eq!((marker, line), (Marker::None, LineStyle::Dashed));
            continue;
        }
        let want = match series.strategy {
            StrategyKind::Majority
            | StrategyKind::BestOfN
            | StrategyKind::WeightedBestOfN
            | StrategyKind::AdaptiveMajority
            | StrategyKind::Revisions => LineStyle::Solid,
            StrategyKind::Mcts => LineStyle::Dotted,
            _ => LineStyle::Dashed,
        };
        assert_eq!(line, want, "{}", series.label);
        assert_eq!(Family::of(series.strategy).line(), want);
    }
    // The same series look the same in every figure of the export.
    for figure in [Figure::ComputeTokens, Figure::Bins, Figure::Optimal] {
        for (series, look) in looks_in(figure) {
            if let Some(a) = accuracy.get(&series) {
                assert_eq!(*a, look, "{figure}: {series}");
            }
        }
    }
}

/// The lengths, in SVG units, of the polylines stroked in `colour`.
fn polylines(svg: &str, colour: palette::Rgb) -> Vec<f64> {
    let stroke = format!(
        "stroke=\"#{:02X}{:02X}{:02X}\"",
        colour.0, colour.1, colour.2
    );
    svg.split("<polyline")
        .skip(1)
        .filter(|el| {
            let el = &el[..el.find("/>").unwrap()];
            el.to_uppercase().contains(&stroke.to_uppercase())
        })
        .map(|el| {
            let points = el.split("points=\"").nth(1).unwrap();
            let xy: Vec<(f64, f64)> = points[..points.find('"').unwrap()]
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            xy.windows(2)
                .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
                .sum()
        })
        .collect()
}

#[test]
fn the_svg_carries_each_line_styles_dash_pattern_in_the_panel_and_the_legend() {
    use super::data::{Axis, LineStyle, Mark, Marker, Panel, Point, Shape};
    let s = sweep_of(&config());
    let line = |series: &str, colour, line| Mark {
        series: series.into(),
        colour,
        line,
        marker: Marker::Circle,
        in_legend: true,
        shape: Shape::Line(vec![Point::at(1.0, 0.1), Point::at(8.0, 0.9)]),
    };
    let styles = [
        ("solid", palette::BLUE, LineStyle::Solid),
        ("dashed", palette::ORANGE, LineStyle::Dashed),
        ("dotted", palette::BLUISH_GREEN, LineStyle::Dotted),
    ];
    let data = FigureData {
        title: "line styles".into(),
        panels: vec![Panel {
            title: "all problems".into(),
            wide: true,
            x: Axis::budgets("generation budget", &[1.0, 8.0], &[1, 2, 4, 8]),
            y: Axis::accuracy(),
            marks: styles.iter().map(|&(n, c, l)| line(n, c, l)).collect(),
        }],
    };
    let svg = String::from_utf8(
        render(
            Figure::Accuracy,
            &data,
            &s.manifest,
            Preset::Double,
            Format::Svg,
        )
        .unwrap(),
    )
    .unwrap();
    // Solid: the panel's line in one piece, and the legend's swatch.
    let solid = polylines(&svg, palette::BLUE);
    assert_eq!(solid.len(), 2, "{solid:?}");
    assert!(solid.iter().any(|&l| l > 50.0), "{solid:?}");
    // Dashed and dotted: many pieces, none longer than a dash (one unit per point, rounded),
    // the legend's 12-point swatch included.
    for (colour, style) in [
        (palette::ORANGE, LineStyle::Dashed),
        (palette::BLUISH_GREEN, LineStyle::Dotted),
    ] {
        let (on, _) = style.dash().unwrap();
        let pieces = polylines(&svg, colour);
        assert!(pieces.len() > 10, "{style:?}: {pieces:?}");
        assert!(
            pieces.iter().all(|&l| l <= on + 1.5),
            "{style:?}: {pieces:?}"
        );
    }
    // Dots are shorter than dashes.
    let longest = |c| polylines(&svg, c).into_iter().fold(0.0, f64::max);
    assert!(longest(palette::BLUISH_GREEN) < longest(palette::ORANGE));
}

#[test]
fn the_search_zoo_draws_a_panel_per_verifier_with_every_sweep_in_its_metadata() {
    let a = sweep_of(&config());
    let mut other = config();
    other.verifier = crate::verify::VerifierSpec::Oracle;
    let b = sweep_of(&other);
    let out = a.dir.join("zoo");
    let files = super::write_search_zoo(
        &out,
        &[
            ("first".into(), &a.manifest, &a.curves),
            ("oracle".into(), &b.manifest, &b.curves),
        ],
        Preset::Double,
    )
    .unwrap();
    assert_eq!(files.len(), 6, "SVG and PNG, each with its CSV and JSON");
    let svg = std::fs::read_to_string(out.join("search-zoo.svg")).unwrap();
    let meta = svg_metadata(&svg);
    assert_eq!(meta["figure"], "search-zoo");
    assert_eq!(
        meta["sweep"][1]["config"]["verifier"],
        serde_json::json!("oracle")
    );
    assert_eq!(
        meta["sweep"][0]["config"],
        serde_json::to_value(&a.manifest.config).unwrap()
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("search-zoo.json")).unwrap())
            .unwrap();
    let panels = json["panels"].as_array().unwrap();
    assert_eq!(panels.len(), 2);
    assert_eq!(panels[0]["title"], "first");
    // Each panel holds every series but the ceiling, at its tokens per problem, looking the
    // same in both panels.
    let series = a
        .curves
        .series
        .iter()
        .filter(|s| s.label != "pass@n")
        .count();
    for p in panels {
        assert_eq!(p["marks"].as_array().unwrap().len(), series);
        assert_eq!(p["x"]["label"], "tokens generated per problem");
    }
    assert_eq!(
        panels[0]["marks"][0]["colour"],
        panels[1]["marks"][0]["colour"]
    );
    // One sweep alone cannot draw it.
    assert!(Figure::SearchZoo
        .data(&a.manifest, &a.curves, &a.records)
        .is_err());
}
