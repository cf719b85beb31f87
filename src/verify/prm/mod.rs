//! Real process reward models (PRMs) behind the [`Verifier`] trait.
//!
//! Four checkpoint formats are read:
//!
//! | format | backbone | where a step is scored | score |
//! |---|---|---|---|
//! | [`PrmFormat::QwenMathPrm`] (Qwen2.5-Math-PRM) | Qwen2 | each `<extra_0>` after a step | softmax of the 2-class head `score.0`–ReLU–`score.2`, class 1 |
//! | [`PrmFormat::ValueHead`] (Skywork-o1-Open-PRM, the toy PRM) | Qwen2 | the step separator `"\n"` after each step | sigmoid of `v_head.summary` |
//! | [`PrmFormat::MathShepherd`] | Mistral (or Llama) | the tag `ки` after each step | P(`+`) of the next-token softmax restricted to `+`/`-` |
//! | [`PrmFormat::Rlhflow`] (RLHFlow Llama3.1-8B-PRM) | Llama (or Mistral) | the token before each assistant reply `+` | P(`+`) of the next-token softmax restricted to `+`/`-` |
//!
//! Every format runs on the engine's own transformer (the one the policy runs on), which returns
//! the hidden states of all positions; the head, or the language-model head's `+`/`-` logits, is
//! applied at the scored positions. Tokens after the last scored position (for example
//! `<|im_end|><|endoftext|>` after the last `<extra_0>`, or the last assistant reply
//! `+<|eot_id|>`) cannot change a causal model's scores, so they are not run.
//!
//! A search asks about partial solutions that grow a step at a time. The PRM keeps, per search,
//! the keys and values of what it read and the score at every position it read, so a partial
//! solution one step longer than one it has scored costs only the new step's tokens, and a
//! solution asked about again costs nothing: the verifier's tokens count the distinct tokens
//! read, not the sum over rounds of whole prefixes. The candidates of one call are read
//! together: each distinct token once, in batched forward passes
//! ([`crate::engine::scorer::PrefixScorer::run_many`]).
//!
//! The exact input layouts are documented on each format's module: [`qwen_math`],
//! [`value_head`], [`math_shepherd`], [`rlhflow`].
//!
//! # Detection ([`detect`])
//! In this order:
//! 1. `config.json` field `"prm_format"` (one of `qwen-math-prm`, `value-head`,
//!    `math-shepherd`, `rlhflow`), an explicit hint that wins over everything else;
//! 2. head tensors in the safetensors: `score.0.weight` and `score.2.weight` → Qwen2.5-Math-PRM;
//!    `v_head.summary.weight` → value head;
//! 3. a causal LM (`model_type` `mistral` or `llama`, e.g. `MistralForCausalLM`,
//!    `LlamaForCausalLM`): a tokenizer holding all of Llama 3's `<|begin_of_text|>`,
//!    `<|start_header_id|>`, `<|end_header_id|>`, `<|eot_id|>` → RLHFlow; otherwise a tokenizer
//!    in which `ки` is one token and `+ -` two → Math-Shepherd. The files of a plain Mistral LM
//!    look exactly like Math-Shepherd's (its vocabulary has `▁ки` too), so such a model is read
//!    as Math-Shepherd; name the format with the hint when that is wrong.
//!
//! Anything else is refused with an error that names `config.json`, what was found, and the
//! supported formats.

mod backbone;
mod checkpoint;
pub mod input;
pub mod math_shepherd;
pub mod qwen_math;
pub mod rlhflow;
#[cfg(test)]
mod testkit;
pub mod value_head;

use super::{StepText, Verifier};
use crate::data::Problem;
use crate::engine::prefix::{extend_hash, PrefixCache};
use crate::engine::scorer::PrefixScorer;
use crate::engine::ComputeMeter;
use backbone::Backbone;
use candle_core::{Device, IndexOp, Tensor};
use checkpoint::Checkpoint;
use input::ScoringInput;
use std::collections::HashMap;
use std::path::Path;

/// The formats this build reads, as the `prm_format` hint spells them.
pub const SUPPORTED: &str =
    "qwen-math-prm (Qwen2ForProcessRewardModel: Qwen2 + score.0/score.2 head), \
value-head (Skywork-o1-Open-PRM / toy PRM: Qwen2 + v_head.summary), \
math-shepherd (Mistral/Llama causal LM, +/- at the ки tag), \
rlhflow (Llama 3 chat causal LM, +/- as the assistant's reply)";

/// A PRM checkpoint format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrmFormat {
    /// Qwen2.5-Math-PRM: a Qwen2 backbone with a 2-class head (`score.0`, ReLU, `score.2`) read
    /// at `<extra_0>` tokens inside the Qwen chat template. See [`qwen_math`].
    QwenMathPrm,
    /// Skywork-o1-Open-PRM and the toy PRM: a Qwen2 backbone with a scalar value head
    /// (`v_head.summary`) read at each step's separator. See [`value_head`].
    ValueHead,
    /// Math-Shepherd: a causal LM whose next-token probabilities of `+` and `-` at the step tag
    /// `ки` score the step. See [`math_shepherd`].
    MathShepherd,
    /// RLHFlow's Llama3.1-8B-PRM: a Llama 3 chat model where each step is a user turn and the
    /// probability that the assistant answers `+` (rather than `-`) scores it. See [`rlhflow`].
    Rlhflow,
}

impl PrmFormat {
    /// Every format, in the order [`SUPPORTED`] lists them.
    pub const ALL: [PrmFormat; 4] = [
        Self::QwenMathPrm,
        Self::ValueHead,
        Self::MathShepherd,
        Self::Rlhflow,
    ];

    /// Parses the name [`Display`](std::fmt::Display) writes (the `prm_format` hint).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.to_string() == s)
    }
}

impl std::fmt::Display for PrmFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::QwenMathPrm => "qwen-math-prm",
            Self::ValueHead => "value-head",
            Self::MathShepherd => "math-shepherd",
            Self::Rlhflow => "rlhflow",
        })
    }
}

/// Errors of PRM loading and scoring. Each names the file (or the limit) at fault.
#[derive(Debug, thiserror::Error)]
pub enum PrmError {
    /// A file the PRM needs is not there.
    #[error("{path}: missing ({what})")]
    Missing { path: String, what: String },
    /// A file is there but cannot be used.
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    /// The checkpoint is not a PRM format this build reads.
    #[error("{path}: {found} is not a PRM format this build reads; supported: {SUPPORTED}")]
    Unsupported { path: String, found: String },
    /// A token the format needs is not in the tokenizer.
    #[error("{path}: the {format} format needs the token {token:?}, which this tokenizer {why}")]
    MissingToken {
        path: String,
        format: PrmFormat,
        token: String,
        why: String,
    },
    /// The tokenizer's vocabulary does not fit the model's embeddings.
    #[error("{path}: vocabulary of {tokens} tokens does not fit the model's {vocab} embeddings (config.json vocab_size)")]
    VocabMismatch {
        path: String,
        tokens: usize,
        vocab: usize,
    },
    /// A token that marks a scored position merged with the text around it.
    #[error("{format}: the {token:?} after step {step} did not tokenize as its own token (id {id}); the step text runs into it")]
    TagNotAlone {
        format: PrmFormat,
        step: usize,
        token: String,
        id: u32,
    },
    /// The input does not fit the model's context.
    #[error(
        "{format} input of {tokens} tokens does not fit the model's context of {context} tokens"
    )]
    TooLong {
        format: PrmFormat,
        tokens: usize,
        context: usize,
    },
    /// Encoding text failed.
    #[error("tokenizer: {0}")]
    Codec(String),
    /// A tensor operation failed.
    #[error("PRM inference failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Reads which PRM format the checkpoint in `dir` holds (rules in the [module docs](self)).
pub fn detect(dir: &Path) -> Result<PrmFormat, PrmError> {
    detect_in(&Checkpoint::open(dir)?)
}

fn detect_in(ck: &Checkpoint) -> Result<PrmFormat, PrmError> {
    if let Some(hint) = ck.config.get("prm_format") {
        let name = hint.as_str().unwrap_or_default();
        return PrmFormat::parse(name).ok_or_else(|| ck.invalid_config(format!(
            "field `prm_format` is {hint}; it names one of: qwen-math-prm, value-head, math-shepherd, rlhflow"
        )));
    }
    if ck.has_tensor("score.0.weight") && ck.has_tensor("score.2.weight") {
        return Ok(PrmFormat::QwenMathPrm);
    }
    if ck.has_tensor("v_head.summary.weight") {
        return Ok(PrmFormat::ValueHead);
    }
    let model_type = ck.model_type()?;
    if matches!(model_type, "mistral" | "llama") {
        let tok = ck.tokenizer()?;
        if rlhflow::CHAT_TOKENS
            .iter()
            .all(|t| tok.token_to_id(t).is_some())
        {
            return Ok(PrmFormat::Rlhflow);
        }
        if math_shepherd::tokens(ck, &tok).is_ok() {
            return Ok(PrmFormat::MathShepherd);
        }
        return Err(ck.unsupported(format!(
            "a {model_type} causal LM whose tokenizer has neither Llama 3's chat tokens nor \
             Math-Shepherd's one-token `ки` step tag"
        )));
    }
    Err(ck.unsupported(format!(
        "architectures {} (model_type {model_type:?}) without a PRM head (no score.0/score.2 or \
         v_head.summary tensors)",
        ck.architectures()
    )))
}

/// Loads the PRM in `dir` onto `device` as a verifier. Its [`Verifier::name`] is
/// `<format>:<directory name>`.
pub fn load(dir: &Path, device: &Device) -> Result<Box<dyn Verifier + Send>, PrmError> {
    let ck = Checkpoint::open(dir)?;
    let prm = match detect_in(&ck)? {
        PrmFormat::QwenMathPrm => qwen_math::load(&ck, device)?,
        PrmFormat::ValueHead => value_head::load(&ck, device)?,
        PrmFormat::MathShepherd => math_shepherd::load(&ck, device)?,
        PrmFormat::Rlhflow => rlhflow::load(&ck, device)?,
    };
    Ok(Box::new(prm))
}

/// Turns a problem and its steps into the tokens a format reads and the positions it scores.
trait Layout: Send + Sync {
    /// The token ids and, per step, the position whose output scores it (increasing).
    fn build(&self, question: &str, steps: &[String]) -> Result<ScoringInput, PrmError>;
}

/// A classification head applied to the hidden states of the scored positions.
trait Head: Send + Sync {
    /// One score in [0, 1] per row of `hidden` (`[steps, hidden_size]`).
    fn scores(&self, hidden: &Tensor) -> candle_core::Result<Vec<f32>>;
}

/// How a format turns the model's hidden states into scores.
#[derive(Clone)]
enum Readout {
    /// A classification head on the hidden states (shared by twins).
    Head(std::sync::Arc<dyn Head>),
    /// The next-token probability of `good` against `bad` under the model's own head.
    Tokens { good: u32, bad: u32 },
}

/// A loaded PRM of any format.
///
/// It reads each token once per search: the transformer continues the longest prefix of the
/// input it has already read ([`PrefixScorer`]), and the score at every position it has read is
/// remembered by a hash of the tokens up to it. Asked about a partial solution one step longer
/// than one it has scored, it runs only the new step's tokens.
struct Prm {
    name: String,
    format: PrmFormat,
    layout: std::sync::Arc<dyn Layout>,
    scorer: PrefixScorer,
    readout: Readout,
    context: usize,
    /// Scores read so far, by the hash of the tokens up to the scored position.
    scores: HashMap<u64, f32>,
    /// The problem whose inputs the caches hold (`None` once a new search starts: the caches
    /// belong to one search, so each is charged what it reads).
    problem: Option<String>,
}

/// Hashes of every prefix of `ids`: entry `i` covers `ids[..=i]`.
fn prefix_hashes(ids: &[u32]) -> Vec<u64> {
    ids.iter()
        .scan(0u64, |h, &t| {
            *h = extend_hash(*h, t);
            Some(*h)
        })
        .collect()
}

impl Prm {
    fn new(
        ck: &Checkpoint,
        format: PrmFormat,
        layout: impl Layout + 'static,
        backbone: Backbone,
        readout: Readout,
    ) -> Self {
        Self {
            name: format!("{format}:{}", ck.dir_name()),
            format,
            layout: std::sync::Arc::new(layout),
            scorer: backbone.scorer,
            readout,
            context: backbone.context,
            scores: HashMap::new(),
            problem: None,
        }
    }

    /// Scores of the hidden states `hidden` (one row per scored position).
    fn read_out(&self, hidden: &Tensor) -> candle_core::Result<Vec<f32>> {
        match &self.readout {
            Readout::Head(head) => head.scores(hidden),
            Readout::Tokens { good, bad } => {
                let logits = self.scorer.logits(hidden)?;
                let g = logits.i((.., *good as usize))?.to_vec1::<f32>()?;
                let b = logits.i((.., *bad as usize))?.to_vec1::<f32>()?;
                Ok(g.iter()
                    .zip(&b)
                    .map(|(g, b)| 1.0 / (1.0 + (b - g).exp()))
                    .collect())
            }
        }
    }

    /// The input of one candidate, cut after its last scored position (later tokens cannot
    /// change a causal model's scores) and checked; `None` for a candidate without steps.
    fn prepare(&self, mut input: ScoringInput) -> Result<Option<ScoringInput>, PrmError> {
        let Some(&last) = input.positions.last() else {
            return Ok(None);
        };
        input.ids.truncate(last + 1);
        if input.ids.len() > self.context {
            return Err(PrmError::TooLong {
                format: self.format,
                tokens: input.ids.len(),
                context: self.context,
            });
        }
        if input.positions.windows(2).any(|w| w[0] >= w[1]) {
            return Err(PrmError::Codec(format!(
                "{}: scored positions {:?} are not increasing",
                self.format, input.positions
            )));
        }
        Ok(Some(input))
    }

    /// Reads out and remembers the scores of the positions of `input` at or after `reused`,
    /// from `hidden` (the hidden states of positions `reused..`).
    fn remember(
        &mut self,
        input: &ScoringInput,
        hashes: &[u64],
        reused: usize,
        hidden: &Tensor,
    ) -> Result<(), PrmError> {
        let fresh: Vec<usize> = input
            .positions
            .iter()
            .copied()
            .filter(|&p| p >= reused)
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let rows: Vec<u32> = fresh.iter().map(|&p| (p - reused) as u32).collect();
        let device = hidden.device().clone();
        let picked = hidden.index_select(&Tensor::new(rows, &device)?, 0)?;
        for (&p, x) in fresh.iter().zip(self.read_out(&picked)?) {
            self.scores.insert(hashes[p], x);
        }
        Ok(())
    }

    /// Scores several candidates: those whose every scored position was read before cost
    /// nothing; the rest run together, each distinct token once ([`PrefixScorer::run_many`]).
    /// Returns the scores and the tokens and FLOPs run.
    fn score_inputs(
        &mut self,
        inputs: Vec<Option<ScoringInput>>,
    ) -> Result<(Vec<Vec<f32>>, usize, f64), PrmError> {
        let hashes: Vec<Vec<u64>> = inputs
            .iter()
            .map(|i| i.as_ref().map_or_else(Vec::new, |i| prefix_hashes(&i.ids)))
            .collect();
        let pending: Vec<usize> = (0..inputs.len())
            .filter(|&k| {
                inputs[k].as_ref().is_some_and(|i| {
                    i.positions
                        .iter()
                        .any(|&p| !self.scores.contains_key(&hashes[k][p]))
                })
            })
            .collect();
        let (mut tokens, mut flops) = (0usize, 0f64);
        if !pending.is_empty() {
            let ids: Vec<&[u32]> = pending
                .iter()
                .filter_map(|&k| inputs[k].as_ref().map(|i| i.ids.as_slice()))
                .collect();
            let run = self.scorer.run_many(&ids)?;
            tokens += run.tokens;
            flops += run.flops;
            for (&k, ran) in pending.iter().zip(&run.rans) {
                let Some(input) = inputs[k].as_ref() else {
                    continue;
                };
                self.remember(input, &hashes[k], ran.reused, &ran.hidden)?;
                // A position before the reused prefix whose score was not kept: read it all
                // again, from nothing.
                if input
                    .positions
                    .iter()
                    .any(|&p| !self.scores.contains_key(&hashes[k][p]))
                {
                    let again = self.scorer.run(&input.ids, true)?;
                    tokens += input.ids.len();
                    flops += self.scorer.flops(0, input.ids.len());
                    self.remember(input, &hashes[k], 0, &again.hidden)?;
                }
            }
        }
        let scores = inputs
            .iter()
            .zip(&hashes)
            .map(|(input, h)| {
                input.as_ref().map_or_else(Vec::new, |i| {
                    i.positions
                        .iter()
                        .map(|&p| self.scores.get(&h[p]).copied().unwrap_or(f32::NAN))
                        .collect()
                })
            })
            .collect();
        Ok((scores, tokens, flops))
    }
}

impl Verifier for Prm {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        if self.problem.as_deref() != Some(problem.id.as_str()) {
            // What was read for other problems cannot be asked for again: free it.
            self.scorer.clear();
            self.scores.clear();
            self.problem = Some(problem.id.clone());
        }
        let mut inputs = Vec::with_capacity(solutions.len());
        for steps in solutions {
            let texts: Vec<String> = steps.iter().map(|s| s.text.clone()).collect();
            inputs.push(self.prepare(self.layout.build(&problem.question, &texts)?)?);
        }
        let (scores, tokens, flops) = self.score_inputs(inputs)?;
        meter.verifier_tokens += tokens as u64;
        meter.verifier_flops += flops;
        Ok(scores)
    }

    fn start_search(&mut self) {
        // The next call frees the caches, as for another problem.
        self.problem = None;
    }

    fn twin(&self) -> Option<Box<dyn Verifier + Send>> {
        Some(Box::new(Self {
            name: self.name.clone(),
            format: self.format,
            layout: self.layout.clone(),
            scorer: self.scorer.twin()?,
            readout: self.readout.clone(),
            context: self.context,
            scores: HashMap::new(),
            problem: None,
        }))
    }

    fn suspend(&mut self) -> Option<Box<dyn std::any::Any + Send>> {
        let mut cache = PrefixScorer::empty_cache();
        self.scorer.swap_cache(&mut cache);
        Some(Box::new(PrmState {
            cache,
            scores: std::mem::take(&mut self.scores),
            problem: self.problem.take(),
        }))
    }

    fn resume(&mut self, state: Box<dyn std::any::Any + Send>) {
        if let Ok(mut s) = state.downcast::<PrmState>() {
            self.scorer.swap_cache(&mut s.cache);
            self.scores = s.scores;
            self.problem = s.problem;
        }
    }
}

/// What a [`Prm`] has read for one search, set aside while another is scored.
struct PrmState {
    cache: PrefixCache,
    scores: HashMap<u64, f32>,
    problem: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;

    #[test]
    fn prm_format_names_round_trip() {
        for f in PrmFormat::ALL {
            assert_eq!(PrmFormat::parse(&f.to_string()), Some(f));
            assert!(SUPPORTED.contains(&f.to_string()));
        }
        assert_eq!(PrmFormat::parse("orm"), None);
    }

    #[test]
    fn prm_detects_each_format_and_refuses_a_plain_policy() {
        for (fmt, dir) in all_tiny_checkpoints() {
            assert_eq!(detect(dir.path()).unwrap(), fmt);
        }
        let toy = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/toy/policy");
        let err = detect(&toy).unwrap_err().to_string();
        assert!(err.contains("config.json"), "{err}");
        assert!(err.contains("Qwen2ForCausalLM"), "{err}");
        assert!(err.contains("supported: qwen-math-prm"), "{err}");
        assert!(load(&toy, &Device::Cpu).is_err());
    }

    #[test]
    fn prm_format_hint_wins_and_a_bad_hint_is_named() {
        let dir = write_value_head();
        edit_config(dir.path(), |c| c["prm_format"] = "qwen-math-prm".into());
        assert_eq!(detect(dir.path()).unwrap(), PrmFormat::QwenMathPrm);
        let err = load_error(dir.path());
        assert!(err.contains("the qwen-math-prm format needs"), "{err}");
        edit_config(dir.path(), |c| c["prm_format"] = "orm".into());
        let err = detect(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("prm_format") && err.contains("config.json"),
            "{err}"
        );
    }

    #[test]
    fn prm_format_hint_tells_math_shepherd_from_a_llama_chat_model() {
        let dir = write_rlhflow(false);
        edit_config(dir.path(), |c| c["prm_format"] = "math-shepherd".into());
        assert_eq!(detect(dir.path()).unwrap(), PrmFormat::MathShepherd);
        // The Llama 3 test tokenizer has no `ки`, so loading as Math-Shepherd names the tag.
        let err = load_error(dir.path());
        assert!(
            err.contains("ки") && err.contains("tokenizer.json"),
            "{err}"
        );
    }

    #[test]
    fn prm_missing_and_corrupt_files_are_named() {
        let err = detect(Path::new("/nonexistent/prm"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/prm/config.json"), "{err}");

        let dir = write_value_head();
        std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
        let err = detect(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors"), "{err}");

        let dir = write_value_head();
        std::fs::write(
            dir.path().join("model.safetensors"),
            b"not a safetensors file",
        )
        .unwrap();
        let err = load_error(dir.path());
        assert!(
            err.contains("model.safetensors") && err.contains("header"),
            "{err}"
        );

        let dir = write_value_head();
        std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
        let err = load_error(dir.path());
        assert!(err.contains("tokenizer.json"), "{err}");
    }

    #[test]
    fn prm_vocabulary_larger_than_the_embeddings_is_refused() {
        for (_, dir) in all_tiny_checkpoints() {
            edit_config(dir.path(), |c| c["vocab_size"] = 3.into());
            let err = load_error(dir.path());
            assert!(
                err.contains("tokenizer.json") && err.contains("does not fit"),
                "{err}"
            );
        }
    }

    #[test]
    fn prm_sequence_longer_than_the_context_is_refused() {
        for (fmt, dir) in all_tiny_checkpoints() {
            let mut prm = load_prm(dir.path());
            let long = problem(&"1".repeat(300));
            let err = prm
                .score(&long, &steps(), &mut ComputeMeter::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("context of 256 tokens"), "{fmt}: {err}");
        }
    }

    #[test]
    fn prm_names_say_format_and_directory_and_meter_counts_tokens() {
        for (fmt, dir) in all_tiny_checkpoints() {
            let mut prm = load_prm(dir.path());
            let dir_name = dir.path().file_name().unwrap().to_string_lossy();
            assert_eq!(prm.name(), format!("{fmt}:{dir_name}"));
            let mut meter = ComputeMeter::default();
            assert!(prm
                .score(&problem("2+3"), &[], &mut meter)
                .unwrap()
                .is_empty());
            assert_eq!(meter, ComputeMeter::default());
            let s = prm.score(&problem("2+3"), &steps(), &mut meter).unwrap();
            assert_eq!(s.len(), 3);
            assert!(s.iter().all(|x| (0.0..=1.0).contains(x)), "{fmt}: {s:?}");
            assert!(meter.verifier_tokens > 0 && meter.verifier_flops > 0.0);
            assert_eq!(meter.policy_tokens(), 0);
            // The KV caches are cleared: the same candidate scores the same again.
            let again = prm
                .score(&problem("2+3"), &steps(), &mut ComputeMeter::default())
                .unwrap();
            assert_eq!(s, again, "{fmt}");
        }
    }

    #[test]
    fn prm_reads_each_token_once_as_a_solution_grows_step_by_step() {
        for (fmt, dir) in all_tiny_checkpoints() {
            let p = problem(QUESTION);
            let all = steps();
            // Alone, from nothing: the reference scores and the tokens of the whole input.
            let mut fresh = load_prm(dir.path());
            let mut whole = ComputeMeter::default();
            let want = fresh.score(&p, &all, &mut whole).unwrap();
            // Step by step, as a search asks: each call one step longer.
            let mut prm = load_prm(dir.path());
            let mut grown = ComputeMeter::default();
            let mut got = Vec::new();
            for k in 1..=all.len() {
                got = prm.score(&p, &all[..k], &mut grown).unwrap();
                assert_eq!(got.len(), k);
            }
            assert_eq!(got.len(), want.len(), "{fmt}: {got:?} vs {want:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{fmt}: {got:?} vs {want:?}");
            }
            assert_eq!(grown.verifier_tokens, whole.verifier_tokens, "{fmt}");
            // Asked again: nothing runs.
            let mut again = ComputeMeter::default();
            let s = prm.score(&p, &all, &mut again).unwrap();
            assert_eq!(s, got, "{fmt}");
            assert_eq!(again.verifier_tokens, 0, "{fmt}");
            // Several partial solutions in one call share what they have in common.
            let mut batch = ComputeMeter::default();
            let mut other = load_prm(dir.path());
            let texts: Vec<Vec<StepText>> = (1..=all.len())
                .map(|k| all[..k].iter().map(|t| StepText::plain(t)).collect())
                .collect();
            let refs: Vec<&[StepText]> = texts.iter().map(Vec::as_slice).collect();
            let many = other.score_many(&p, &refs, &mut batch).unwrap();
            assert_eq!(many.last().unwrap().len(), all.len());
            assert_eq!(batch.verifier_tokens, whole.verifier_tokens, "{fmt}");
        }
    }

    #[test]
    fn prm_scores_sibling_candidates_in_one_batch_reading_shared_tokens_once() {
        for (fmt, dir) in all_tiny_checkpoints() {
            let p = problem(QUESTION);
            let first = steps()[0].clone();
            let a = vec![first.clone(), "5*2=10: 10".to_string()];
            let b = vec![first.clone(), "5*2=11: 11".to_string()];
            let c = vec!["2+3=6: 6*2".to_string()];
            // One after another on one PRM: each reads what the others have not.
            let mut seq = load_prm(dir.path());
            let mut one_by_one = ComputeMeter::default();
            let want: Vec<Vec<f32>> = [&a, &b, &c]
                .iter()
                .map(|s| seq.score(&p, s, &mut one_by_one).unwrap())
                .collect();
            // All three in one call.
            let mut batched = load_prm(dir.path());
            let mut together = ComputeMeter::default();
            let texts: Vec<Vec<StepText>> = [&a, &b, &c]
                .iter()
                .map(|s| s.iter().map(|t| StepText::plain(t)).collect())
                .collect();
            let refs: Vec<&[StepText]> = texts.iter().map(Vec::as_slice).collect();
            let got = batched.score_many(&p, &refs, &mut together).unwrap();
            // Candidate by candidate and step by step: flattened, a missing candidate or
            // step would shift the rest instead of failing.
            let shape = |s: &[Vec<f32>]| s.iter().map(Vec::len).collect::<Vec<_>>();
            assert_eq!(shape(&got), shape(&want), "{fmt}: {got:?} vs {want:?}");
            for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                assert!((g - w).abs() < 1e-5, "{fmt}: {got:?} vs {want:?}");
            }
            assert_eq!(
                together.verifier_tokens, one_by_one.verifier_tokens,
                "{fmt}"
            );
            assert!(
                (together.verifier_flops - one_by_one.verifier_flops).abs() < 1.0,
                "{fmt}"
            );
        }
    }
}
