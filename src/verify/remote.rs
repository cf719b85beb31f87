//! Process reward models on inference servers: `--verifier remote:http://HOST:PORT,format=F`.
//!
//! The same PRM formats the local adapters read ([`super::prm`]), served by someone else:
//!
//! | format | server | request | score of step k |
//! |---|---|---|---|
//! | `qwen-math-prm` | vLLM's pooling runner (`vllm serve Qwen/Qwen2.5-Math-PRM-7B`) | `POST /pooling` with the whole text | class 1 of the 2-class probabilities vLLM returns at the k-th `<extra_0>` |
//! | `math-shepherd` | any completions server (llama.cpp, vLLM, SGLang) | one-token completion of the text up to step k's ` ки` | P(`+`) / (P(`+`) + P(`-`)) of the next token |
//! | `rlhflow` | any completions server | one-token completion of the chat up to the assistant header answering step k | P(`+`) / (P(`+`) + P(`-`)) of the next token |
//!
//! The texts are the local adapters' own layouts ([`super::prm::math_shepherd::pieces`],
//! [`super::prm::rlhflow::pieces`] with the Llama 3.1 system block that RLHFlow's published
//! Llama3.1-8B PRMs use, [`super::prm::qwen_math::pieces`]); the server adds the
//! beginning-of-sequence token as its tokenizer says. The ids of `+` and `-` come from the
//! server's own `/tokenize`, as the local adapters take them from `tokenizer.json`
//! (Math-Shepherd: the two ids of `"+ -"`; RLHFlow: the last id of `"+"` and of `"-"`); a
//! server without `/tokenize` is matched by token text. On llama.cpp both signs get the same
//! large logit bias and the probabilities are read after it (`post_sampling_probs`), so they
//! are always listed and their ratio is exact. Other servers list at most [`TOP_LOGPROBS`] of
//! the model's own next tokens (vLLM reports log-probabilities before any bias): when one of
//! `+`/`-` is not among them, its probability is taken as the least listed one (an upper
//! bound); when neither is, the server's model is not a PRM of that format and the error says
//! so.
//!
//! Scores are remembered per problem by the text up to each step's tag, so a search that asks
//! again about a partial solution one step longer sends one request for the new step (and one
//! `/pooling` request per changed candidate). Requests run `concurrency` at a time. The meter
//! counts the prompt tokens the server ran (not those it took from its cache) and the tokens it
//! generated; FLOPs are 2·P per token, with P from the server (llama.cpp) or `params=`.

use super::prm::input::Piece;
use super::prm::{math_shepherd, qwen_math, rlhflow, PrmFormat};
use super::{StepText, Verifier};
use crate::backend::remote::{
    in_parallel, probe_with, prompt_counts, Capabilities, Client, Dialect, Gate, RemoteOptions,
};
use crate::data::Problem;
use crate::engine::{CancelToken, ComputeMeter};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// How many next-token log-probabilities a completions request asks for (vLLM's default
/// `--max-logprobs`).
pub const TOP_LOGPROBS: usize = 20;

/// The logit bias that lifts `+` and `-` above every other token on llama.cpp, where the
/// probabilities can be read after the bias (`post_sampling_probs`): equal for both, so their
/// ratio is the model's.
const SIGN_BIAS: f64 = 100.0;

/// The prefix of a remote verifier's name.
pub const SCHEME: &str = "remote:";

/// Where a remote PRM is served and in which format; saved in run configurations (never an API
/// key, only the name of the variable holding it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteVerifierSpec {
    /// The server's base URL.
    pub url: String,
    /// The PRM's format: `qwen-math-prm`, `math-shepherd` or `rlhflow`.
    pub format: String,
    /// The served model to ask for; the server's only model where it serves one.
    #[serde(default)]
    pub model: Option<String>,
    /// The PRM's parameter count, for FLOPs where the server does not report it.
    #[serde(default)]
    pub params: Option<u64>,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// The environment variable holding the API key.
    #[serde(default = "default_key_env")]
    pub api_key_env: String,
}

fn default_concurrency() -> usize {
    RemoteOptions::default().concurrency
}

fn default_key_env() -> String {
    RemoteOptions::default().api_key_env
}

/// The options `remote:URL,...` takes after the URL.
pub const KEYS: [&str; 5] = [
    "format=",
    "model=",
    "params=",
    "concurrency=",
    "api-key-env=",
];

impl RemoteVerifierSpec {
    /// Parses `remote:URL,format=F[,model=M][,params=P][,concurrency=C][,api-key-env=V]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("a remote verifier starts with {SCHEME}, got `{s}`"))?;
        let mut parts = rest.split(',').map(str::trim);
        let url = parts.next().unwrap_or_default().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "a remote verifier is remote:http://HOST:PORT,format=FORMAT (or https), got `{s}`"
            ));
        }
        let mut spec = Self {
            url: url.to_string(),
            format: String::new(),
            model: None,
            params: None,
            concurrency: default_concurrency(),
            api_key_env: default_key_env(),
        };
        for part in parts.filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let number = |what: &str| {
                value.parse::<u64>().map_err(|_| {
                    format!("remote verifier `{s}`: {what} must be a whole number, got `{value}`")
                })
            };
            match key {
                "format" => spec.format = value.to_string(),
                "model" => spec.model = Some(value.to_string()),
                "params" => spec.params = Some(number("params")?),
                "concurrency" => spec.concurrency = number("concurrency")? as usize,
                "api-key-env" => spec.api_key_env = value.to_string(),
                _ => {
                    return Err(format!(
                        "remote verifier `{s}`: unknown option `{part}`; the options are {}",
                        KEYS.map(|k| format!("{k}…")).join(", ")
                    ))
                }
            }
        }
        spec.prm_format()?;
        if spec.concurrency == 0 {
            return Err(format!(
                "remote verifier `{s}`: concurrency must be at least 1"
            ));
        }
        Ok(spec)
    }

    /// The format, checked: one a server can serve.
    pub fn prm_format(&self) -> Result<PrmFormat, String> {
        let remote =
            "qwen-math-prm (vLLM /pooling), math-shepherd, rlhflow (any completions server)";
        match PrmFormat::parse(&self.format) {
            _ if self.format.is_empty() => Err(format!(
                "remote verifier {}: name its format with ,format=F: one of {remote}",
                self.url
            )),
            Some(PrmFormat::ValueHead) => Err(format!(
                "remote verifier {}: the value-head format (Skywork PRM) has no server API that \
                 returns its head's value per step; load it locally, or serve one of {remote}",
                self.url
            )),
            Some(f) => Ok(f),
            None => Err(format!(
                "remote verifier {}: unknown format `{}`; one of {remote}",
                self.url, self.format
            )),
        }
    }

    fn options(&self) -> RemoteOptions {
        RemoteOptions {
            model: self.model.clone(),
            concurrency: self.concurrency,
            api_key_env: self.api_key_env.clone(),
            params: self.params,
            ..RemoteOptions::default()
        }
    }
}

impl std::fmt::Display for RemoteVerifierSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{},format={}", self.url, self.format)?;
        if let Some(m) = &self.model {
            write!(f, ",model={m}")?;
        }
        if let Some(p) = self.params {
            write!(f, ",params={p}")?;
        }
        if self.concurrency != default_concurrency() {
            write!(f, ",concurrency={}", self.concurrency)?;
        }
        if self.api_key_env != default_key_env() {
            write!(f, ",api-key-env={}", self.api_key_env)?;
        }
        Ok(())
    }
}

/// How the server is asked.
#[derive(Debug, Clone)]
enum Mode {
    /// vLLM's `/pooling`: per-tag class probabilities of the whole text.
    Pooling,
    /// A one-token completion: the next token's `+` against `-`.
    NextToken {
        /// The ids of `+` and `-`, from the server's `/tokenize`; `None`: matched by text.
        ids: Option<(u32, u32)>,
        /// Whether the prompt ends with the tag (Math-Shepherd) or just before it (RLHFlow).
        tag_in_prompt: bool,
    },
}

/// A PRM on a server. See the module documentation.
pub struct RemoteVerifier {
    spec: RemoteVerifierSpec,
    format: PrmFormat,
    client: Client,
    caps: Capabilities,
    mode: Mode,
    /// Scores read for the current problem, by the hash of the text up to the step's tag.
    scores: HashMap<u64, f32>,
    problem: Option<String>,
    /// The requests in flight, shared with every [`Verifier::detach`]ed handle.
    gate: Arc<Gate>,
}

/// What one request gave: scores by text hash, and its cost.
struct Scored {
    scores: Vec<(u64, f32)>,
    tokens: u64,
}

fn text_hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl RemoteVerifier {
    /// Connects to the server, probes it and, for the completions formats, reads the ids of
    /// `+` and `-` from its tokenizer.
    pub fn connect(spec: &RemoteVerifierSpec) -> anyhow::Result<Self> {
        let format = spec.prm_format().map_err(anyhow::Error::msg)?;
        let options = spec.options();
        let client = Client::new(&spec.url, &options);
        let caps = probe_with(&client, &options)?;
        let mode = match format {
            PrmFormat::QwenMathPrm => {
                if caps.dialect == Dialect::LlamaCpp {
                    anyhow::bail!(
                        "server {}: the qwen-math-prm format needs vLLM's /pooling endpoint \
                         (vllm serve Qwen/Qwen2.5-Math-PRM-7B); this server is llama.cpp",
                        spec.url
                    );
                }
                Mode::Pooling
            }
            _ => Mode::NextToken {
                ids: sign_ids(&client, &caps, format)?,
                tag_in_prompt: format == PrmFormat::MathShepherd,
            },
        };
        Ok(Self {
            spec: spec.clone(),
            format,
            client,
            caps,
            mode,
            scores: HashMap::new(),
            problem: None,
            gate: Gate::new(spec.concurrency),
        })
    }

    /// What the server is and offers.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The input pieces of a question and its steps, in this verifier's format.
    fn pieces(&self, question: &str, steps: &[String]) -> Vec<Piece> {
        match self.format {
            PrmFormat::QwenMathPrm => qwen_math::pieces(question, steps),
            PrmFormat::MathShepherd => math_shepherd::pieces(question, steps),
            // RLHFlow's published PRMs are Llama 3.1 models, whose template writes the system
            // block.
            _ => rlhflow::pieces(question, steps, true),
        }
    }

    /// The text up to each step's scored position: through its tag where the tag's own
    /// position scores (Math-Shepherd, Qwen), or just before it where the token before the tag
    /// does (RLHFlow's reply).
    fn prefixes(&self, question: &str, steps: &[String]) -> Vec<String> {
        let through_tag = !matches!(
            self.mode,
            Mode::NextToken {
                tag_in_prompt: false,
                ..
            }
        );
        let mut text = String::new();
        let mut out = Vec::with_capacity(steps.len());
        for p in self.pieces(question, steps) {
            match p {
                Piece::Text(s) => text.push_str(&s),
                Piece::Tag(s) => {
                    if through_tag {
                        text.push_str(&s);
                        out.push(text.clone());
                    } else {
                        out.push(text.clone());
                        text.push_str(&s);
                    }
                }
            }
        }
        out
    }

    /// FLOPs of `tokens` forward passes: 2·P each.
    fn flops(&self, tokens: u64) -> f64 {
        2.0 * self.caps.params.unwrap_or(0) as f64 * tokens as f64
    }

    /// One `/pooling` request for the whole `text`, whose tags close the prefixes `keys`
    /// name (their text hashes, in order).
    fn pool(&self, text: &str, keys: &[u64], cancel: &CancelToken) -> anyhow::Result<Scored> {
        let mut body = json!({ "input": text });
        if let Some(m) = &self.caps.model {
            body["model"] = json!(m);
        }
        let want = keys.len();
        let _pass = self.gate.enter(1, cancel)?;
        let (probs, tokens) = self
            .client
            .call_parsed("/pooling", Some(&body), cancel, |v| parse_pooling(v, want))?;
        Ok(Scored {
            scores: keys.iter().copied().zip(probs).collect(),
            tokens,
        })
    }

    /// One one-token completion of `prompt` (whose text hash is `key`); its next token's `+`
    /// against `-`.
    fn next_token(
        &self,
        prompt: &str,
        key: u64,
        ids: Option<(u32, u32)>,
        cancel: &CancelToken,
    ) -> anyhow::Result<Scored> {
        let (path, body) = match self.caps.dialect {
            Dialect::LlamaCpp => {
                let mut b = json!({
                    "prompt": prompt,
                    "n_predict": 1,
                    "n_probs": TOP_LOGPROBS,
                    "temperature": 1.0,
                    "top_k": 0,
                    "top_p": 1.0,
                    "min_p": 0.0,
                    "seed": 0,
                    "cache_prompt": true,
                });
                if let Some((good, bad)) = ids {
                    // Both signs raised by the same bias and the probabilities read after it:
                    // they lead the list whatever the model prefers, in their own ratio.
                    b["logit_bias"] = json!([[good, SIGN_BIAS], [bad, SIGN_BIAS]]);
                    b["post_sampling_probs"] = json!(true);
                }
                ("/completion", b)
            }
            Dialect::OpenAi => {
                let mut b = json!({
                    "prompt": prompt,
                    "max_tokens": 1,
                    "logprobs": TOP_LOGPROBS,
                    "temperature": 1.0,
                    "seed": 0,
                    "return_tokens_as_token_ids": true,
                });
                if let Some(m) = &self.caps.model {
                    b["model"] = json!(m);
                }
                ("/v1/completions", b)
            }
        };
        let dialect = self.caps.dialect;
        let _pass = self.gate.enter(1, cancel)?;
        let (top, tokens) = self.client.call_parsed(path, Some(&body), cancel, |v| {
            let top = match dialect {
                Dialect::LlamaCpp => top_llama(v),
                Dialect::OpenAi => top_openai(v),
            }?;
            Ok((top, prompt_cost(v, dialect)))
        })?;
        let score = sign_score(&top, ids).map_err(|e| self.client.error(e))?;
        Ok(Scored {
            scores: vec![(key, score)],
            tokens,
        })
    }
}

/// The ids of `+` and `-` as the server's tokenizer gives them, the way the local adapter
/// takes them from `tokenizer.json`; `None` where the server offers no `/tokenize`.
fn sign_ids(
    client: &Client,
    caps: &Capabilities,
    format: PrmFormat,
) -> anyhow::Result<Option<(u32, u32)>> {
    let cancel = CancelToken::new();
    let tokenize = |text: &str| -> anyhow::Result<Option<Vec<u32>>> {
        let body = match caps.dialect {
            Dialect::LlamaCpp => json!({ "content": text, "add_special": false }),
            Dialect::OpenAi => {
                let mut b = json!({ "prompt": text, "add_special_tokens": false });
                if let Some(m) = &caps.model {
                    b["model"] = json!(m);
                }
                b
            }
        };
        match client.call("/tokenize", Some(&body), &cancel) {
            Ok(v) => {
                Ok(Some(parse_tokenize(&v).map_err(|e| {
                    client.error(format!("POST /tokenize: {e}: {}", v))
                })?))
            }
            Err(crate::backend::remote::CallError::Failed(e))
                if e.what.contains("HTTP 404") || e.what.contains("HTTP 405") =>
            {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    };
    if format == PrmFormat::MathShepherd {
        return match tokenize("+ -")? {
            None => Ok(None),
            Some(ids) if ids.len() == 2 => Ok(Some((ids[0], ids[1]))),
            Some(ids) => anyhow::bail!(
                "server {}: the math-shepherd format needs \"+ -\" to be two tokens, + and -; \
                 this server's tokenizer gives {ids:?}",
                client.url()
            ),
        };
    }
    let (Some(plus), Some(minus)) = (tokenize("+")?, tokenize("-")?) else {
        return Ok(None);
    };
    match (plus.last(), minus.last()) {
        (Some(&p), Some(&m)) => Ok(Some((p, m))),
        _ => anyhow::bail!(
            "server {}: its tokenizer gives no tokens for + or -",
            client.url()
        ),
    }
}

/// The ids of a `/tokenize` reply: `{"tokens": [ids]}` (vLLM, llama.cpp) or, with pieces,
/// `{"tokens": [{"id": …}]}` (llama.cpp).
pub fn parse_tokenize(v: &Value) -> Result<Vec<u32>, String> {
    v.get("tokens")
        .and_then(Value::as_array)
        .ok_or("no `tokens`")?
        .iter()
        .map(|t| {
            t.as_u64()
                .or_else(|| t.get("id").and_then(Value::as_u64))
                .map(|i| i as u32)
                .ok_or_else(|| format!("token {t} is not an id"))
        })
        .collect()
}

/// One listed next token: its id where known, its text, its probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub id: Option<u32>,
    pub text: String,
    pub prob: f64,
}

/// The listed next tokens of a llama.cpp `/completion` reply with `n_probs`.
pub fn top_llama(v: &Value) -> Result<Vec<Listed>, String> {
    let first = v
        .pointer("/completion_probabilities/0")
        .ok_or("the reply has no `completion_probabilities` (a server that ended at once?)")?;
    let top = first
        .get("top_logprobs")
        .or_else(|| first.get("top_probs"))
        .or_else(|| first.get("probs"))
        .and_then(Value::as_array)
        .ok_or("the reply's first token lists no `top_logprobs`")?;
    top.iter()
        .map(|t| {
            let prob = t
                .get("logprob")
                .and_then(Value::as_f64)
                .map(f64::exp)
                .or_else(|| t.get("prob").and_then(Value::as_f64))
                .ok_or_else(|| format!("listed token {t} has no logprob"))?;
            Ok(Listed {
                id: t.get("id").and_then(Value::as_u64).map(|i| i as u32),
                text: t
                    .get("token")
                    .or_else(|| t.get("tok_str"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                prob,
            })
        })
        .collect()
}

/// The listed next tokens of a `/v1/completions` reply with `logprobs: N`: the OpenAI layout
/// (`top_logprobs: [{token: logprob}]`, tokens as `token_id:N` where the server honours
/// `return_tokens_as_token_ids`).
pub fn top_openai(v: &Value) -> Result<Vec<Listed>, String> {
    let top = v
        .pointer("/choices/0/logprobs/top_logprobs/0")
        .and_then(Value::as_object)
        .ok_or("the reply has no `choices[0].logprobs.top_logprobs[0]`")?;
    top.iter()
        .map(|(k, lp)| {
            let prob = lp
                .as_f64()
                .map(f64::exp)
                .ok_or_else(|| format!("listed token {k:?} has no number"))?;
            let id = k
                .strip_prefix("token_id:")
                .and_then(|n| n.parse::<u32>().ok());
            Ok(Listed {
                id,
                text: if id.is_some() {
                    String::new()
                } else {
                    k.clone()
                },
                prob,
            })
        })
        .collect()
}

/// The prompt tokens a reply says the server ran (not taken from its cache), plus the one it
/// generated.
fn prompt_cost(v: &Value, dialect: Dialect) -> u64 {
    prompt_counts(v, dialect).0 + 1
}

/// P(`+`) / (P(`+`) + P(`-`)) from the listed next tokens, matched by id where known, else by
/// text (trimmed). A sign not listed counts as the least listed probability (an upper bound).
pub fn sign_score(top: &[Listed], ids: Option<(u32, u32)>) -> Result<f32, String> {
    let prob = |sign: &str, id: Option<u32>| -> Option<f64> {
        let hits: Vec<f64> = top
            .iter()
            .filter(|t| match (id, t.id) {
                (Some(want), Some(got)) => want == got,
                _ => t.text.trim() == sign,
            })
            .map(|t| t.prob)
            .collect();
        (!hits.is_empty()).then(|| hits.iter().sum())
    };
    let good = prob("+", ids.map(|i| i.0));
    let bad = prob("-", ids.map(|i| i.1));
    let floor = top.iter().map(|t| t.prob).fold(f64::INFINITY, f64::min);
    let (g, b) = match (good, bad) {
        (None, None) => {
            let listed: Vec<String> = top
                .iter()
                .take(5)
                .map(|t| match t.id {
                    Some(id) if t.text.is_empty() => format!("id {id}"),
                    _ => format!("{:?}", t.text),
                })
                .collect();
            return Err(format!(
                "neither + nor - is among the {} most likely next tokens (they start {}): is \
                 the served model a PRM of this format?",
                top.len(),
                listed.join(", ")
            ));
        }
        (g, b) => (g.unwrap_or(floor), b.unwrap_or(floor)),
    };
    Ok((g / (g + b)) as f32)
}

/// The per-tag probabilities of a vLLM `/pooling` reply for a text with `want` tags: each
/// entry `[P(wrong), P(right)]` (the Qwen2.5-Math-PRM pooler's softmax) or a single value.
/// Returns P(right) per tag and the prompt tokens.
pub fn parse_pooling(v: &Value, want: usize) -> Result<(Vec<f32>, u64), String> {
    let rows = v
        .pointer("/data/0/data")
        .and_then(Value::as_array)
        .ok_or("the reply has no `data[0].data`")?;
    if rows.len() != want {
        return Err(format!(
            "the reply scores {} step tags, the text has {want} (does the server run a step \
             pooler on <extra_0>, as vLLM does for Qwen2.5-Math-PRM?)",
            rows.len()
        ));
    }
    let probs = rows
        .iter()
        .map(|r| match r {
            Value::Array(classes) if classes.len() == 2 => classes[1]
                .as_f64()
                .map(|p| p as f32)
                .ok_or_else(|| format!("a step's probabilities {r} are not numbers")),
            Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN) as f32),
            other => Err(format!(
                "a step's entry {other} is neither [P(wrong), P(right)] nor a number"
            )),
        })
        .collect::<Result<Vec<f32>, String>>()?;
    let tokens = v
        .pointer("/usage/prompt_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok((probs, tokens))
}

impl Verifier for RemoteVerifier {
    fn name(&self) -> String {
        match &self.caps.model {
            Some(m) => format!("{SCHEME}{} ({}, {m})", self.spec.url, self.format),
            None => format!("{SCHEME}{} ({})", self.spec.url, self.format),
        }
    }

    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        if self.problem.as_deref() != Some(problem.id.as_str()) {
            self.scores.clear();
            self.problem = Some(problem.id.clone());
        }
        // Each candidate's text up to each step's tag, hashed once: the keys of the scores.
        let prefixes: Vec<Vec<(u64, String)>> = solutions
            .iter()
            .map(|steps| {
                let texts: Vec<String> = steps.iter().map(|s| s.text.clone()).collect();
                self.prefixes(&problem.question, &texts)
                    .into_iter()
                    .map(|p| (text_hash(&p), p))
                    .collect()
            })
            .collect();
        // What no earlier call read: one request per step (completions), or per candidate
        // (pooling), each asked once. A job is the text sent and the keys its reply scores.
        let mut asked = std::collections::HashSet::new();
        let mut jobs: Vec<(String, Vec<u64>)> = Vec::new();
        // Longest first, so that a candidate whose steps all lie on a longer one's path is
        // scored by that one's request.
        let mut order: Vec<&Vec<(u64, String)>> = prefixes.iter().collect();
        order.sort_by_key(|c| std::cmp::Reverse(c.len()));
        for candidate in order {
            let mut fresh = candidate
                .iter()
                .filter(|(h, _)| !self.scores.contains_key(h) && !asked.contains(h));
            match self.mode {
                Mode::Pooling => {
                    if let (Some(_), Some((_, last))) = (fresh.next(), candidate.last()) {
                        let keys: Vec<u64> = candidate.iter().map(|(h, _)| *h).collect();
                        asked.extend(keys.iter().copied());
                        jobs.push((last.clone(), keys));
                    }
                }
                Mode::NextToken { .. } => {
                    let fresh: Vec<&(u64, String)> = fresh.collect();
                    for (h, p) in fresh {
                        asked.insert(*h);
                        jobs.push((p.clone(), vec![*h]));
                    }
                }
            }
        }
        let cancel = CancelToken::new();
        let mode = self.mode.clone();
        let this = &*self;
        let results = in_parallel(&jobs, self.spec.concurrency, |(text, keys)| match mode {
            Mode::Pooling => this.pool(text, keys, &cancel),
            Mode::NextToken { ids, .. } => this.next_token(text, keys[0], ids, &cancel),
        })?;
        let mut tokens = 0;
        for r in results {
            match r {
                Some(Ok(s)) => {
                    tokens += s.tokens;
                    self.scores.extend(s.scores);
                }
                Some(Err(e)) => return Err(e.context(format!("problem {}", problem.id))),
                None => {}
            }
        }
        meter.verifier_tokens += tokens;
        meter.verifier_flops += self.flops(tokens);
        prefixes
            .iter()
            .map(|candidate| {
                candidate
                    .iter()
                    .map(|(h, _)| {
                        self.scores.get(h).copied().ok_or_else(|| {
                            anyhow::anyhow!(
                                "server {}: no score came back for a step of problem {}",
                                self.spec.url,
                                problem.id
                            )
                        })
                    })
                    .collect()
            })
            .collect()
    }

    fn start_search(&mut self) {
        // The next call forgets the scores, as for another problem.
        self.problem = None;
    }

    /// Another handle on the same server and the same [`Gate`], with no scores read yet.
    fn detach(&self) -> Option<Box<dyn Verifier + Send>> {
        Some(Box::new(Self {
            spec: self.spec.clone(),
            format: self.format,
            client: self.client.clone(),
            caps: self.caps.clone(),
            mode: self.mode.clone(),
            scores: HashMap::new(),
            problem: None,
            gate: self.gate.clone(),
        }))
    }

    fn suspend(&mut self) -> Option<Box<dyn std::any::Any + Send>> {
        Some(Box::new((
            std::mem::take(&mut self.scores),
            self.problem.take(),
        )))
    }

    fn resume(&mut self, state: Box<dyn std::any::Any + Send>) {
        if let Ok(s) = state.downcast::<(HashMap<u64, f32>, Option<String>)>() {
            (self.scores, self.problem) = *s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::scripted::{models, server, Seen};
    use crate::verify::VerifierSpec;
    use std::sync::{Arc, Mutex};

    fn problem() -> Problem {
        crate::data::toy::problem("t".into(), 1, "2+3*4".into(), 14)
    }

    fn steps(texts: &[&str]) -> Vec<StepText> {
        texts.iter().map(|t| StepText::plain(t)).collect()
    }

    fn spec(url: &str, format: &str) -> RemoteVerifierSpec {
        RemoteVerifierSpec::parse(&format!("remote:{url},format={format},concurrency=3")).unwrap()
    }

    fn posts(seen: &Arc<Mutex<Vec<Seen>>>, path: &str) -> Vec<Value> {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| s.line.starts_with(&format!("POST {path} ")))
            .map(|s| serde_json::from_str(&s.body).unwrap())
            .collect()
    }

    /// A vLLM-like server (labelled: replies in the shape of vLLM's documented API, not run
    /// here): `/props` is 404, `/tokenize` gives `"+ -"` as ids 10 and 11, and
    /// `/v1/completions` lists next tokens with P(+) = 0.6 after a prompt ending in ` ки` and
    /// 0.2 otherwise, P(-) = 0.2, and another token; 7 of each prompt's tokens were cached.
    fn vllm_completions() -> (String, Arc<Mutex<Vec<Seen>>>) {
        server(|s, _| {
            let b: Value = serde_json::from_str(&s.body).unwrap_or_default();
            let (path, ok) = (s.line.split(' ').nth(1).unwrap_or(""), 200);
            let body = match path {
                "/props" => return (404, vec![], "{\"error\":\"Not Found\"}".into()),
                "/v1/models" => models("vllm"),
                "/tokenize" => {
                    assert_eq!(b["prompt"], "+ -");
                    assert_eq!(b["add_special_tokens"], false);
                    json!({"count": 2, "max_model_len": 2048, "tokens": [10, 11], "token_strs": null}).to_string()
                }
                "/v1/completions" => {
                    let prompt = b["prompt"].as_str().unwrap();
                    let plus: f64 = if prompt.ends_with(" ки") { 0.6 } else { 0.2 };
                    json!({
                        "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
                        "choices": [{
                            "index": 0, "text": "token_id:10", "finish_reason": "length", "stop_reason": null,
                            "logprobs": {
                                "text_offset": [0], "token_logprobs": [plus.ln()], "tokens": ["token_id:10"],
                                "top_logprobs": [{"token_id:10": plus.ln(), "token_id:11": 0.2f64.ln(), "token_id:7": 0.1f64.ln()}]
                            }
                        }],
                        "usage": {"prompt_tokens": 20, "total_tokens": 21, "completion_tokens": 1,
                                  "prompt_tokens_details": {"cached_tokens": 7}}
                    })
                    .to_string()
                }
                _ => return (404, vec![], "{}".into()),
            };
            (ok, vec![], body)
        })
    }

    #[test]
    fn remote_verifier_specs_parse_print_and_name_what_is_wrong() {
        let s = RemoteVerifierSpec::parse(
            "remote:http://gpu:8001/,format=math-shepherd,model=ms,params=7000000000",
        )
        .unwrap();
        assert_eq!(s.url, "http://gpu:8001");
        assert_eq!(s.model.as_deref(), Some("ms"));
        assert_eq!(s.params, Some(7_000_000_000));
        assert_eq!(
            s.to_string(),
            "remote:http://gpu:8001,format=math-shepherd,model=ms,params=7000000000"
        );
        assert_eq!(RemoteVerifierSpec::parse(&s.to_string()).unwrap(), s);
        for (bad, says) in [
            ("remote:http://gpu:8001", "format=F"),
            ("remote:http://gpu:8001,format=value-head", "value-head"),
            ("remote:http://gpu:8001,format=orm", "unknown format `orm`"),
            ("remote:gpu:8001,format=rlhflow", "http://HOST:PORT"),
            (
                "remote:http://gpu:8001,format=rlhflow,top=3",
                "unknown option `top=3`",
            ),
            (
                "remote:http://gpu:8001,format=rlhflow,params=7B",
                "whole number",
            ),
            (
                "remote:http://gpu:8001,format=rlhflow,concurrency=0",
                "at least 1",
            ),
        ] {
            let err = RemoteVerifierSpec::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let list = VerifierSpec::parse_list(
            "oracle,remote:http://a:1,format=qwen-math-prm,model=prm,toy-prm",
        )
        .unwrap()
        .0;
        assert_eq!(list.len(), 3);
        assert_eq!(
            list[1].to_string(),
            "remote:http://a:1,format=qwen-math-prm,model=prm"
        );
        let json = serde_json::to_string(&list[1]).unwrap();
        assert_eq!(
            serde_json::from_str::<VerifierSpec>(&json).unwrap(),
            list[1]
        );
    }

    #[test]
    fn math_shepherd_on_a_completions_server_asks_once_per_step_at_its_tag() {
        let (url, seen) = vllm_completions();
        let mut v = RemoteVerifier::connect(&spec(&url, "math-shepherd")).unwrap();
        assert_eq!(v.name(), format!("remote:{url} (math-shepherd, m)"));
        let p = problem();
        let a = steps(&["3*4=12: 2+12", "2+12=14: 14"]);
        let b = steps(&["3*4=12: 2+12", "2+12=15: 15"]);
        let mut meter = ComputeMeter::default();
        let got = v.score_many(&p, &[&a, &b], &mut meter).unwrap();
        // P(+) / (P(+) + P(-)) = 0.6 / 0.8 at every tag.
        assert_eq!(got, vec![vec![0.75; 2], vec![0.75; 2]]);
        let sent = posts(&seen, "/v1/completions");
        // The shared first step is asked once: three requests, not four.
        assert_eq!(sent.len(), 3);
        let mut prompts: Vec<&str> = sent.iter().map(|b| b["prompt"].as_str().unwrap()).collect();
        prompts.sort();
        assert_eq!(
            prompts,
            [
                "2+3*4 3*4=12: 2+12 ки",
                "2+3*4 3*4=12: 2+12 ки\n2+12=14: 14 ки",
                "2+3*4 3*4=12: 2+12 ки\n2+12=15: 15 ки",
            ]
        );
        for b in &sent {
            assert_eq!(b["max_tokens"], 1);
            assert_eq!(b["logprobs"], TOP_LOGPROBS);
            assert_eq!(b["model"], "m");
        }
        // 13 prompt tokens ran (20 less 7 cached) and one was generated, per request.
        assert_eq!(meter.verifier_tokens, 3 * 14);
        assert_eq!(meter.policy_tokens(), 0);
        // Asked again, one step longer: one new request.
        let longer = steps(&["3*4=12: 2+12", "2+12=14: 14", "\\boxed{14}"]);
        let again = v
            .score_many(&p, &[&a, &longer], &mut ComputeMeter::default())
            .unwrap();
        assert_eq!(again[1].len(), 3);
        assert_eq!(posts(&seen, "/v1/completions").len(), 4);
        assert_eq!(posts(&seen, "/tokenize").len(), 1);
        // A handle for another search (problems in parallel) reads none of this one's scores:
        // it asks for its own, and they are the same; the server is not probed again.
        let mut other = v.detach().unwrap();
        assert_eq!(other.name(), v.name());
        let mut meter = ComputeMeter::default();
        assert_eq!(other.score_many(&p, &[&a, &b], &mut meter).unwrap(), got);
        assert_eq!(meter.verifier_tokens, 3 * 14);
        assert_eq!(posts(&seen, "/v1/completions").len(), 7);
        assert_eq!(posts(&seen, "/tokenize").len(), 1);
    }

    #[test]
    fn rlhflow_on_llama_cpp_reads_the_reply_position_with_both_signs_lifted() {
        let (url, seen) = server(|s, _| {
            let b: Value = serde_json::from_str(&s.body).unwrap_or_default();
            let body = match s.line.split(' ').nth(1).unwrap_or("") {
                "/props" => json!({"total_slots": 2, "chat_template": "",
                    "default_generation_settings": {"n_ctx": 4096}})
                .to_string(),
                "/v1/models" => json!({"object": "list", "data": [{"id": "prm.gguf",
                    "owned_by": "llamacpp", "meta": {"n_params": 1000}}]})
                .to_string(),
                "/tokenize" => {
                    let id = if b["content"] == "+" { 43 } else { 12 };
                    json!({"tokens": [id]}).to_string()
                }
                // The layout of llama.cpp b11434's `/completion` with `n_probs` and
                // `post_sampling_probs` (probabilities after the logit bias).
                "/completion" => json!({
                    "content": "+", "tokens_evaluated": 30, "tokens_predicted": 1,
                    "timings": {"prompt_n": 4},
                    "completion_probabilities": [{"id": 43, "token": "+", "bytes": [43],
                        "prob": 0.9, "top_probs": [
                            {"id": 43, "token": "+", "bytes": [43], "prob": 0.9},
                            {"id": 12, "token": "-", "bytes": [45], "prob": 0.1}]}]
                })
                .to_string(),
                _ => return (404, vec![], "{}".into()),
            };
            (200, vec![], body)
        });
        let mut v = RemoteVerifier::connect(&spec(&url, "rlhflow")).unwrap();
        let mut meter = ComputeMeter::default();
        let got = v
            .score_many(&problem(), &[&steps(&[" 3*4=12: 2+12\n"])], &mut meter)
            .unwrap();
        assert!((got[0][0] - 0.9).abs() < 1e-6, "{got:?}");
        let sent = posts(&seen, "/completion");
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0]["prompt"],
            format!("<|begin_of_text|>{}<|start_header_id|>user<|end_header_id|>\n\n2+3*4 3*4=12: 2+12<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", rlhflow::LLAMA31_SYSTEM)
        );
        assert_eq!(sent[0]["n_probs"], TOP_LOGPROBS);
        assert_eq!(
            sent[0]["logit_bias"],
            json!([[43, SIGN_BIAS], [12, SIGN_BIAS]])
        );
        assert_eq!(sent[0]["post_sampling_probs"], true);
        // 4 prompt tokens ran (26 came from the slot's cache), one was generated; 2·P each.
        assert_eq!(meter.verifier_tokens, 5);
        assert_eq!(meter.verifier_flops, 2.0 * 1000.0 * 5.0);
        let tokenized = posts(&seen, "/tokenize");
        assert_eq!(tokenized.len(), 2);
        assert_eq!(tokenized[0]["add_special"], false);
    }

    #[test]
    fn qwen_math_prm_on_vllm_pooling_scores_every_tag_of_a_candidate_in_one_request() {
        // Replies in the shape of vLLM's documented `/pooling` API for Qwen2.5-Math-PRM (its
        // step pooler returns [P(wrong), P(right)] at each `<extra_0>`); not run here.
        let (url, seen) = server(|s, _| {
            let b: Value = serde_json::from_str(&s.body).unwrap_or_default();
            let body = match s.line.split(' ').nth(1).unwrap_or("") {
                "/props" => return (404, vec![], "{}".into()),
                "/v1/models" => models("vllm"),
                "/pooling" => {
                    let input = b["input"].as_str().unwrap();
                    let tags = input.matches("<extra_0>").count();
                    let rows: Vec<[f64; 2]> = (0..tags)
                        .map(|k| [0.9 - 0.1 * k as f64, 0.1 + 0.1 * k as f64])
                        .collect();
                    json!({"id": "pool-1", "object": "list", "created": 1, "model": "m",
                        "data": [{"index": 0, "object": "pooling", "data": rows}],
                        "usage": {"prompt_tokens": 50, "total_tokens": 50,
                                  "completion_tokens": 0, "prompt_tokens_details": null}})
                    .to_string()
                }
                _ => return (404, vec![], "{}".into()),
            };
            (200, vec![], body)
        });
        let mut v = RemoteVerifier::connect(&spec(&url, "qwen-math-prm")).unwrap();
        let p = problem();
        let a = steps(&["3*4=12: 2+12", "2+12=14: 14"]);
        let mut meter = ComputeMeter::default();
        let got = v.score_many(&p, &[&a, &a[..1]], &mut meter).unwrap();
        assert!((got[0][0] - 0.1).abs() < 1e-6 && (got[0][1] - 0.2).abs() < 1e-6);
        // The one-step candidate was scored by the two-step request (a causal PRM's score at a
        // tag does not depend on what follows): one request.
        let sent = posts(&seen, "/pooling");
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(got[1], got[0][..1]);
        assert_eq!(
            sent[0]["input"],
            format!("<|im_start|>system\n{}<|im_end|>\n<|im_start|>user\n2+3*4<|im_end|>\n<|im_start|>assistant\n3*4=12: 2+12<extra_0>2+12=14: 14<extra_0>", qwen_math::SYSTEM)
        );
        assert_eq!(meter.verifier_tokens, 50);
        // A server whose pooler is not a step pooler is named, with the counts.
        let err = parse_pooling(&json!({"data": [{"data": [[0.5, 0.5]]}]}), 2).unwrap_err();
        assert!(err.contains("1 step tags, the text has 2"), "{err}");
    }

    #[test]
    fn qwen_pooling_is_refused_on_llama_cpp_and_a_non_prm_is_named() {
        let (url, _) = server(|s, _| {
            let body = match s.line.split(' ').nth(1).unwrap_or("") {
                "/props" => json!({"total_slots": 1}).to_string(),
                "/v1/models" => models("llamacpp"),
                _ => return (404, vec![], "{}".into()),
            };
            (200, vec![], body)
        });
        let err = RemoteVerifier::connect(&spec(&url, "qwen-math-prm"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("/pooling") && err.contains(&url), "{err}");
        let listed = |text: &str, prob| Listed {
            id: None,
            text: text.into(),
            prob,
        };
        let err = sign_score(&[listed(" The", 0.5), listed(" x", 0.1)], None).unwrap_err();
        assert!(
            err.contains("neither + nor -") && err.contains("\" The\""),
            "{err}"
        );
        // Matched by text where ids are unknown: " +" and "+" both count.
        let s = sign_score(
            &[listed(" +", 0.3), listed("+", 0.3), listed(" -", 0.2)],
            None,
        )
        .unwrap();
        assert!((s - 0.75).abs() < 1e-6);
        // A sign not listed counts as the least listed probability (an upper bound).
        let s = sign_score(&[listed("+", 0.9), listed("x", 0.1)], None).unwrap();
        assert!((s - 0.9).abs() < 1e-6);
    }

    #[test]
    fn a_server_that_fails_is_named_with_the_problem() {
        let (url, _) = server(|s, _| match s.line.split(' ').nth(1).unwrap_or("") {
            "/props" => (404, vec![], "{}".into()),
            "/v1/models" => (200, vec![], models("sglang")),
            "/tokenize" => (404, vec![], "{}".into()),
            _ => (400, vec![], "{\"error\": \"bad prompt\"}".into()),
        });
        let mut v = RemoteVerifier::connect(&spec(&url, "math-shepherd")).unwrap();
        let err = v
            .score(
                &problem(),
                &["3*4=12: 2+12".into()],
                &mut ComputeMeter::default(),
            )
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("problem t") && msg.contains(&url) && msg.contains("bad prompt"),
            "{msg}"
        );
    }
}
