//! Math-Shepherd (`peiyi9979/math-shepherd-mistral-7b-prm`, `architectures:
//! ["MistralForCausalLM"]`): a causal LM that predicts `+` or `-` after each step's tag `ки`.
//!
//! Input, as the model card builds it (`f"{question} {output}"`, where the output's steps each
//! end with `" ки"` and are joined by `"\n"`, encoded once with the beginning-of-sequence token):
//!
//! ```text
//! [BOS] {question} {step 1} ки\n{step 2} ки\n…{step n} ки
//! ```
//!
//! Steps are passed verbatim (the model was trained on steps that begin `Step k: `; thinkscale's
//! steps carry no such prefix). BOS is `tokenizer_config.json`'s `bos_token`, else
//! `config.json`'s `bos_token_id`. The tag's id is the last id of `encode("ки")` (`▁ки` in
//! Mistral's vocabulary), and the `+`/`-` ids are the two ids of `encode("+ -")` (`▁+`, `▁-`), as
//! in the card. The score of step `i` is P(`+`) of the softmax over those two logits at its tag.
//!
//! Detection cannot tell this model from a plain Mistral LM by its files (Mistral's vocabulary
//! holds `▁ки`): a `mistral` or `llama` causal LM without Llama 3's chat tokens is read as
//! Math-Shepherd when `ки` is one token and `+ -` two.

use super::backbone::{self, BackboneConfig};
use super::checkpoint::{encode, Checkpoint};
use super::input::{MarkedText, Piece, ScoringInput};
use super::{Layout, Prm, PrmError, PrmFormat, Readout};
use candle_core::Device;
use tokenizers::Tokenizer;

const FORMAT: PrmFormat = PrmFormat::MathShepherd;

/// The step tag.
pub const STEP_TAG: &str = "ки";

/// The ids the format reads.
pub(super) struct Tokens {
    tag: u32,
    good: u32,
    bad: u32,
}

/// Finds the tag and the `+`/`-` ids the way the model card does.
pub(super) fn tokens(ck: &Checkpoint, tok: &Tokenizer) -> Result<Tokens, PrmError> {
    let tag = ck.last_id(tok, FORMAT, STEP_TAG)?;
    let pair = encode(tok, "+ -", false)?.get_ids().to_vec();
    let decoded = |id: u32| tok.decode(&[id], false).unwrap_or_default();
    match pair[..] {
        [good, bad] if decoded(good).trim() == "+" && decoded(bad).trim() == "-" => {
            Ok(Tokens { tag, good, bad })
        }
        _ => Err(ck.missing_token(
            FORMAT,
            "+ -",
            &format!("does not encode as the two tokens + and - (it gives {pair:?})"),
        )),
    }
}

struct TaggedLayout {
    tok: Tokenizer,
    bos: u32,
    tag: u32,
}

/// The input text as pieces (without the beginning-of-sequence token): the question, a space,
/// then the steps joined by newlines, each followed by its tag ` ки`.
pub fn pieces(question: &str, steps: &[String]) -> Vec<Piece> {
    let mut p = vec![Piece::text(question), Piece::text(" ")];
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            p.push(Piece::text("\n"));
        }
        p.push(Piece::text(step.as_str()));
        p.push(Piece::Tag(format!(" {STEP_TAG}")));
    }
    p
}

impl Layout for TaggedLayout {
    fn build(&self, question: &str, steps: &[String]) -> Result<ScoringInput, PrmError> {
        let text = MarkedText::from_pieces(&pieces(question, steps), self.tag);
        let (body, at) = text.encode(&self.tok, FORMAT)?;
        let mut ids = Vec::with_capacity(body.len() + 1);
        ids.push(self.bos);
        ids.extend(body);
        let positions = at.into_iter().map(|i| i + 1).collect();
        Ok(ScoringInput { ids, positions })
    }
}

/// Loads a Math-Shepherd checkpoint.
pub(super) fn load(ck: &Checkpoint, device: &Device) -> Result<Prm, PrmError> {
    let config = BackboneConfig::read(ck, FORMAT, &["mistral", "llama"])?;
    let tok = ck.tokenizer_for(config.vocab())?;
    let Tokens { tag, good, bad } = tokens(ck, &tok)?;
    let bos = ck.bos_id(&tok, FORMAT)?;
    let (lm, _, _) = backbone::load(ck, config, &[], true, device)?;
    let layout = TaggedLayout { tok, bos, tag };
    Ok(Prm::new(
        ck,
        FORMAT,
        layout,
        lm,
        Readout::Tokens { good, bad },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::engine::ComputeMeter;
    use std::path::Path;

    /// Each prefix's score by hand: the card's text up to its last tag, encoded with the
    /// tokenizer's own `<s>`, and a fresh Mistral fed the whole prefix at once.
    fn direct(dir: &Path, steps: &[String]) -> (Vec<f32>, usize) {
        let tok = tokenizer(dir);
        let plus = tok.token_to_id("▁+").unwrap();
        let minus = tok.token_to_id("▁-").unwrap();
        by_prefix(steps, |prefix| {
            let output: Vec<String> = prefix.iter().map(|s| format!("{s} ки")).collect();
            let ids = ids(dir, &format!("{QUESTION} {}", output.join("\n")), true);
            assert_eq!(ids[0], 1, "<s> first");
            (next_token_prob(dir, &ids, plus, minus), ids.len())
        })
    }

    #[test]
    fn math_shepherd_prm_scores_every_step_in_one_pass_like_the_direct_computation() {
        let dir = write_math_shepherd();
        check_against(dir.path(), &steps(), direct(dir.path(), &steps()));
    }

    #[test]
    fn math_shepherd_prm_refuses_a_tag_that_merges_with_the_next_line() {
        let dir = write_math_shepherd();
        replace_tokenizer(dir.path(), &shepherd_tokenizer(&[("▁ки", "\n")]));
        let err = load_prm(dir.path())
            .score(&problem(QUESTION), &steps(), &mut ComputeMeter::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("after step 1") && err.contains(" ки"), "{err}");
    }

    #[test]
    fn a_mistral_tokenizer_without_the_tag_or_signs_is_not_math_shepherd() {
        let dir = write_math_shepherd();
        let tok = char_tokenizer(&["<unk>", "<s>", "</s>"], "abc", &[], serde_json::json!({}));
        replace_tokenizer(dir.path(), &tok);
        let err = super::super::detect(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("mistral causal LM"),
            "{err}"
        );
    }
}
