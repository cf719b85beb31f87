#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `thinkscale sweep` on the real binary and the toy model: a sweep killed with SIGKILL and
//! resumed ends with the same curves as one left alone; bad configurations are refused before
//! any model runs, naming the field; `--load` rebuilds the curves without a model.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_thinkscale"))
}

const FLAGS: &[&str] = &[
    "sweep",
    "--strategies",
    "majority,weighted-best-of-n,beam",
    "--budgets",
    "1,2,4",
    "--limit",
    "8",
    "--bin-samples",
    "8",
    "--draws",
    "50",
];

fn sweep(out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(FLAGS)
        .args(["--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn curves(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("curves.json")).unwrap()).unwrap()
}

#[test]
fn a_sweep_killed_and_resumed_gives_the_same_curves_as_one_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let out = sweep(&whole, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("compute-optimal"), "{stdout}");
    // 1 bins run + 1 bank + beam at N = 4 (M = 4 divides only 4), 8 problems each.
    assert_eq!(lines(&whole.join("records.jsonl")), 24);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["models"][0]["sha256"].as_str().unwrap().len(),
        64,
        "{manifest}"
    );

    // The same sweep, killed once some records are on disk.
    let killed = tmp.path().join("killed");
    let mut child = Command::new(bin())
        .args(FLAGS)
        .args(["--out", killed.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let records = killed.join("records.jsonl");
    while lines(&records) < 5 && start.elapsed() < Duration::from_secs(300) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // A line cut short by the kill.
    let mut text = std::fs::read_to_string(&records).unwrap();
    text.push_str("{\"run\": {\"kind\": \"ba");
    std::fs::write(&records, text).unwrap();
    let out = sweep(&killed, &["--resume"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&records), 24);
    assert_eq!(curves(&killed), curves(&whole));

    // The curves again, from the records alone.
    std::fs::remove_file(killed.join("curves.json")).unwrap();
    let out = Command::new(bin())
        .args(["sweep", "--load", killed.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(curves(&killed), curves(&whole));
}

#[test]
fn bad_sweeps_are_refused_before_any_model_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("sweep.toml");
    std::fs::write(
        &cfg,
        "dataset = { kind = \"toy\" }\npolicy = \"models/toy/policy\"\nverifier = \"oracle\"\n\
         strategies = [\"majority\"]\nbudgets = [1, 2]\nbudgte = 3\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["sweep", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("budgte") && err.contains("sweep.toml"),
        "{err}"
    );

    let out = Command::new(bin())
        .args(["sweep", "--budgets", "0,4", "--out"])
        .arg(tmp.path().join("o"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("budgets"), "{err}");
    assert!(!tmp.path().join("o").exists());

    let out = Command::new(bin())
        .args([
            "sweep",
            "--strategies",
            "beam",
            "--budgets",
            "4",
            "--beam-widths",
            "3",
        ])
        .arg("--out")
        .arg(tmp.path().join("o2"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no run"), "{err}");

    let out = Command::new(bin())
        .args(["sweep", "--load"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a sweep directory"), "{err}");
}
