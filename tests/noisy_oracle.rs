#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The noisy oracle's dial: on the evaluation split (500 problems x 16 samples of the toy
//! policy at temperature 1, seed 0), `noisy-oracle:Q` realises a within-problem AUC within
//! 0.02 of Q, as `thinkscale evaluate --verifiers` reports it.

use std::process::Command;

#[test]
fn the_noisy_oracle_realises_its_q_on_the_evaluation_split() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("eval.json");
    let out = Command::new(env!("CARGO_BIN_EXE_thinkscale"))
        .args([
            "evaluate",
            "--samples",
            "16",
            "--verifiers",
            "noisy-oracle:0.6,noisy-oracle:0.7,noisy-oracle:0.8,noisy-oracle:0.9",
            "--json",
        ])
        .arg(&json)
        .arg("--out")
        .arg(tmp.path().join("evaluate"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let verifiers = eval["verifiers"].as_array().unwrap();
    assert_eq!(verifiers.len(), 4);
    for (v, q) in verifiers.iter().zip([0.6, 0.7, 0.8, 0.9]) {
        let name = v["name"].as_str().unwrap();
        assert!(name.contains(&format!("noisy-oracle:{q}")) && name.contains("synthetic"));
        let auc = v["within_problem_auc"].as_f64().unwrap();
        assert!((auc - q).abs() <= 0.02, "{name}: realised {auc}, asked {q}");
    }
}
