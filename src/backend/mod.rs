//! Where generations come from: the [`Policy`] trait and its implementations: the local
//! engine ([`LocalPolicy`]) and an inference server ([`remote::RemotePolicy`]: llama.cpp's
//! server, or an OpenAI-compatible one such as vLLM or SGLang).
//!
//! A policy continues many partial solutions of one problem at once ([`Policy::extend`]): each
//! [`Extend`] names a prefix (its text, and the policy's own token ids where the policy sampled
//! it, so nothing is tokenised again), how many continuations to draw and their seed, and one
//! call continues them all by one step, by k steps, or to the end of the solution ([`Until`]).
//! For the local engine one call is one batched decode in which every shared prefix runs once.

use crate::data::Problem;
use crate::engine::chat::{checked_template, toy_prompt, ChatTemplate};
use crate::engine::{
    CancelToken, CausalLm, ComputeMeter, GenGroup, GenRequest, Generation, ModelError,
    PromptFormat, SamplingParams, StopAt,
};
use std::path::Path;

pub mod remote;
#[cfg(test)]
pub mod scripted;

pub use remote::{remote_url, RemoteOptions, RemotePolicy};

/// A partial solution to continue: its text (the steps so far, each followed by the step
/// delimiter; empty at the root) and, where this policy sampled it, the token ids it sampled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prefix {
    /// The solution so far.
    pub text: String,
    /// The policy's token ids of `text`, or empty where unknown (the policy then tokenises
    /// `text`).
    pub ids: Vec<u32>,
}

impl Prefix {
    /// The empty solution: continuations start at the first step.
    pub fn root() -> Self {
        Self::default()
    }

    /// This prefix followed by a continuation's text and tokens.
    pub fn then(&self, g: &Generation) -> Self {
        let mut ids = self.ids.clone();
        ids.extend(&g.tokens);
        Self {
            text: self.text.clone() + &g.text,
            ids,
        }
    }
}

/// One prefix to continue `n` times. Continuation `i` draws from a generator seeded by
/// `(seed, i)`: it depends on neither the other requests nor how they are batched.
#[derive(Debug, Clone, Copy)]
pub struct Extend<'a> {
    /// The partial solution.
    pub prefix: &'a Prefix,
    /// Continuations wanted.
    pub n: usize,
    /// Seed of the continuations' generators.
    pub seed: u64,
    /// Most tokens per continuation where fewer than the sampling parameters allow (what the
    /// partial solution has left of its token limit).
    pub max_tokens: Option<usize>,
}

impl<'a> Extend<'a> {
    /// `n` continuations of `prefix` seeded `seed`, within the sampling token limit.
    pub fn new(prefix: &'a Prefix, n: usize, seed: u64) -> Self {
        Self {
            prefix,
            n,
            seed,
            max_tokens: None,
        }
    }
}

/// How far to continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// One step (up to and including the next step delimiter).
    Step,
    /// `k` steps.
    Steps(usize),
    /// The end of the solution.
    End,
}

impl Until {
    /// Where the engine stops, with steps ending at `delimiter`.
    pub fn stop_at(self, delimiter: &str) -> StopAt {
        match self {
            Self::Step => StopAt::steps(delimiter, 1),
            Self::Steps(k) => StopAt::steps(delimiter, k),
            Self::End => StopAt::end(delimiter),
        }
    }
}

/// One search's [`Policy::extend`] call in a call shared by several searches
/// ([`Policy::extend_many`]).
#[derive(Debug, Clone, Copy)]
pub struct ExtendCall<'a> {
    /// The search it belongs to: what keeps its prefix cache apart from the others'.
    pub search: u64,
    /// The problem.
    pub problem: &'a Problem,
    /// The prefixes to continue.
    pub requests: &'a [Extend<'a>],
    /// How far.
    pub until: Until,
}

/// Samples continuations of partial solutions.
pub trait Policy {
    /// A short name for records and the window.
    fn name(&self) -> String;

    /// The model's parameter count, where known (for FLOPs and the FLOPs exchange).
    fn params(&self) -> Option<u64>;

    /// Continues every request's prefix `n` times, `until` one step, k steps or the end, with
    /// steps ending at `delimiter`; returns the continuations per request, in order. Each
    /// [`Generation`] holds its text, token ids and their log-probabilities, whether the model
    /// ended the solution, and where its steps end. Cancelling stops the call within one
    /// forward pass with [`crate::engine::Cancelled`] in the error chain.
    #[allow(clippy::too_many_arguments)]
    fn extend(
        &mut self,
        problem: &Problem,
        requests: &[Extend<'_>],
        until: Until,
        delimiter: &str,
        sampling: &SamplingParams,
        meter: &mut ComputeMeter,
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<Vec<Generation>>>;

    /// A new search begins: forget what earlier searches ran, so that what this one is
    /// charged (prompt tokens, cached and recomputed tokens, FLOPs) is what it costs alone,
    /// whatever ran before it. Samples never depend on it. Policies that keep nothing between
    /// calls need not implement it.
    fn start_search(&mut self) {}

    /// Several searches' calls at once, with one delimiter and one sampling, each charged to
    /// `meters` at its index exactly what it would be charged alone, and each continuing only
    /// what its own search ran ([`ExtendCall::search`]; see [`Self::forget_search`]). The
    /// local engine decodes them side by side in shared forward passes; the default runs them
    /// one after another (a server batches concurrent requests itself).
    fn extend_many(
        &mut self,
        calls: &[ExtendCall<'_>],
        delimiter: &str,
        sampling: &SamplingParams,
        meters: &mut [&mut ComputeMeter],
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<Vec<Vec<Generation>>>> {
        calls
            .iter()
            .zip(meters.iter_mut())
            .map(|(c, m)| {
                self.extend(
                    c.problem, c.requests, c.until, delimiter, sampling, m, cancel,
                )
            })
            .collect()
    }

    /// What search `search` of [`Self::extend_many`] ran is forgotten: it begins anew, or has
    /// ended. Policies that keep nothing between calls need not implement it.
    fn forget_search(&mut self, _search: u64) {}

    /// A handle on this policy that another thread can call while this one is called, sharing
    /// its limits (a server's requests in flight) and nothing of its searches; `None` where
    /// calls must go through this one (the local engine decodes searches side by side in one
    /// call). Problems in parallel give each search a handle of its own where there is one, so
    /// a server hears every search's requests as soon as it makes them.
    fn detach(&self) -> Option<Box<dyn Policy + Send>> {
        None
    }

    /// Another engine on the same weights with caches of its own, to call from another
    /// thread while this one is called: where one engine per core, each working alone
    /// ([`crate::engine::qmatmul::alone`]), runs faster than one engine on all cores (a small
    /// dense model on the CPU). Problems in parallel then search in groups, one per core,
    /// each group's calls shared as one engine's. `None` for every other policy.
    fn twin(&self) -> Option<Box<dyn Policy + Send>> {
        None
    }

    /// Tokens the model's context has left after the prompt of `problem` continued by the text
    /// `prefix`, where this policy knows it (`None`: unknown, as for a server). Sequential
    /// revisions use it to keep only the earlier attempts that leave room for a new one.
    fn room_after(&mut self, problem: &Problem, prefix: &str) -> anyhow::Result<Option<usize>> {
        let _ = (problem, prefix);
        Ok(None)
    }

    /// Convenience over [`Self::extend`]: `n` whole solutions continuing the text `prefix`,
    /// steps ending at newlines.
    fn generate(
        &mut self,
        problem: &Problem,
        prefix: &str,
        n: usize,
        sampling: &SamplingParams,
        seed: u64,
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Generation>> {
        let prefix = Prefix {
            text: prefix.to_string(),
            ids: Vec::new(),
        };
        let mut out = self.extend(
            problem,
            &[Extend::new(&prefix, n, seed)],
            Until::End,
            "\n",
            sampling,
            meter,
            &CancelToken::new(),
        )?;
        Ok(out.pop().unwrap_or_default())
    }
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
                checked_template(
                    src,
                    &text(lm.tokenizer.bos_id),
                    &text(Some(lm.tokenizer.eos_id)),
                    lm.context(),
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

    /// The engine's failure on `what` (a cancellation stays one, to be found in the chain).
    fn failed(&self, e: ModelError, what: &str) -> anyhow::Error {
        match e {
            ModelError::Cancelled(c) => anyhow::Error::new(c),
            e => anyhow::anyhow!("{}: {what}: {e}", self.lm.dir.display()),
        }
    }

    /// The engine scope of search `search` of [`Policy::extend_many`] (scope 0 is
    /// [`Policy::extend`]'s, one search at a time).
    fn scope(search: u64) -> u64 {
        search.wrapping_add(1).max(1)
    }

    /// The token ids of every request's prompt and prefix. The prompt is tokenised once per
    /// call; a sampled prefix is never tokenised again.
    fn prompts(&self, problem: &Problem, requests: &[Extend<'_>]) -> anyhow::Result<Vec<Vec<u32>>> {
        let prompt = self.prompt_ids(problem, "")?;
        let mut prompts = Vec::with_capacity(requests.len());
        for r in requests {
            prompts.push(if r.prefix.ids.is_empty() && !r.prefix.text.is_empty() {
                self.prompt_ids(problem, &r.prefix.text)?
            } else {
                let mut ids = prompt.clone();
                ids.extend(&r.prefix.ids);
                ids
            });
        }
        Ok(prompts)
    }

    /// The engine's requests for `requests` with their prompts' ids.
    fn requests<'a>(requests: &[Extend<'_>], prompts: &'a [Vec<u32>]) -> Vec<GenRequest<'a>> {
        requests
            .iter()
            .zip(prompts)
            .map(|(r, p)| GenRequest {
                prompt: p,
                n: r.n,
                seed: r.seed,
                max_tokens: r.max_tokens,
            })
            .collect()
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

    fn params(&self) -> Option<u64> {
        Some(self.lm.params)
    }

    fn start_search(&mut self) {
        // The next call clears the prefix cache and the recomputation counter, as for
        // another problem.
        self.cached_problem = None;
    }

    fn room_after(&mut self, problem: &Problem, prefix: &str) -> anyhow::Result<Option<usize>> {
        let used = self.prompt_ids(problem, prefix)?.len();
        Ok(Some(self.lm.context().saturating_sub(used)))
    }

    fn forget_search(&mut self, search: u64) {
        self.lm.clear_scope(Self::scope(search));
    }

    fn twin(&self) -> Option<Box<dyn Policy + Send>> {
        Some(Box::new(Self {
            lm: self.lm.twin()?,
            chat: self.chat.clone(),
            cached_problem: None,
        }))
    }

    fn extend_many(
        &mut self,
        calls: &[ExtendCall<'_>],
        delimiter: &str,
        sampling: &SamplingParams,
        meters: &mut [&mut ComputeMeter],
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<Vec<Vec<Generation>>>> {
        let mut prompts = Vec::with_capacity(calls.len());
        for c in calls {
            prompts.push(self.prompts(c.problem, c.requests)?);
        }
        let gens: Vec<Vec<GenRequest>> = calls
            .iter()
            .zip(&prompts)
            .map(|(c, p)| Self::requests(c.requests, p))
            .collect();
        let groups: Vec<GenGroup> = calls
            .iter()
            .zip(&gens)
            .map(|(c, g)| GenGroup {
                requests: g,
                stop: c.until.stop_at(delimiter),
                scope: Self::scope(c.search),
            })
            .collect();
        self.lm
            .generate_groups(&groups, sampling, meters, cancel)
            .map_err(|e| {
                let ids: Vec<&str> = calls.iter().map(|c| c.problem.id.as_str()).collect();
                self.failed(e, &format!("problems {}", ids.join(", ")))
            })
    }

    fn extend(
        &mut self,
        problem: &Problem,
        requests: &[Extend<'_>],
        until: Until,
        delimiter: &str,
        sampling: &SamplingParams,
        meter: &mut ComputeMeter,
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<Vec<Generation>>> {
        if self.cached_problem.as_deref() != Some(problem.id.as_str()) {
            self.lm.clear_prefix_cache();
            self.cached_problem = Some(problem.id.clone());
        }
        let prompts = self.prompts(problem, requests)?;
        let gen = Self::requests(requests, &prompts);
        let stop = until.stop_at(delimiter);
        self.lm
            .generate_steps(&gen, sampling, &stop, meter, cancel)
            .map_err(|e| self.failed(e, &format!("problem {}", problem.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::toy;
    use crate::engine::default_policy_dir;
    use candle_core::Device;

    /// Equal tokens, text, ends and steps; log-probabilities equal up to float rounding (a
    /// batch sums in another order than a row alone).
    fn same(a: &[Generation], b: &[Generation]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                (&x.tokens, &x.text, x.ended, &x.step_ends),
                (&y.tokens, &y.text, y.ended, &y.step_ends)
            );
            assert_eq!(x.logprobs.len(), y.logprobs.len());
            for (p, q) in x.logprobs.iter().zip(&y.logprobs) {
                assert!((p - q).abs() < 1e-4, "{p} vs {q}");
            }
        }
    }

    #[test]
    fn batched_extend_equals_the_same_requests_one_at_a_time() {
        let p = toy::problem("t".into(), 3, "(3+4)*12-5".into(), 79);
        let sampling = SamplingParams::default();
        let mut policy = LocalPolicy::load(&default_policy_dir(), &Device::Cpu).unwrap();
        let mut meter = ComputeMeter::default();
        let cancel = CancelToken::new();
        let first = policy
            .extend(
                &p,
                &[Extend::new(&Prefix::root(), 3, 1)],
                Until::Step,
                "\n",
                &sampling,
                &mut meter,
                &cancel,
            )
            .unwrap()
            .remove(0);
        assert!(first
            .iter()
            .all(|g| g.step_ends.len() == 1 && g.text.ends_with('\n')));
        let prefixes: Vec<Prefix> = first.iter().map(|g| Prefix::root().then(g)).collect();
        let requests: Vec<Extend> = prefixes
            .iter()
            .enumerate()
            .map(|(i, prefix)| Extend::new(prefix, 2, 10 + i as u64))
            .collect();
        let before = meter;
        let together = policy
            .extend(
                &p,
                &requests,
                Until::Steps(2),
                "\n",
                &sampling,
                &mut meter,
                &cancel,
            )
            .unwrap();
        // The sampled prefixes were cached when their step ended: none runs again.
        assert_eq!(meter.recomputed_tokens, 0);
        assert!(meter.prompt_tokens - before.prompt_tokens <= prefixes.len() as u64);
        assert_eq!(together.len(), requests.len());
        for (r, batch) in requests.iter().zip(&together) {
            let mut fresh = LocalPolicy::load(&default_policy_dir(), &Device::Cpu).unwrap();
            let alone = fresh
                .extend(
                    &p,
                    std::slice::from_ref(r),
                    Until::Steps(2),
                    "\n",
                    &sampling,
                    &mut ComputeMeter::default(),
                    &cancel,
                )
                .unwrap()
                .remove(0);
            same(&alone, batch);
            // Text prefixes tokenise to the same ids on the toy model's character vocabulary.
            let by_text = Prefix {
                text: r.prefix.text.clone(),
                ids: Vec::new(),
            };
            let again = fresh
                .extend(
                    &p,
                    &[Extend {
                        prefix: &by_text,
                        ..*r
                    }],
                    Until::Steps(2),
                    "\n",
                    &sampling,
                    &mut ComputeMeter::default(),
                    &cancel,
                )
                .unwrap()
                .remove(0);
            same(&again, batch);
            for g in batch {
                assert!(g.ended || g.step_ends.len() <= 2, "{g:?}");
            }
        }
    }

    #[test]
    fn a_cancelled_extend_stops_with_cancelled() {
        let p = toy::problem("t".into(), 5, "(3+4)*12-5*2+7".into(), 76);
        let mut policy = LocalPolicy::load(&default_policy_dir(), &Device::Cpu).unwrap();
        let cancel = CancelToken::new();
        cancel.cancel();
        let err = policy
            .extend(
                &p,
                &[Extend::new(&Prefix::root(), 4, 0)],
                Until::End,
                "\n",
                &SamplingParams::default(),
                &mut ComputeMeter::default(),
                &cancel,
            )
            .unwrap_err();
        assert!(err.is::<crate::engine::Cancelled>(), "{err:#}");
    }

    #[test]
    fn cancelling_during_a_long_decode_stops_it_before_the_end() {
        // 128 rows of 480 tokens (end-of-sequence ignored; two batches of 64): seconds of work. Cancelled from
        // another thread once decoding has begun, the call must come back Cancelled, not with
        // the whole batch. (No timing is asserted: only that the call did not run to the end.)
        let p = toy::problem("t".into(), 5, "(3+4)*12-5*2+7".into(), 76);
        let mut policy = LocalPolicy::load(&default_policy_dir(), &Device::Cpu).unwrap();
        let cancel = CancelToken::new();
        let remote = cancel.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            remote.cancel();
        });
        let mut meter = ComputeMeter::default();
        let sampling = SamplingParams {
            max_tokens: 480,
            ignore_eos: true,
            ..Default::default()
        };
        let err = policy
            .extend(
                &p,
                &[Extend::new(&Prefix::root(), 128, 0)],
                Until::End,
                "\n",
                &sampling,
                &mut meter,
                &cancel,
            )
            .unwrap_err();
        stopper.join().unwrap();
        assert!(err.is::<crate::engine::Cancelled>(), "{err:#}");
        assert!(
            meter.generated_tokens < 128 * 480,
            "{}",
            meter.generated_tokens
        );
    }
}
