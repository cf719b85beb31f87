//! Where generations come from. Today: the local engine ([`LocalPolicy`]). A remote
//! OpenAI-compatible server backend will sit beside it behind the same [`Policy`] trait.

use crate::data::Problem;
use crate::engine::chat::ChatTemplate;
use crate::engine::train::toy_prompt;
use crate::engine::{CausalLm, ComputeMeter, Generation, PromptFormat, SamplingParams};
use crate::search::Policy;
use std::path::{Path, PathBuf};

/// The toy policy committed with the repository, relative to the crate root.
pub const DEFAULT_POLICY: &str = "models/toy/policy";

/// Resolves the default policy directory (see [`beside_crate`]).
pub fn default_policy_dir() -> PathBuf {
    beside_crate(DEFAULT_POLICY)
}

/// Resolves a committed model directory given relative to the crate root: beside the working
/// directory if it is there, else beside the crate's source.
pub fn beside_crate(relative: &str) -> PathBuf {
    let local = PathBuf::from(relative);
    if local.join("config.json").exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A model run in this process by the engine, with its prompt format
/// ([`PromptFormat`]): raw (the beginning-of-sequence token where the model starts prompts
/// with it, the question, a newline, then the solution so far) or the model's chat template.
///
/// The engine's prefix cache is emptied when a new problem starts: within a problem every
/// prompt and step shares what ran before, and a problem's samples never depend on which
/// problems ran before it (with quantized weights, logits depend slightly on how a sequence
/// was split into forward passes, so a cache left over from other problems could change them).
pub struct LocalPolicy {
    lm: CausalLm,
    /// The compiled chat template where prompts are chat prompts.
    chat: Option<ChatTemplate>,
    /// The problem the prefix cache holds sequences of.
    cached_problem: Option<String>,
}

impl LocalPolicy {
    /// Loads a model (directory, GGUF file or cached repo id) on `device`, with the prompt
    /// format `auto`: the chat template where the model has one, else raw.
    pub fn load(dir: &Path, device: &candle_core::Device) -> anyhow::Result<Self> {
        Self::load_with(dir, device, PromptFormat::Auto, candle_core::DType::F32)
    }

    /// Loads a model with the given prompt format, dense weights as `dtype`.
    pub fn load_with(
        dir: &Path,
        device: &candle_core::Device,
        format: PromptFormat,
        dtype: candle_core::DType,
    ) -> anyhow::Result<Self> {
        let lm = CausalLm::load_as(dir, device, dtype)?;
        let source = match (format, &lm.shape.chat_template) {
            (PromptFormat::Raw, _) | (PromptFormat::Auto, None) => None,
            (_, Some(t)) => Some(t.as_str()),
            (PromptFormat::Chat, None) => anyhow::bail!(
                "{} has no chat template (no tokenizer.chat_template, tokenizer_config.json \
                 chat_template or chat_template.jinja); use --prompt raw",
                lm.dir.display()
            ),
        };
        let chat = source
            .map(|src| {
                let text =
                    |id: Option<u32>| id.and_then(|i| lm.tokenizer.token(i)).unwrap_or_default();
                ChatTemplate::new(
                    src,
                    &text(lm.tokenizer.bos_id),
                    &text(Some(lm.tokenizer.eos_id)),
                )
                .map_err(|e| anyhow::anyhow!("{}: {e}; use --prompt raw", lm.dir.display()))
            })
            .transpose()?;
        Ok(Self {
            lm,
            chat,
            cached_problem: None,
        })
    }

    /// The prompt format in use: raw or chat (auto resolved).
    pub fn prompt_format(&self) -> PromptFormat {
        if self.chat.is_some() {
            PromptFormat::Chat
        } else {
            PromptFormat::Raw
        }
    }

    /// The loaded model.
    pub fn model(&self) -> &CausalLm {
        &self.lm
    }

    /// The loaded model, for scoring.
    pub fn model_mut(&mut self) -> &mut CausalLm {
        &mut self.lm
    }

    /// The prompt text for `problem` continued after `prefix`, without the raw format's
    /// beginning-of-sequence token (a chat template writes its own).
    pub fn prompt_text(&self, problem: &Problem, prefix: &str) -> anyhow::Result<String> {
        Ok(match &self.chat {
            Some(t) => {
                t.prompt(&problem.question)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", self.lm.dir.display()))?
                    + prefix
            }
            None => toy_prompt(&problem.question) + prefix,
        })
    }

    /// The prompt's token ids for `problem` continued after `prefix`. The beginning-of-sequence
    /// token leads where the model starts prompts with it, once (a chat template may already
    /// have written it).
    pub fn prompt_ids(&self, problem: &Problem, prefix: &str) -> anyhow::Result<Vec<u32>> {
        let tok = &self.lm.tokenizer;
        let text = tok.encode(&self.prompt_text(problem, prefix)?)?;
        let bos = tok.bos_id.filter(|_| tok.add_bos);
        let mut ids: Vec<u32> = bos
            .filter(|b| text.first() != Some(b))
            .into_iter()
            .collect();
        ids.extend(text);
        Ok(ids)
    }
}

impl Policy for LocalPolicy {
    fn name(&self) -> String {
        self.lm.dir.display().to_string()
    }

    fn generate(
        &mut self,
        problem: &Problem,
        prefix: &str,
        n: usize,
        params: &SamplingParams,
        seed: u64,
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Generation>> {
        let ids = self.prompt_ids(problem, prefix)?;
        if self.cached_problem.as_deref() != Some(problem.id.as_str()) {
            self.lm.clear_prefix_cache();
            self.cached_problem = Some(problem.id.clone());
        }
        self.lm
            .generate(&ids, n, params, seed, meter)
            .map_err(|e| anyhow::anyhow!("{}: problem {}: {e}", self.lm.dir.display(), problem.id))
    }
}
