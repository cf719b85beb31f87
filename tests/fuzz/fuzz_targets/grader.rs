//! libFuzzer target for the answer grader: no input may panic, hang or overflow the stack,
//! `equivalent` is reflexive and symmetric. The input is split at its first NUL byte into a
//! reference and a prediction; the whole input is also a solution to extract from.
#![no_main]

// The grader depends on nothing outside its own directory, so it compiles here on its own.
#[allow(dead_code, unused_imports)]
#[path = "../../../src/grade/mod.rs"]
mod grader;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\0').unwrap_or((text, ""));
    assert!(grader::equivalent(a, a), "not reflexive: {a:?}");
    assert_eq!(
        grader::equivalent(a, b),
        grader::equivalent(b, a),
        "not symmetric: {a:?} vs {b:?}"
    );
    let _ = grader::normalize(b);
    let _ = grader::extract(text, &grader::ExtractOptions::all());
});
