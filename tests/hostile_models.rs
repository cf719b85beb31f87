#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Untrusted model files: each hostile file is built here, from the committed toy model or as a
//! few bytes of GGUF, and must fail fast with a message that names the file and the limit, in
//! the library and on the command line. A watchdog turns a hang into a failure (it asserts
//! nothing about speed: a well-behaved case takes well under a second).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;
use thinkscale::backend::LocalPolicy;
use thinkscale::engine::chat::TEMPLATE_FUEL;
use thinkscale::engine::tokenizer::MAX_BACKTRACK;
use thinkscale::engine::{default_policy_dir, CausalLm, PromptFormat};

/// Runs `f` on a thread; fails the test if it has not returned after `secs` seconds.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("hung: no answer from the loader")
}

/// A copy of the toy policy in a temporary directory.
fn toy_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(default_policy_dir()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn load_error(dir: &Path, format: PromptFormat) -> String {
    let dir = dir.to_path_buf();
    within(60, move || {
        match LocalPolicy::load_with(
            &dir,
            &candle_core::Device::Cpu,
            format,
            candle_core::DType::F32,
        ) {
            Ok(_) => panic!("{} loaded", dir.display()),
            Err(e) => format!("{e:#}"),
        }
    })
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_thinkscale"))
}

/// Runs the binary; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    within(120, move || {
        let out = Command::new(bin())
            .args(&args)
            .env("RAYON_NUM_THREADS", "1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
}

const NESTED_LOOPS: &str = "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}{{ messages[0]['content'] }}";
const HUGE_PROMPT: &str =
    "{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}{{ messages[0]['content'] }}";

#[test]
fn a_chat_template_with_nested_loops_runs_out_of_work_and_names_the_file() {
    let dir = toy_copy();
    std::fs::write(dir.path().join("chat_template.jinja"), NESTED_LOOPS).unwrap();
    let err = load_error(dir.path(), PromptFormat::Chat);
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains(&TEMPLATE_FUEL.to_string()), "{err}");
    assert!(err.contains("--prompt raw"), "{err}");
    // Raw prompts do not run the template.
    let raw = dir.path().to_path_buf();
    within(60, move || {
        LocalPolicy::load_with(
            &raw,
            &candle_core::Device::Cpu,
            PromptFormat::Raw,
            candle_core::DType::F32,
        )
        .unwrap()
    });
    // The command line: a clear error before any generation, exit code 2.
    let out = dir.path().join("out");
    let d = dir.path().to_str().unwrap();
    let (code, _, stderr) = run(&[
        "run",
        "--policy",
        d,
        "--limit",
        "1",
        "--budget",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("chat template") && stderr.contains(d),
        "{stderr}"
    );
    // inspect renders a sample prompt under the same limits and says what is wrong.
    let (code, stdout, stderr) = run(&["inspect", d]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("unusable") && stdout.contains("steps of work"),
        "{stdout}"
    );
}

#[test]
fn a_chat_template_that_renders_a_100_mb_prompt_is_stopped_at_the_size_limit() {
    let dir = toy_copy();
    std::fs::write(dir.path().join("chat_template.jinja"), HUGE_PROMPT).unwrap();
    let err = load_error(dir.path(), PromptFormat::Auto);
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(err.contains("passed 1048576 bytes"), "{err}");
}

#[test]
fn a_tokenizer_pattern_that_backtracks_without_end_is_refused() {
    let dir = toy_copy();
    let path = dir.path().join("tokenizer.json");
    let mut tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // Nested quantifiers before a backreference: the backtracking engine tries every way to
    // split a run of letters.
    tok["pre_tokenizer"] = serde_json::json!({
        "type": "Split",
        "pattern": {"Regex": "(\\w+)+\\1!"},
        "behavior": "Isolated",
        "invert": false
    });
    std::fs::write(&path, serde_json::to_string(&tok).unwrap()).unwrap();
    let d = dir.path().to_path_buf();
    let err = within(60, move || {
        CausalLm::load(&d, &candle_core::Device::Cpu).unwrap_err()
    })
    .to_string();
    assert!(err.contains("tokenizer.json"), "{err}");
    assert!(err.contains(&MAX_BACKTRACK.to_string()), "{err}");
}

#[test]
fn a_config_asking_for_a_trillion_parameters_is_refused_before_loading() {
    let dir = toy_copy();
    let path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["hidden_size"] = 32768.into();
    cfg["intermediate_size"] = 131072.into();
    cfg["num_hidden_layers"] = 40.into();
    cfg["num_attention_heads"] = 256.into();
    cfg["num_key_value_heads"] = 256.into();
    std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let d = dir.path().to_path_buf();
    let err = within(60, move || {
        CausalLm::load(&d, &candle_core::Device::Cpu).unwrap_err()
    })
    .to_string();
    assert!(err.contains("config.json"), "{err}");
    assert!(
        err.contains("parameters") && err.contains("memory"),
        "{err}"
    );
}

#[test]
fn a_gguf_string_of_two_to_the_63_bytes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.gguf");
    let mut b = Vec::new();
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes()); // tensors
    b.extend(1u64.to_le_bytes()); // metadata entries
    let key = b"tokenizer.chat_template";
    b.extend((key.len() as u64).to_le_bytes());
    b.extend(key);
    b.extend(8u32.to_le_bytes()); // a string
    b.extend((1u64 << 63).to_le_bytes());
    b.extend([b'x'; 64]);
    std::fs::write(&path, &b).unwrap();
    let p = path.clone();
    let err = within(60, move || {
        CausalLm::load(&p, &candle_core::Device::Cpu).unwrap_err()
    })
    .to_string();
    assert!(err.contains("hostile.gguf"), "{err}");
    assert!(
        err.contains("tokenizer.chat_template") && err.contains("truncated"),
        "{err}"
    );
    let (code, _, stderr) = run(&["inspect", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("hostile.gguf"), "{stderr}");
}
