//! Value-head PRMs: Skywork-o1-Open-PRM (`architectures: ["Qwen2ForPrmModel"]`) and the toy PRM
//! that thinkscale trains, saved in the same layout.
//!
//! Checkpoint: a Qwen2 backbone (`model.*`; an `lm_head` may be there and is not used) and a
//! value head `v_head.summary` = Linear(hidden, 1) with bias. Detection keys on the
//! `v_head.summary.weight` tensor; `architectures` may say `Qwen2ForPrmModel` (as Skywork's
//! does) or anything else.
//!
//! Input, as Skywork's `prepare_input(problem, response, tokenizer, step_token="\n")` builds
//! it, piece by piece:
//!
//! ```text
//! [BOS] + encode(question + "\n") + for each step: encode(step) + [SEP]
//! ```
//!
//! where BOS is `tokenizer_config.json`'s `bos_token` (what the reference's
//! `tokenizer.bos_token` reads) or else `config.json`'s `bos_token_id`, and SEP is the last id of
//! `encode("\n")` (an empty step contributes only SEP). With a character tokenizer `"\n"` is its
//! own token. The score of step `i` is the sigmoid of the value head at its SEP.

use super::backbone::{self, weights_error, BackboneConfig};
use super::checkpoint::{encode, Checkpoint};
use super::input::ScoringInput;
use super::{Head, Layout, Prm, PrmError, PrmFormat, Readout};
use candle_core::{Device, Module, Tensor};
use candle_nn::Linear;
use tokenizers::Tokenizer;

const FORMAT: PrmFormat = PrmFormat::ValueHead;

/// Skywork's `architectures` entry.
pub const ARCHITECTURE: &str = "Qwen2ForPrmModel";

/// What ends the question and each step; the step's score is read at its last token.
pub const STEP_SEPARATOR: &str = "\n";

struct PiecewiseLayout {
    tok: Tokenizer,
    bos: u32,
    sep: u32,
}

impl Layout for PiecewiseLayout {
    fn build(&self, question: &str, steps: &[String]) -> Result<ScoringInput, PrmError> {
        let mut ids = vec![self.bos];
        let question = format!("{question}{STEP_SEPARATOR}");
        ids.extend_from_slice(encode(&self.tok, &question, false)?.get_ids());
        let mut positions = Vec::with_capacity(steps.len());
        for step in steps {
            if !step.is_empty() {
                ids.extend_from_slice(encode(&self.tok, step, false)?.get_ids());
            }
            positions.push(ids.len());
            ids.push(self.sep);
        }
        Ok(ScoringInput { ids, positions })
    }
}

/// `v_head.summary`, then sigmoid.
struct ValueHead {
    summary: Linear,
}

impl Head for ValueHead {
    fn scores(&self, hidden: &Tensor) -> candle_core::Result<Vec<f32>> {
        candle_nn::ops::sigmoid(&self.summary.forward(hidden)?)?
            .flatten_all()?
            .to_vec1()
    }
}

/// Loads a value-head PRM checkpoint.
pub(super) fn load(ck: &Checkpoint, device: &Device) -> Result<Prm, PrmError> {
    let config = BackboneConfig::read(ck, FORMAT, &["qwen2"])?;
    let tok = ck.tokenizer_for(config.vocab_size)?;
    let bos = ck.bos_id(&tok, FORMAT)?;
    let sep = ck.last_id(&tok, FORMAT, STEP_SEPARATOR)?;
    let h = config.hidden_size;
    let shapes = [
        ("v_head.summary.weight".to_string(), vec![1, h]),
        ("v_head.summary.bias".to_string(), vec![1]),
    ];
    let (backbone, vb, _) = backbone::load(ck, config, &shapes, false, device)?;
    let summary =
        candle_nn::linear(h, 1, vb.pp("v_head.summary")).map_err(|e| weights_error(ck, e))?;
    let layout = PiecewiseLayout { tok, bos, sep };
    let head = ValueHead { summary };
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
    use crate::engine::tokenizer::{TOY_CHARS, TOY_EOS, TOY_UNK};
    use std::path::Path;

    /// Each prefix's score by hand: BOS (id 0), the question and the steps each ended by
    /// `"\n"`, a fresh backbone, and the value head's weights applied to the last hidden state.
    fn direct(dir: &Path, steps: &[String]) -> (Vec<f32>, usize) {
        let w = matrix(dir, "v_head.summary.weight");
        let b = matrix(dir, "v_head.summary.bias");
        by_prefix(steps, |prefix| {
            let text = format!("{QUESTION}\n{}\n", prefix.join("\n"));
            let ids = [vec![0], ids(dir, &text, false)].concat();
            let v = affine(&w, &b[0], &qwen2_last_hidden(dir, &ids))[0];
            (1.0 / (1.0 + (-v).exp()), ids.len())
        })
    }

    #[test]
    fn value_head_prm_in_the_toy_layout_scores_like_the_direct_computation() {
        let dir = write_value_head();
        check_against(dir.path(), &steps(), direct(dir.path(), &steps()));
    }

    #[test]
    fn value_head_prm_empty_steps_are_scored_at_their_separator() {
        let dir = write_value_head();
        let steps: Vec<String> = vec!["2+3=5: 5*2".into(), String::new()];
        check_against(dir.path(), &steps, direct(dir.path(), &steps));
    }

    #[test]
    fn value_head_prm_takes_bos_from_the_tokenizer_config_before_config_json() {
        let dir = write_value_head();
        let want = direct(dir.path(), &steps());
        // config.json names a BOS outside the vocabulary; the tokenizer config wins.
        edit_config(dir.path(), |c| c["bos_token_id"] = 9999.into());
        let tc = serde_json::json!({"bos_token": {"content": TOY_EOS}});
        std::fs::write(dir.path().join("tokenizer_config.json"), tc.to_string()).unwrap();
        check_against(dir.path(), &steps(), want);

        std::fs::remove_file(dir.path().join("tokenizer_config.json")).unwrap();
        let err = load_error(dir.path());
        assert!(
            err.contains("9999") && err.contains("tokenizer.json"),
            "{err}"
        );

        edit_config(dir.path(), |c| {
            c.as_object_mut().unwrap().remove("bos_token_id");
        });
        let err = load_error(dir.path());
        assert!(
            err.contains("config.json") && err.contains("bos_token_id"),
            "{err}"
        );
    }

    #[test]
    fn value_head_prm_without_a_newline_token_is_refused() {
        let dir = write_value_head();
        let chars: String = TOY_CHARS.chars().filter(|&c| c != '\n').collect();
        let tok = char_tokenizer(&[TOY_EOS, TOY_UNK], &chars, &[], serde_json::json!({}));
        replace_tokenizer(dir.path(), &tok);
        let err = load_error(dir.path());
        assert!(
            err.contains("tokenizer.json") && err.contains("\"\\n\""),
            "{err}"
        );
    }
}
