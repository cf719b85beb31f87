#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The tokenizer built from a GGUF file's own metadata, for a SentencePiece vocabulary
//! (Llama 2, Mistral), against the token ids llama.cpp produces for its tokenizer test cases
//! (tests/data/llama-spm, copied from llama.cpp's models/ directory).

use std::path::Path;
use thinkscale::engine::gguf::GgufFile;

fn cases(dir: &Path, name: &str) -> Vec<(String, Vec<u32>)> {
    let inp = std::fs::read_to_string(dir.join(format!("{name}.inp"))).unwrap();
    let out = std::fs::read_to_string(dir.join(format!("{name}.out"))).unwrap();
    let texts: Vec<&str> = inp.split("\n__ggml_vocab_test__\n").collect();
    let ids: Vec<Vec<u32>> = out
        .split('\n')
        .take(texts.len())
        .map(|l| l.split_whitespace().map(|t| t.parse().unwrap()).collect())
        .collect();
    assert_eq!(texts.len(), ids.len());
    texts.into_iter().map(String::from).zip(ids).collect()
}

#[test]
fn sentencepiece_vocabulary_tokenizes_as_llama_cpp() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/llama-spm");
    let name = "ggml-vocab-llama-spm.gguf";
    let tok = GgufFile::open(&dir.join(name))
        .unwrap()
        .tokenizer()
        .unwrap();
    let cases = cases(&dir, name);
    assert!(cases.len() > 30);
    let mut wrong = Vec::new();
    for (text, expected) in &cases {
        let ids = tok.encode(text.as_str(), false).unwrap().get_ids().to_vec();
        if &ids != expected {
            wrong.push(format!("{text:?}: {ids:?} vs llama.cpp {expected:?}"));
            continue;
        }
        // Decoding gives the text back (the prefix space is stripped).
        let back = tok.decode(&ids, false).unwrap();
        assert_eq!(&back, text, "round trip of {text:?}");
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    // Control tokens are special: <s> and </s> are single tokens, never split.
    let ids = tok.encode("<s>Hi</s>", false).unwrap().get_ids().to_vec();
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&2));
}
