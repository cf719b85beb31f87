//! Qwen2.5-Math-PRM (`architectures: ["Qwen2ForProcessRewardModel"]`).
//!
//! Checkpoint: a Qwen2 backbone (`model.*`) and a head `score.0` = Linear(hidden, hidden),
//! ReLU, `score.2` = Linear(hidden, 2), both with bias.
//!
//! Input, as the model card builds it (messages system / user / assistant, the assistant's
//! content `"<extra_0>".join(steps) + "<extra_0>"`, rendered by the Qwen chat template and
//! encoded once):
//!
//! ```text
//! <|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n{step 1}<extra_0>{step 2}<extra_0>…{step n}<extra_0>
//! ```
//!
//! The template then closes with `<|im_end|><|endoftext|>`; those tokens follow the last scored
//! position, cannot change a causal model's scores, and are not run. Steps are passed verbatim.
//! The score of step `i` is the softmax probability of class 1 at its `<extra_0>`.

use super::backbone::{self, weights_error, BackboneConfig};
use super::checkpoint::Checkpoint;
use super::input::{MarkedText, Piece, ScoringInput};
use super::{Head, Layout, Prm, PrmError, PrmFormat, Readout};
use candle_core::{Device, IndexOp, Module, Tensor, D};
use candle_nn::Linear;
use tokenizers::Tokenizer;

const FORMAT: PrmFormat = PrmFormat::QwenMathPrm;

/// The system prompt of the model card's usage code.
pub const SYSTEM: &str = "Please reason step by step, and put your final answer within \\boxed{}.";

/// The token that ends each step and carries its score.
pub const STEP_TAG: &str = "<extra_0>";

/// The chat template's turn markers.
const CHAT_TOKENS: [&str; 2] = ["<|im_start|>", "<|im_end|>"];

struct ChatLayout {
    tok: Tokenizer,
    tag: u32,
}

/// The text before the first step.
fn prompt(question: &str) -> String {
    format!(
        "<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    )
}

/// The input text as pieces: the chat up to the assistant's turn, then each step and its tag.
pub fn pieces(question: &str, steps: &[String]) -> Vec<Piece> {
    let mut p = vec![Piece::text(prompt(question))];
    for step in steps {
        p.push(Piece::text(step.as_str()));
        p.push(Piece::Tag(STEP_TAG.into()));
    }
    p
}

impl Layout for ChatLayout {
    fn build(&self, question: &str, steps: &[String]) -> Result<ScoringInput, PrmError> {
        let text = MarkedText::from_pieces(&pieces(question, steps), self.tag);
        let (ids, positions) = text.encode(&self.tok, FORMAT)?;
        Ok(ScoringInput { ids, positions })
    }
}

/// `score.0` – ReLU – `score.2`, then softmax; class 1 is "the step is right".
struct TwoClassHead {
    first: Linear,
    second: Linear,
}

impl Head for TwoClassHead {
    fn scores(&self, hidden: &Tensor) -> candle_core::Result<Vec<f32>> {
        let logits = self.second.forward(&self.first.forward(hidden)?.relu()?)?;
        candle_nn::ops::softmax(&logits, D::Minus1)?
            .i((.., 1))?
            .to_vec1()
    }
}

/// Loads a Qwen2.5-Math-PRM checkpoint.
pub(super) fn load(ck: &Checkpoint, device: &Device) -> Result<Prm, PrmError> {
    let config = BackboneConfig::read(ck, FORMAT, &["qwen2"])?;
    let tok = ck.tokenizer_for(config.vocab_size)?;
    for t in CHAT_TOKENS {
        ck.special_id(&tok, FORMAT, t)?;
    }
    let tag = ck.special_id(&tok, FORMAT, STEP_TAG)?;
    let h = config.hidden_size;
    let shapes = [
        ("score.0.weight".to_string(), vec![h, h]),
        ("score.0.bias".to_string(), vec![h]),
        ("score.2.weight".to_string(), vec![2, h]),
        ("score.2.bias".to_string(), vec![2]),
    ];
    let (backbone, vb, _) = backbone::load(ck, config, &shapes, false, device)?;
    let head = TwoClassHead {
        first: candle_nn::linear(h, h, vb.pp("score.0")).map_err(|e| weights_error(ck, e))?,
        second: candle_nn::linear(h, 2, vb.pp("score.2")).map_err(|e| weights_error(ck, e))?,
    };
    let layout = ChatLayout { tok, tag };
    Ok(Prm::new(
        ck,
        FORMAT,
        layout,
        backbone,
        Readout::Head(std::sync::Arc::new(head)),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use std::path::Path;

    fn softmax_class1(logits: &[f32]) -> f32 {
        let e: Vec<f32> = logits.iter().map(|l| l.exp()).collect();
        e[1] / e.iter().sum::<f32>()
    }

    /// Each prefix's score by hand: the chat text up to its last `<extra_0>`, a fresh backbone,
    /// and the head's weights applied to the last hidden state.
    fn direct(dir: &Path, steps: &[String]) -> (Vec<f32>, usize) {
        let (w0, b0) = (matrix(dir, "score.0.weight"), matrix(dir, "score.0.bias"));
        let (w2, b2) = (matrix(dir, "score.2.weight"), matrix(dir, "score.2.bias"));
        by_prefix(steps, |prefix| {
            let text = format!(
                "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{{}}.<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n{}",
                prefix.iter().map(|s| format!("{s}<extra_0>")).collect::<String>()
            );
            let ids = ids(dir, &text, true);
            let h = qwen2_last_hidden(dir, &ids);
            let a: Vec<f32> = affine(&w0, &b0[0], &h).iter().map(|x| x.max(0.0)).collect();
            (softmax_class1(&affine(&w2, &b2[0], &a)), ids.len())
        })
    }

    #[test]
    fn qwen_math_prm_scores_every_step_in_one_pass_like_the_direct_computation() {
        let dir = write_qwen_math();
        check_against(dir.path(), &steps(), direct(dir.path(), &steps()));
    }

    #[test]
    fn qwen_math_prm_reads_sharded_weights() {
        let dir = write_qwen_math();
        let want = direct(dir.path(), &steps());
        shard(dir.path());
        assert!(!dir.path().join("model.safetensors").exists());
        check_against(dir.path(), &steps(), want);
        std::fs::remove_file(dir.path().join("model-00002-of-00002.safetensors")).unwrap();
        let err = super::super::detect(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model-00002-of-00002.safetensors"), "{err}");
    }

    #[test]
    fn qwen_math_prm_without_its_step_tag_is_refused() {
        let dir = write_qwen_math();
        let tok = char_tokenizer(&QWEN_SPECIALS[..3], "abc\n", &[], serde_json::json!({}));
        replace_tokenizer(dir.path(), &tok);
        let err = load_error(dir.path());
        assert!(
            err.contains("tokenizer.json") && err.contains("<extra_0>"),
            "{err}"
        );
    }

    #[test]
    fn qwen_math_prm_head_of_the_wrong_shape_is_named() {
        let dir = write_qwen_math();
        edit_config(dir.path(), |c| c["hidden_size"] = 8.into());
        let err = load_error(dir.path());
        assert!(
            err.contains("model.safetensors") && err.contains("score.0.weight"),
            "{err}"
        );
    }
}
