#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The real binary on the committed toy model: a run writes its files with the stable names,
//! bad input gives a one-line error and a non-zero exit, and Ctrl-C keeps finished records.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_thinkscale"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn toy_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/toy/policy")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn help_explains_every_subcommand() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for sub in ["run", "evaluate", "train", "grade", "inspect", "plot"] {
        assert!(text.contains(sub), "--help lacks {sub}: {text}");
    }
    let o = run(&["run", "--help"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--dataset",
        "--strategy",
        "--budget",
        "--verifier",
        "--aggregation",
        "--limit",
        "--seed",
        "--out",
        "--policy",
        "--top-k",
        "--prompt",
    ] {
        assert!(text.contains(flag), "run --help lacks {flag}");
    }
}

#[test]
fn a_run_writes_config_records_and_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = run(&[
        "run",
        "--dataset",
        "toy",
        "--strategy",
        "weighted-best-of-n",
        "--budget",
        "4",
        "--verifier",
        "oracle",
        "--limit",
        "10",
        "--seed",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("accuracy"), "{stdout}");

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["budget"], 4);
    assert_eq!(config["seed"], 0);
    assert_eq!(config["strategy"]["kind"], "weighted-best-of-n");

    let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = records
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 10);
    let mut levels = std::collections::BTreeSet::new();
    for r in &records {
        assert!(r["id"].is_string());
        levels.insert(r["level"].as_u64().unwrap());
        assert!(r["correct"].is_boolean());
        assert!(r.get("answer").is_some());
        let cands = r["candidates"].as_array().unwrap();
        assert_eq!(cands.len(), 4);
        for c in cands {
            for s in c["steps"].as_array().unwrap() {
                assert!(s["text"].is_string() && s["score"].is_number() && s["tokens"].is_number());
            }
        }
        assert!(r["compute"]["generated_tokens"].as_u64().unwrap() > 0);
    }
    assert_eq!(levels.len(), 5, "the first ten problems cover every level");

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let acc = summary["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let correct = records.iter().filter(|r| r["correct"] == true).count();
    assert!((acc - correct as f64 / 10.0).abs() < 1e-9);
    assert_eq!(summary["per_level"].as_object().unwrap().len(), 5);
    assert_eq!(summary["complete"], true);

    // The same seed gives the same records.
    let again = tmp.path().join("again");
    let o = run(&[
        "run",
        "--strategy",
        "weighted-best-of-n",
        "--budget",
        "4",
        "--limit",
        "10",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Problems searched at once land in the order they finish: compare them as a set.
    let strip = |p: &Path| {
        let text = std::fs::read_to_string(p.join("records.jsonl")).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines.sort();
        lines
    };
    assert_eq!(strip(&out), strip(&again));
}

fn assert_fails(args: &[&str], needle: &str) {
    let o = run(args);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(
        err.contains(needle),
        "{args:?}: expected '{needle}' in: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let out = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    assert_fails(&["run", "--strategy", "beam-of-dreams"], "unknown strategy");
    assert_fails(
        &["run", "--budget", "0", "--out", &out("b0")],
        "budget must be at least 1",
    );
    assert_fails(&["run", "--dataset", "nope"], "unknown dataset");
    assert_fails(
        &["run", "--policy", &out("missing"), "--out", &out("m")],
        "missing",
    );

    // A corrupt weights file.
    let corrupt = tmp.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(toy_policy().join(f), corrupt.join(f)).unwrap();
    }
    std::fs::write(
        corrupt.join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json",
    )
    .unwrap();
    assert_fails(
        &[
            "run",
            "--policy",
            corrupt.to_str().unwrap(),
            "--out",
            &out("c"),
        ],
        "model.safetensors",
    );

    // A config.json with a missing field.
    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(toy_policy().join("config.json")).unwrap())
            .unwrap();
    cfg.as_object_mut().unwrap().remove("hidden_size");
    std::fs::write(broken.join("config.json"), cfg.to_string()).unwrap();
    assert_fails(
        &[
            "run",
            "--policy",
            broken.to_str().unwrap(),
            "--out",
            &out("k"),
        ],
        "hidden_size",
    );

    // An output directory that exists.
    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    assert_fails(
        &["run", "--limit", "1", "--out", &out("taken")],
        "already exists",
    );
}

/// Regression: `run --budget 1000000000` aborted the process on a 16 GB allocation. Every flag
/// that is a budget refuses a size whose buffers cannot be allocated, before anything is
/// allocated or written: a message naming the flag and the limit, exit code 2, no abort.
#[test]
fn an_oversized_budget_is_refused_with_a_message_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    for (args, flag) in [
        (
            vec![
                "run",
                "--budget",
                "1000000000",
                "--limit",
                "1",
                "--out",
                out,
            ],
            "--budget",
        ),
        (
            vec!["sweep", "--budgets", "1,1000000000", "--out", out],
            "--budgets",
        ),
        (vec!["evaluate", "--samples", "1000000000"], "--samples"),
        (
            vec!["revisions", "--budget", "1000000000", "--out", out],
            "--budget",
        ),
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for needle in [flag, "1000000000", "65536"] {
            assert!(
                err.contains(needle),
                "{args:?}: expected '{needle}' in: {err}"
            );
        }
        assert!(
            !err.contains("panicked") && !err.contains("memory allocation"),
            "{err}"
        );
        assert!(!Path::new(out).exists(), "{args:?} wrote {out}");
    }
    // One above the largest budget is refused too.
    let o = run(&["run", "--budget", "65537", "--out", out]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Regression: a failed problem named its run in Rust's Debug form ("run Search { strategy:
/// Majority, budget: 2, seed: 0 }"); the message uses the CLI's words.
#[test]
fn a_failed_problem_names_its_run_in_the_clis_words() {
    let tmp = tempfile::tempdir().unwrap();
    // A question far longer than the toy policy's context: its problem fails.
    let dataset = tmp.path().join("long.jsonl");
    let question = format!("{}1", "1+".repeat(3000));
    let line = serde_json::json!({"problem": question, "answer": "3001", "level": 1,
        "subject": "arithmetic", "unique_id": "long"});
    std::fs::write(&dataset, format!("{line}\n")).unwrap();
    let out = tmp.path().join("out");
    let o = run(&[
        "run",
        "--dataset",
        dataset.to_str().unwrap(),
        "--strategy",
        "majority",
        "--budget",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("problem long of run majority, budget 2, seed 0 failed"),
        "{err}"
    );
    assert!(
        !err.contains("Search {") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn ctrl_c_keeps_every_finished_record() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("interrupted");
    let mut child = bin()
        .args([
            "run",
            "--strategy",
            "majority",
            "--budget",
            "8",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let records = out.join("records.jsonl");
    let start = Instant::now();
    while std::fs::read_to_string(&records).map_or(0, |s| s.lines().count()) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no records appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let kept = std::fs::read_to_string(&records).unwrap();
    let n = kept.lines().count();
    assert!((2..500).contains(&n), "{n} records");
    for line in kept.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every kept line is a whole record");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["complete"], false);
    assert_eq!(summary["n"].as_u64().unwrap() as usize, n);
}

#[test]
fn jsonl_datasets_run_and_bad_lines_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("arith.jsonl");
    std::fs::write(
        &data,
        "{\"question\": \"2+3\", \"answer\": \"add them\\n#### 5\"}\n{\"question\": \"4*5\", \"answer\": \"#### 20\"}\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    let o = run(&[
        "run",
        "--dataset",
        data.to_str().unwrap(),
        "--budget",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let mut ids: Vec<String> = records
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // In the order they finished.
    ids.sort();
    assert_eq!(ids, ["gsm8k-1", "gsm8k-2"]);

    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"question\": \"2+3\", \"answer\": \"#### 5\"}\n{oops\n",
    )
    .unwrap();
    assert_fails(
        &[
            "run",
            "--dataset",
            bad.to_str().unwrap(),
            "--out",
            tmp.path().join("b").to_str().unwrap(),
        ],
        "line 2: invalid JSON",
    );
    let o = run(&[
        "run",
        "--dataset",
        bad.to_str().unwrap(),
        "--skip-bad-lines",
        "--budget",
        "1",
        "--out",
        tmp.path().join("s").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("skipped"), "{}", stderr(&o));
}

#[test]
fn learned_verifiers_run_and_judge_the_same_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("prm-run");
    let o = run(&[
        "run",
        "--verifier",
        "toy-prm",
        "--strategy",
        "weighted-best-of-n",
        "--budget",
        "4",
        "--limit",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(config.contains("toy-prm"), "{config}");
    let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(records.lines().next().unwrap()).unwrap();
    let score = first["candidates"][0]["steps"][0]["score"]
        .as_f64()
        .unwrap();
    assert!(
        score > 0.0 && score < 1.0,
        "a learned score, not 0/1: {score}"
    );
    assert!(first["compute"]["verifier_tokens"].as_u64().unwrap() > 0);

    let eval_dir = tempfile::tempdir().unwrap();
    let eval_out = eval_dir.path().join("evaluate");
    let o = run(&[
        "evaluate",
        "--limit",
        "5",
        "--samples",
        "4",
        "--verifiers",
        "oracle,logprob,toy-prm,toy-orm",
        "--out",
        eval_out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for row in [
        "majority@4",
        "oracle (last)",
        "logprob",
        "toy-prm (value-head:prm)",
        "toy-orm (value-head:orm)",
    ] {
        assert!(text.contains(row), "evaluate lacks {row}: {text}");
    }
    // The tables come from a sweep's records: each bank line holds every judge's scores of
    // its candidates, step by step.
    let records = std::fs::read_to_string(eval_out.join("records.jsonl")).unwrap();
    let bank: Vec<serde_json::Value> = records
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["run"]["kind"] == "bank")
        .collect();
    assert_eq!(bank.len(), 5);
    for r in &bank {
        let judged = r["judged"].as_array().unwrap();
        assert_eq!(judged.len(), 4);
        for j in judged {
            let scores = j["scores"].as_array().unwrap();
            assert_eq!(scores.len(), 4);
            let candidates = r["candidates"].as_array().unwrap();
            assert_eq!(candidates.len(), scores.len());
            for (c, s) in candidates.iter().zip(scores) {
                assert_eq!(
                    c["steps"].as_array().unwrap().len(),
                    s.as_array().unwrap().len()
                );
            }
        }
    }

    // The policy is a causal LM, not a reward model: its head is named as unsupported.
    assert_fails(
        &[
            "run",
            "--verifier",
            toy_policy().to_str().unwrap(),
            "--limit",
            "1",
            "--out",
            tmp.path().join("x").to_str().unwrap(),
        ],
        "config.json",
    );
}

/// The two verifiers that read the policy's own evidence run on the toy policy and score
/// every step in (0, 1]; self-certainty with a remote policy is refused before any request,
/// naming the verifier and the server.
#[test]
fn the_evidence_verifiers_run_on_the_toy_policy() {
    let tmp = tempfile::tempdir().unwrap();
    for verifier in ["logprob-argmax-gap", "self-certainty"] {
        let out = tmp.path().join(verifier);
        let o = run(&[
            "run",
            "--verifier",
            verifier,
            "--strategy",
            "weighted-best-of-n",
            "--budget",
            "8",
            "--limit",
            "10",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{verifier}: {}", stderr(&o));
        let config = std::fs::read_to_string(out.join("config.json")).unwrap();
        assert!(config.contains(verifier), "{config}");
        let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
        let mut scores = Vec::new();
        for line in records.lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            for c in r["candidates"].as_array().unwrap() {
                for s in c["steps"].as_array().unwrap() {
                    scores.push(s["score"].as_f64().unwrap());
                }
            }
        }
        assert!(!scores.is_empty());
        assert!(
            scores.iter().all(|s| *s > 0.0 && *s <= 1.0),
            "{verifier}: {scores:?}"
        );
        // Evidence, not a constant: the scores differ between steps.
        assert!(
            scores.iter().any(|s| *s != scores[0]),
            "{verifier}: {scores:?}"
        );
    }
    let o = run(&[
        "run",
        "--verifier",
        "self-certainty",
        "--policy",
        "remote:http://127.0.0.1:9",
        "--limit",
        "1",
        "--out",
        tmp.path().join("remote").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("self-certainty") && err.contains("http://127.0.0.1:9"),
        "{err}"
    );
}

#[test]
fn grade_prints_both_normal_forms_and_exits_by_the_verdict() {
    let o = run(&["grade", "\\dfrac{1}{2}", "0.5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "gold:      \\frac{1}{2}\npredicted: 0.5\nequal: rationals 1/2 = 1/2\n"
    );

    let o = run(&["grade", "(1,2]", "[1,2]"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).ends_with("not equal: tuples/intervals: brackets (..] != [..]\n"),
        "{}",
        stdout(&o)
    );

    // Negative numbers are answers, not flags.
    assert_eq!(run(&["grade", "-12", "-012"]).status.code(), Some(0));
    // An empty prediction is wrong, not a usage error.
    let o = run(&["grade", "5", ""]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("predicted: (empty)"), "{}", stdout(&o));
}

#[test]
fn grade_extracts_the_answer_of_a_solution() {
    let o = run(&["grade", "72", "She sold 72 clips.\n#### 72", "--extract"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("extracted: 72 (by ####)\n"),
        "{}",
        stdout(&o)
    );

    let o = run(&[
        "grade",
        "\\frac{1}{2}",
        "so $x = \\boxed{0.5}$",
        "--extract",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    let o = run(&["grade", "5", "I think it is 5", "--extract"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("no answer found"), "{}", stdout(&o));

    let o = run(&[
        "grade",
        "5",
        "I think it is 5",
        "--extract",
        "--last-number",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn grade_usage_errors_exit_2() {
    for args in [
        &["grade"][..],
        &["grade", "1"],
        &["grade", "1", "2", "--bogus"],
        &["grade", "1", "2", "--last-number"],
        &["grade", " ", "2"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
    assert!(stderr(&run(&["grade", "", "2"])).contains("GOLD is empty"));
}

#[test]
fn inspect_describes_a_model_and_finds_cached_repo_ids() {
    let o = run(&["inspect", toy_policy().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "architecture   qwen2",
        "parameters     1.06M",
        "F32",
        "context        512 tokens",
        "29 embeddings",
        "eos            0 \"<|endoftext|>\"",
        "chat template  no",
    ] {
        assert!(text.contains(needle), "inspect lacks {needle:?}: {text}");
    }

    // ORG/NAME resolves in the Hugging Face cache ($HF_HUB_CACHE), refs/main picking the
    // snapshot.
    let cache = tempfile::tempdir().unwrap();
    let repo = cache.path().join("models--thinkscale--toy-policy");
    let snap = repo.join("snapshots/0123abc");
    std::fs::create_dir_all(&snap).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(toy_policy().join(f), snap.join(f)).unwrap();
    }
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123abc").unwrap();
    let o = bin()
        .args(["inspect", "--json", "thinkscale/toy-policy"])
        .env("HF_HUB_CACHE", cache.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["architecture"], "qwen2");
    assert_eq!(info["parameters"], 1058688);
    assert!(info["path"]
        .as_str()
        .unwrap()
        .ends_with("snapshots/0123abc"));
    let o = bin()
        .args(["inspect", "thinkscale/other"])
        .env("HF_HUB_CACHE", cache.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("huggingface-cli download thinkscale/other"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_models_are_named_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    assert_fails(&["inspect", "Cargo.toml"], "Cargo.toml: not a GGUF file");
    assert_fails(
        &["inspect", tmp.path().to_str().unwrap()],
        "holds neither config.json",
    );
    let gguf = tmp.path().join("broken.gguf");
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(3u32.to_le_bytes());
    bytes.extend(0u64.to_le_bytes());
    bytes.extend(5u64.to_le_bytes());
    bytes.extend([7u8; 40]);
    std::fs::write(&gguf, &bytes).unwrap();
    assert_fails(
        &["inspect", gguf.to_str().unwrap()],
        "broken.gguf: not a valid GGUF file",
    );
    std::fs::write(&gguf, b"GGML").unwrap();
    assert_fails(
        &["run", "--policy", gguf.to_str().unwrap(), "--limit", "1"],
        "not a GGUF file",
    );
    // The toy policy has no chat template: asking for chat prompts says so.
    assert_fails(
        &[
            "run",
            "--prompt",
            "chat",
            "--limit",
            "1",
            "--out",
            tmp.path().join("chat").to_str().unwrap(),
        ],
        "has no chat template",
    );
    assert_fails(&["run", "--prompt", "xml"], "auto, raw, chat");
    assert_fails(&["run", "--device", "cuda:0"], "cuda");
}

/// A small sweep directory written the way `thinkscale sweep` writes one: the oracle bins, a
/// bank of 8 samples per problem, and beam search at budgets 2 and 4.
fn synthetic_sweep(dir: &Path) {
    use thinkscale::engine::ComputeMeter;
    use thinkscale::runner::sweep::{SweepConfig, SweepManifest, SweepRecord, SweepRun};
    use thinkscale::search::{Aggregation, Candidate, Step, StrategyKind};
    use thinkscale::store::Record;
    let config: SweepConfig = toml::from_str(
        "dataset = { kind = \"toy\" }\npolicy = \"models/toy/policy\"\nverifier = \"oracle\"\n\
         strategies = [\"majority\", \"weighted-best-of-n\", \"beam\"]\nbudgets = [1, 2, 4]\n\
         beam_widths = [2]\nbin_samples = 8\ndraws = 20\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let manifest = SweepManifest {
        config,
        policies: vec![],
        models: vec![],
        thinkscale_version: "0.1.0".into(),
        problems: vec![],
    };
    std::fs::write(
        dir.join("sweep.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let record = |p: usize, right: usize, correct: bool| Record {
        id: format!("p{p}"),
        level: Some(1),
        question: "1+1".into(),
        reference: "2".into(),
        answer: Some("2".into()),
        correct,
        candidates: (0..8)
            .map(|j| {
                let (answer, ok, score) = if j < right {
                    ("2", true, 0.5 + 0.05 * j as f32)
                } else {
                    ("3", false, 0.1 + 0.05 * j as f32)
                };
                Candidate {
                    steps: vec![Step {
                        text: format!("\\boxed{{{answer}}}"),
                        score,
                        tokens: 3,
                    }],
                    answer: Some(answer.into()),
                    correct: Some(ok),
                    score,
                    tokens: 3,
                    leaf: 0,
                }
            })
            .collect(),
        compute: ComputeMeter::default(),
        seed: 0,
        tree: None,
        chosen: None,
        judged: vec![],
    };
    let mut text = String::new();
    for p in 0..10 {
        let right = 8 - p.min(8);
        let mut lines = vec![
            SweepRecord {
                run: SweepRun::Bins { budget: 8 },
                record: record(p, right, right > 4),
            },
            SweepRecord {
                run: SweepRun::Bank { budget: 4, seed: 0 },
                record: record(p, right, right > 4),
            },
        ];
        for budget in [2, 4] {
            lines.push(SweepRecord {
                run: SweepRun::Search {
                    strategy: StrategyKind::Beam.with(Aggregation::Last, 2, 40, 0),
                    budget,
                    seed: 0,
                },
                record: Record {
                    candidates: vec![],
                    ..record(p, right, right * budget > 10)
                },
            });
        }
        for l in lines {
            text.push_str(&serde_json::to_string(&l).unwrap());
            text.push('\n');
        }
    }
    std::fs::write(dir.join("records.jsonl"), text).unwrap();
}

#[test]
fn plot_draws_a_sweeps_figures_and_refuses_what_it_cannot_draw() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    synthetic_sweep(&sweep);
    let s = sweep.to_str().unwrap();
    // Every figure, into SWEEP/figures by default.
    let o = run(&["plot", s]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["accuracy", "optimal", "bins", "scores"] {
        for ext in ["svg", "csv", "json"] {
            let f = sweep.join("figures").join(format!("{name}.{ext}"));
            assert!(
                f.is_file(),
                "{} missing; stdout: {}",
                f.display(),
                stdout(&o)
            );
            assert!(stdout(&o).contains(&f.display().to_string()));
        }
    }
    // One figure as a PNG.
    let png = tmp.path().join("acc.png");
    let o = run(&[
        "plot",
        s,
        "--figure",
        "accuracy",
        "--preset",
        "double",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    assert!(tmp.path().join("acc.csv").is_file());

    let out = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    assert_fails(
        &["plot", s, "--figure", "optimal", "--out", &out("o.pdf")],
        ".svg and .png",
    );
    assert_fails(
        &["plot", s, "--out", &out("all.svg")],
        "give --out a directory",
    );
    assert_fails(
        &[
            "plot",
            s,
            "--figure",
            "accuracy",
            "--out",
            &out("gone/a.svg"),
        ],
        "does not exist",
    );
    assert_fails(
        &["plot", s, "--figure", "flops"],
        "accuracy, compute-tokens, compute-flops, optimal, bins, scores",
    );
    assert_fails(&["plot", s, "--preset", "triple"], "single or double");
}

#[test]
fn plot_says_when_a_directory_is_not_a_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&["plot", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a sweep"), "{}", stderr(&o));
    assert!(!tmp.path().join("figures").exists());
}

#[test]
fn gui_takes_policy_verifier_and_sweep_and_refuses_bad_ones_before_opening() {
    let help = run(&["gui", "--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in ["--policy", "--verifier", "--open", "--problem", "--run"] {
        assert!(text.contains(flag), "gui --help lacks {flag}: {text}");
    }
    let o = run(&["gui", "--verifier", "nope"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown verifier 'nope'"),
        "{}",
        stderr(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["gui", "--open", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a sweep directory (no sweep.json)"),
        "{}",
        stderr(&o)
    );
    let o = run(&["gui", "--problem", "toy-nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--problem toy-nope: no toy problem has this id"),
        "{}",
        stderr(&o)
    );
    // --run needs a problem: a usage error from the argument parser (clap's code 2, its
    // "required arguments" message naming the flag), before any window is asked for. Without
    // a display a window that fails to open also exits with 2 (main.rs maps every error to
    // 2), so the code alone would pass for the wrong reason: the message tells them apart.
    // No display variables, so that a broken check cannot open a window and hang here.
    let o = bin()
        .args(["gui", "--run"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the following required arguments were not provided")
            && stderr(&o).contains("--problem <PROBLEM>"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn revisions_run_from_the_command_line_and_bad_ratios_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("rev");
    let reviser = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/toy/reviser");
    let o = bin()
        .args(["run", "--strategy", "revisions", "--revision-ratio", "2:2"])
        .args(["--revision-selection", "hierarchical", "--budget", "4"])
        .args(["--limit", "2", "--policy"])
        .arg(&reviser)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["strategy"],
        serde_json::json!({"kind": "revisions", "chains": 2, "selection": "hierarchical",
            "template": "plain", "aggregation": "last"})
    );
    let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    for line in records.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let labels: Vec<&str> = r["tree"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["text"].as_str())
            .filter(|t| t.starts_with("chain "))
            .collect();
        assert_eq!(
            labels,
            [
                "chain 1 · attempt 1",
                "chain 2 · attempt 1",
                "chain 1 · attempt 2",
                "chain 2 · attempt 2"
            ]
        );
        assert_eq!(r["compute"]["generations"], 4);
    }
    assert!(stdout(&o).contains("revisions (P = 2 chains, hierarchical, last)"));
    let bad = tmp.path().join("bad");
    let bad = bad.to_str().unwrap();
    assert_fails(
        &[
            "run",
            "--strategy",
            "revisions",
            "--revision-ratio",
            "4:2",
            "--budget",
            "4",
            "--out",
            bad,
        ],
        "--revision-ratio 4:2 spends 8 generations, but --budget is 4",
    );
    assert_fails(
        &[
            "run",
            "--strategy",
            "revisions",
            "--chains",
            "3",
            "--budget",
            "4",
            "--out",
            bad,
        ],
        "chains 3 must be at least 1 and divide the budget 4",
    );
    assert_fails(
        &[
            "run",
            "--strategy",
            "beam",
            "--revision-ratio",
            "2:2",
            "--budget",
            "4",
            "--out",
            bad,
        ],
        "--revision-ratio goes with --strategy revisions",
    );
    assert_fails(&["run", "--revision-ratio", "2x2"], "write L:P");
}

#[test]
fn adaptive_majority_runs_records_the_samples_it_used_and_refuses_a_bad_confidence() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("adaptive");
    let o = run(&[
        "run",
        "--strategy",
        "adaptive-majority",
        "--budget",
        "16",
        "--batch",
        "4",
        "--confidence",
        "0.9",
        "--limit",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["strategy"],
        serde_json::json!({"kind": "adaptive-majority", "batch": 4, "confidence": 0.9})
    );
    let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let mut used = Vec::new();
    for l in records.lines() {
        let r: serde_json::Value = serde_json::from_str(l).unwrap();
        let n = r["candidates"].as_array().unwrap().len() as u64;
        // Whole rounds of 4, at most the budget, and the record says how many.
        assert!(n.is_multiple_of(4) && (4..=16).contains(&n), "{l}");
        assert_eq!(r["compute"]["generations"].as_u64(), Some(n), "{l}");
        used.push(n);
    }
    assert_eq!(used.len(), 10);
    // The easy problems among the first ten (levels 1-5) settle before the budget.
    assert!(used.iter().any(|&n| n < 16), "{used:?}");
    let o = run(&[
        "run",
        "--strategy",
        "adaptive-majority",
        "--confidence",
        "0.4",
        "--limit",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("confidence 0.4"), "{}", stderr(&o));
}

#[test]
fn rebase_and_particles_run_with_their_temperatures_and_refuse_bad_ones() {
    let tmp = tempfile::tempdir().unwrap();
    for (strategy, flag, json) in [
        (
            "rebase",
            "--rebase-temperature",
            serde_json::json!({"kind": "rebase", "temperature": 0.5, "max_rounds": 40,
                "aggregation": "last"}),
        ),
        (
            "particles",
            "--resample-temperature",
            serde_json::json!({"kind": "particles", "temperature": 0.5, "max_rounds": 40,
                "aggregation": "last"}),
        ),
    ] {
        let out = tmp.path().join(strategy);
        let o = run(&[
            "run",
            "--strategy",
            strategy,
            "--budget",
            "8",
            flag,
            "0.5",
            "--verifier",
            "toy-prm",
            "--limit",
            "5",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["strategy"], json);
        for l in std::fs::read_to_string(out.join("records.jsonl"))
            .unwrap()
            .lines()
        {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            // The N are spent one finished candidate at a time.
            assert_eq!(r["candidates"].as_array().unwrap().len(), 8, "{l}");
            assert_eq!(r["compute"]["generations"], 8);
        }
        let o = run(&["run", "--strategy", strategy, flag, "0"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("temperature 0 must be above 0"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn mcts_runs_with_its_flags_keeps_its_tree_and_refuses_bad_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mcts");
    let o = run(&[
        "run",
        "--strategy",
        "mcts",
        "--budget",
        "8",
        "--tree-rule",
        "uct",
        "--exploration",
        "1.5",
        "--mcts-value",
        "rollout",
        "--mcts-select",
        "max-visits",
        "--expansion-width",
        "2",
        "--selections-per-round",
        "3",
        "--verifier",
        "toy-prm",
        "--limit",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["strategy"],
        serde_json::json!({"kind": "mcts", "expansion_width": 2, "tree_rule": "uct",
            "exploration": 1.5, "value": "rollout", "select": "max-visits",
            "selections_per_round": 3, "max_rounds": 40, "aggregation": "last"})
    );
    for l in std::fs::read_to_string(out.join("records.jsonl"))
        .unwrap()
        .lines()
    {
        let r: serde_json::Value = serde_json::from_str(l).unwrap();
        // Every rollout is a candidate: N of them, or fewer where every path of the tree
        // ended (an easy problem's samples all agree: search::tests has the rule); the root
        // saw each simulation, and each node of the search carries its visits and Q.
        let candidates = r["candidates"].as_array().unwrap().len();
        assert!((1..=8).contains(&candidates), "{l}");
        let nodes = r["tree"]["nodes"].as_array().unwrap();
        assert!(
            nodes[0]["visits"].as_u64().unwrap() as usize >= candidates,
            "{l}"
        );
        assert!(nodes[0]["q"].as_f64().is_some(), "{l}");
        assert!(!r["tree"]["selected"].as_array().unwrap().is_empty(), "{l}");
    }
    for (flag, value, why) in [
        (
            "--expansion-width",
            "0",
            "expansion width must be at least 1",
        ),
        ("--exploration", "0", "exploration 0 must be above 0"),
        ("--tree-rule", "ucb", "unknown tree rule 'ucb'"),
        ("--mcts-value", "mc", "unknown MCTS value 'mc'"),
    ] {
        let o = run(&["run", "--strategy", "mcts", flag, value, "--limit", "1"]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{flag}: {}", stderr(&o));
    }
}

/// The window charges a search what `thinkscale run` charges for the same settings, even right
/// after another search of the same problem (issue 28: the PRM's memo of scored prefixes was
/// kept per problem, so a second search read it for free): beam search against the toy PRM on
/// the first level-4 problem, after weighted best-of-N on it, in the window; the same from the
/// binary, fresh.
#[test]
fn a_window_run_after_another_meters_what_the_cli_meters_for_the_same_settings() {
    use egui_kittest::Harness;
    use thinkscale::search::StrategyKind;
    use thinkscale::ui::app::{App, Command as Cmd, ModelStatus};
    use thinkscale::verify::VerifierSpec;

    fn until(h: &mut Harness<'_, App>, what: &str, done: impl Fn(&App) -> bool) {
        let start = std::time::Instant::now();
        while !done(h.state()) {
            assert!(
                start.elapsed().as_secs() < 120,
                "timed out waiting for {what}"
            );
            h.step();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        h.run_steps(3);
    }

    let mut app = App::new(
        &egui::Context::default(),
        thinkscale::engine::default_policy_dir(),
    )
    .unwrap();
    let mut s = app.settings.clone();
    s.strategy = StrategyKind::WeightedBestOfN;
    s.verifier = VerifierSpec::ToyPrm;
    s.budget = 16;
    app.apply(Cmd::SetSettings(s.clone()));
    let i = app
        .problems
        .iter()
        .position(|p| p.level == Some(4))
        .unwrap();
    let id = app.problems[i].id.clone();
    let mut h = Harness::builder()
        .with_size([1280.0, 720.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    until(&mut h, "the policy", |a| {
        matches!(a.model, ModelStatus::Ready(..))
    });
    h.state_mut().apply(Cmd::SelectProblem(i));
    h.state_mut().apply(Cmd::Run);
    until(&mut h, "the first search", |a| a.last.is_some());
    s.strategy = StrategyKind::Beam;
    h.state_mut().apply(Cmd::SetSettings(s));
    h.state_mut().apply(Cmd::Run);
    h.run_steps(2);
    until(&mut h, "the second search", |a| {
        a.running.is_none()
            && a.last.is_some()
            && a.tree_info.as_ref().is_some_and(|t| {
                t.run
                    .as_ref()
                    .is_some_and(|(c, _)| c.strategy.kind() == StrategyKind::Beam)
            })
    });
    let window = h.state().last.clone().unwrap();
    assert_eq!(window.id, id);
    assert!(window.compute.verifier_tokens > 0);

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = bin()
        .args([
            "run",
            "--strategy",
            "beam",
            "--budget",
            "16",
            "--verifier",
            "toy-prm",
            "--levels",
            "4",
            "--limit",
            "1",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let cli: thinkscale::runner::sweep::SweepRecord =
        serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(cli.record.id, id);
    assert_eq!(window.compute, cli.record.compute);
    assert_eq!(window.candidates, cli.record.candidates);
}
