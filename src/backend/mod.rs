//! Where generations come from. Today: the local engine ([`LocalPolicy`]). A remote
//! OpenAI-compatible server backend will sit beside it behind the same [`Policy`] trait.

use crate::data::Problem;
use crate::engine::train::toy_prompt;
use crate::engine::{CausalLm, ComputeMeter, Generation, SamplingParams};
use crate::search::Policy;
use std::path::{Path, PathBuf};

/// The toy policy committed with the repository, relative to the crate root.
pub const DEFAULT_POLICY: &str = "models/toy/policy";

/// Resolves the default policy directory: beside the working directory, else beside the
/// crate's source (for `cargo run` from elsewhere).
pub fn default_policy_dir() -> PathBuf {
    let local = PathBuf::from(DEFAULT_POLICY);
    if local.join("config.json").exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_POLICY)
}

/// A model run in this process by the engine. Prompts are raw: the beginning-of-sequence token,
/// the question, a newline, then the solution so far.
pub struct LocalPolicy {
    lm: CausalLm,
}

impl LocalPolicy {
    /// Loads a model directory on `device`.
    pub fn load(dir: &Path, device: &candle_core::Device) -> anyhow::Result<Self> {
        Ok(Self {
            lm: CausalLm::load(dir, device)?,
        })
    }

    /// The loaded model.
    pub fn model(&self) -> &CausalLm {
        &self.lm
    }

    /// The loaded model, for scoring.
    pub fn model_mut(&mut self) -> &mut CausalLm {
        &mut self.lm
    }

    /// The prompt's token ids for `problem` continued after `prefix`.
    pub fn prompt_ids(&self, problem: &Problem, prefix: &str) -> anyhow::Result<Vec<u32>> {
        let tok = &self.lm.tokenizer;
        let mut ids: Vec<u32> = tok.bos_id.filter(|_| tok.add_bos).into_iter().collect();
        ids.extend(tok.encode(&(toy_prompt(&problem.question) + prefix))?);
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
        self.lm
            .generate(&ids, n, params, seed, meter)
            .map_err(|e| anyhow::anyhow!("{}: problem {}: {e}", self.lm.dir.display(), problem.id))
    }
}
