//! RLHFlow's Llama3.1-8B-PRM (`RLHFlow/Llama3.1-8B-PRM-Deepseek-Data`,
//! `-Mistral-Data`; `architectures: ["LlamaForCausalLM"]`): each step is a user turn, the
//! assistant answers `+` (or `-`), and P(`+`) at the assistant's reply scores the step.
//!
//! Input, as RLHFlow's `prm_evaluate.py` builds it (steps stripped; the first user turn is the
//! question, a space and step 1; every assistant turn is `+`; rendered by the Llama 3 chat
//! template, which trims each message, and encoded once without added tokens):
//!
//! ```text
//! <|begin_of_text|>[SYSTEM]<|start_header_id|>user<|end_header_id|>\n\n{question} {step 1}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{step 2}<|eot_id|>…<|start_header_id|>assistant<|end_header_id|>\n\n+<|eot_id|>
//! ```
//!
//! `[SYSTEM]` is empty under the Llama 3.0 template, and under the Llama 3.1 template (a
//! `tokenizer_config.json` `chat_template` that mentions "Cutting Knowledge Date", as Llama
//! 3.1 Instruct's does) it is the block that template writes when no system message is given:
//! `<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>`.
//! The score of step `i` is read at the token before its assistant `+` (the position that
//! predicts the reply, `-3` in the reference's one-step-at-a-time code): P(`+`) of the softmax
//! over the logits of `+` and `-`, whose ids are the last ids of `encode("+")` and
//! `encode("-")`. Earlier steps' replies are `+`, as in the reference.

use super::backbone::{self, BackboneConfig};
use super::checkpoint::Checkpoint;
use super::input::{MarkedText, Piece, ScoringInput};
use super::{Layout, Prm, PrmError, PrmFormat, Readout};
use candle_core::Device;
use tokenizers::Tokenizer;

const FORMAT: PrmFormat = PrmFormat::Rlhflow;

/// Llama 3's chat tokens; a tokenizer holding all of them marks this format.
pub const CHAT_TOKENS: [&str; 4] = [
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
];

/// What the Llama 3.1 chat template writes first when there is no system message.
pub const LLAMA31_SYSTEM: &str = "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>";

struct ChatLayout {
    tok: Tokenizer,
    plus: u32,
    llama31: bool,
}

/// The input text as pieces: the Llama 3 chat (with the Llama 3.1 system block where
/// `llama31`), each step a user turn and each assistant reply the tag `+`.
pub fn pieces(question: &str, steps: &[String], llama31: bool) -> Vec<Piece> {
    let mut p = vec![Piece::text("<|begin_of_text|>")];
    if llama31 {
        p.push(Piece::text(LLAMA31_SYSTEM));
    }
    for (k, step) in steps.iter().enumerate() {
        let user = if k == 0 {
            format!("{question} {}", step.trim())
        } else {
            step.trim().to_string()
        };
        p.push(Piece::text("<|start_header_id|>user<|end_header_id|>\n\n"));
        p.push(Piece::text(user.trim()));
        p.push(Piece::text(
            "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        ));
        p.push(Piece::Tag("+".into()));
        p.push(Piece::text("<|eot_id|>"));
    }
    p
}

impl Layout for ChatLayout {
    fn build(&self, question: &str, steps: &[String]) -> Result<ScoringInput, PrmError> {
        let text = MarkedText::from_pieces(&pieces(question, steps, self.llama31), self.plus);
        let (ids, replies) = text.encode(&self.tok, FORMAT)?;
        // The reply token is preceded at least by its header, so `i >= 1`.
        let positions = replies.into_iter().map(|i| i.saturating_sub(1)).collect();
        Ok(ScoringInput { ids, positions })
    }
}

/// Loads an RLHFlow PRM checkpoint.
pub(super) fn load(ck: &Checkpoint, device: &Device) -> Result<Prm, PrmError> {
    let config = BackboneConfig::read(ck, FORMAT, &["mistral", "llama"])?;
    let tok = ck.tokenizer_for(config.vocab())?;
    for t in CHAT_TOKENS {
        ck.special_id(&tok, FORMAT, t)?;
    }
    let plus = ck.last_id(&tok, FORMAT, "+")?;
    let minus = ck.last_id(&tok, FORMAT, "-")?;
    let llama31 = ck.tokenizer_config()?.is_some_and(|c| {
        c.get("chat_template")
            .is_some_and(|t| t.to_string().contains("Cutting Knowledge Date"))
    });
    let (lm, _, _) = backbone::load(ck, config, &[], true, device)?;
    let layout = ChatLayout { tok, plus, llama31 };
    Ok(Prm::new(
        ck,
        FORMAT,
        layout,
        lm,
        Readout::Tokens {
            good: plus,
            bad: minus,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use std::path::Path;

    /// Each prefix's score by hand: the chat up to the assistant header that answers its last
    /// step, and a fresh Llama fed the whole prefix at once.
    fn direct(dir: &Path, steps: &[String], llama31: bool) -> (Vec<f32>, usize) {
        let tok = tokenizer(dir);
        let (plus, minus) = (tok.token_to_id("+").unwrap(), tok.token_to_id("-").unwrap());
        by_prefix(steps, |prefix| {
            let mut text = String::from("<|begin_of_text|>");
            if llama31 {
                text += "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>";
            }
            let turns: Vec<String> = prefix
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let user = if i == 0 { format!("{QUESTION} {s}") } else { s.clone() };
                    format!("<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
                })
                .collect();
            text += &turns.join("+<|eot_id|>");
            let ids = ids(dir, &text, false);
            (next_token_prob(dir, &ids, plus, minus), ids.len())
        })
    }

    #[test]
    fn rlhflow_prm_scores_every_step_in_one_pass_like_the_direct_computation() {
        for llama31 in [true, false] {
            let dir = write_rlhflow(llama31);
            // Surrounding whitespace is stripped, as RLHFlow strips each step.
            let padded: Vec<String> = steps().iter().map(|s| format!(" {s}\n")).collect();
            check_against(dir.path(), &padded, direct(dir.path(), &steps(), llama31));
        }
    }

    #[test]
    fn rlhflow_prm_without_llama3_chat_tokens_is_refused() {
        let dir = write_rlhflow(false);
        edit_config(dir.path(), |c| c["prm_format"] = "rlhflow".into());
        let tok = char_tokenizer(&LLAMA3_SPECIALS[..3], "+-ab", &[], serde_json::json!({}));
        replace_tokenizer(dir.path(), &tok);
        let err = load_error(dir.path());
        assert!(
            err.contains("tokenizer.json") && err.contains("<|end_header_id|>"),
            "{err}"
        );
    }

    #[test]
    fn rlhflow_prm_missing_a_layer_tensor_is_an_error_not_a_panic() {
        let dir = write_rlhflow(false);
        edit_config(dir.path(), |c| c["num_hidden_layers"] = 3.into());
        let err = load_error(dir.path());
        assert!(
            err.contains("model.safetensors") && err.contains("model.layers.2."),
            "{err}"
        );
    }
}
