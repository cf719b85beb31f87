//! A policy on an inference server: llama.cpp's `llama-server`, or any server with the
//! OpenAI-compatible completions API (vLLM, SGLang). Named `remote:http://HOST:PORT` wherever
//! a policy path goes.
//!
//! What differs between servers is found at connect time ([`Capabilities`]), not assumed:
//! - **llama.cpp** (it answers `/props` with `total_slots`) is driven through its native
//!   `/completion` endpoint: that one reports why generation stopped (end of sequence, a stop
//!   string, the token limit), the generated token ids, and the model's log-probability of each
//!   token. Its OpenAI endpoint answers `finish_reason: "stop"` both for the end of sequence and
//!   for a stop string and drops the stop string, so a step could not be told from the end.
//! - **OpenAI-compatible servers** get `/v1/completions` with `logprobs: 1`,
//!   `include_stop_str_in_output` and `return_tokens_as_token_ids` (vLLM's extensions; servers
//!   without them still work, see [`parse_openai`]); `stop_reason` (vLLM) or `matched_stop`
//!   (SGLang) tells a stop string from the end of sequence.
//!
//! Continuation `i` of a request seeded `seed` draws from a seed derived from `(seed, i)`
//! alone, as with the local engine, never from how continuations are grouped into requests.
//! On OpenAI-compatible servers each continuation is its own request with `n = 1` (vLLM and
//! SGLang share prompts across requests by their own prefix caches). On llama.cpp, whose
//! cache belongs to a slot, a request's continuations go as siblings of one prompt
//! (`n_cmpl`, up to its slot count): it runs the prompt once and copies it to the siblings'
//! slots, where separate requests would each run the whole beam again in a slot of their own
//! ([`sibling_seed`]). Up to `concurrency` continuations are in flight at once, shared by
//! every handle on the server ([`Gate`]): servers batch across requests, so a round of beam
//! search is one burst. Failures are retried with backoff; an API key comes from
//! an environment variable and is sent only to the configured server, never written anywhere.

use super::{Extend, ExtendCall, Policy, Until};
use crate::data::Problem;
use crate::engine::chat::toy_prompt;
use crate::engine::{
    CancelToken, Cancelled, ComputeMeter, Generation, PromptFormat, SamplingParams,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How a policy path names a server: `remote:http://HOST:PORT`.
pub const REMOTE_SCHEME: &str = "remote:";

/// The server URL of a policy path that names one (`remote:URL`), else `None`.
pub fn remote_url(policy: &Path) -> Option<&str> {
    policy
        .to_str()
        .and_then(|s| s.strip_prefix(REMOTE_SCHEME))
        .map(|u| u.trim_end_matches('/'))
}

/// How to talk to a server; saved in the run configuration (never the API key itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteOptions {
    /// The served model to ask for (`--model`); the server's only model where it serves one.
    pub model: Option<String>,
    /// Continuations in flight at once, counted across every handle on the server
    /// ([`Policy::detach`]).
    pub concurrency: usize,
    /// The environment variable holding the API key, sent as a bearer token where set.
    pub api_key_env: String,
    /// Seconds one request may take.
    pub timeout_s: u64,
    /// Tries after the first for a refused connection, a timeout, HTTP 429 or 5xx, or a reply
    /// that is not the JSON expected.
    pub retries: u32,
    /// The first wait between tries, in milliseconds; it doubles each try (at most 8 s, or the
    /// server's `Retry-After`, at most 30 s).
    pub backoff_ms: u64,
    /// The policy's parameter count, for the compute meter's FLOPs, where the server does not
    /// report it (llama.cpp does; vLLM and SGLang do not).
    pub params: Option<u64>,
    /// On llama.cpp, the most continuations of one prefix one request asks for as siblings of
    /// one prompt (`n_cmpl`; at most its slots and `concurrency`): more run the prompt fewer
    /// times, fewer keep more slots busy (a request's slots wait for its longest sibling).
    /// Samples do not depend on it.
    pub samples_per_request: usize,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            model: None,
            concurrency: 8,
            api_key_env: "THINKSCALE_API_KEY".into(),
            timeout_s: 600,
            retries: 4,
            backoff_ms: 500,
            params: None,
            samples_per_request: 2,
        }
    }
}

/// The kind of server, which decides the endpoint and the reply layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// llama.cpp's `llama-server`: native `/completion`.
    LlamaCpp,
    /// An OpenAI-compatible server (vLLM, SGLang, others): `/v1/completions`.
    OpenAi,
}

/// What a server is and offers, probed at connect time (`thinkscale inspect remote:URL`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The base URL.
    pub url: String,
    /// Which endpoint and layout thinkscale uses.
    pub dialect: Dialect,
    /// Who the server says it is (`/v1/models` `owned_by`: `llamacpp`, `vllm`, `sglang`).
    pub server: Option<String>,
    /// The models it serves.
    pub models: Vec<String>,
    /// The model requests name.
    pub model: Option<String>,
    /// The model's parameter count, where the server reports it (llama.cpp's `meta.n_params`).
    pub params: Option<u64>,
    /// Context length per sequence (llama.cpp: per slot; vLLM: `max_model_len`).
    pub context: Option<usize>,
    /// Parallel slots (llama.cpp's `-np`), the most sequences it decodes at once.
    pub slots: Option<usize>,
    /// Whether it applies the model's chat template to a conversation: llama.cpp's
    /// `/apply-template` (from `/props`), or vLLM's `/tokenize` with `messages` (probed with a
    /// one-message conversation where a chat prompt may be wanted).
    pub chat_template: bool,
    /// Whether replies carry generated token ids (llama.cpp always; vLLM with
    /// `return_tokens_as_token_ids`, known only after the first reply).
    pub token_ids: bool,
}

/// Trouble with a server; names it.
#[derive(Debug, thiserror::Error)]
#[error("server {url}: {what}")]
pub struct RemoteError {
    /// The server's base URL.
    pub url: String,
    /// What went wrong.
    pub what: String,
}

/// An HTTP client for one server: retries, backoff, the API key, no redirects (only the
/// configured endpoint is ever contacted). Remote policies and remote verifiers both talk
/// through it.
#[derive(Clone)]
pub struct Client {
    url: String,
    agent: ureq::Agent,
    key: Option<String>,
    retries: u32,
    backoff_ms: u64,
}

/// One try's failure: whether trying again may help.
struct Failure {
    retry: bool,
    what: String,
    wait: Option<Duration>,
}

impl Client {
    /// A client for the server at `url` (no trailing slash), with `o`'s timeout, retries and
    /// API key.
    pub fn new(url: &str, o: &RemoteOptions) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(o.timeout_s.max(1)))
            .redirects(0)
            .build();
        let key = std::env::var(&o.api_key_env)
            .ok()
            .filter(|k| !k.trim().is_empty());
        Self {
            url: url.to_string(),
            agent,
            key,
            retries: o.retries,
            backoff_ms: o.backoff_ms,
        }
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An error naming this server.
    pub fn error(&self, what: impl Into<String>) -> RemoteError {
        RemoteError {
            url: self.url.clone(),
            what: what.into(),
        }
    }

    fn once(&self, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.url);
        let mut req = match body {
            Some(_) => self.agent.post(&url),
            None => self.agent.get(&url),
        };
        if let Some(k) = &self.key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match res {
            Ok(r) if r.status() >= 300 => Err(Failure {
                retry: false,
                what: format!(
                    "HTTP {}: redirected to {} (not followed: only the configured server is \
                     contacted)",
                    r.status(),
                    r.header("Location").unwrap_or("nowhere")
                ),
                wait: None,
            }),
            Ok(r) => {
                let text = r.into_string().map_err(|e| Failure {
                    retry: true,
                    what: format!("the reply broke off: {e}"),
                    wait: None,
                })?;
                serde_json::from_str(&text).map_err(|e| Failure {
                    retry: true,
                    what: format!("the reply is not JSON ({e}): {}", clip(&text)),
                    wait: None,
                })
            }
            Err(ureq::Error::Status(code, r)) => {
                let wait = r
                    .header("Retry-After")
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(30)));
                let text = r.into_string().unwrap_or_default();
                Err(Failure {
                    retry: code == 429 || code >= 500,
                    what: format!("HTTP {code}: {}", clip(&text)),
                    wait,
                })
            }
            Err(ureq::Error::Transport(t)) => Err(Failure {
                retry: true,
                what: t.to_string(),
                wait: None,
            }),
        }
    }

    /// GET or POST `path`, retried; `cancel` stops the waits between tries.
    pub fn call(
        &self,
        path: &str,
        body: Option<&Value>,
        cancel: &CancelToken,
    ) -> Result<Value, CallError> {
        self.call_parsed(path, body, cancel, |v| Ok(v.clone()))
    }

    /// [`Self::call`], with `parse` reading the reply: a reply it refuses (cut short or garbled
    /// by a server dying mid-reply) is tried again like any other failure.
    pub fn call_parsed<T>(
        &self,
        path: &str,
        body: Option<&Value>,
        cancel: &CancelToken,
        parse: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<T, CallError> {
        let verb = if body.is_some() { "POST" } else { "GET" };
        let mut delay = Duration::from_millis(self.backoff_ms);
        let mut tries = 0;
        loop {
            if cancel.is_cancelled() {
                return Err(CallError::Cancelled);
            }
            tries += 1;
            let reply = self.once(path, body).and_then(|v| {
                parse(&v).map_err(|e| Failure {
                    retry: true,
                    what: format!("unexpected reply: {e}: {}", clip(&v.to_string())),
                    wait: None,
                })
            });
            match reply {
                Ok(v) => return Ok(v),
                Err(f) if f.retry && tries <= self.retries => {
                    let wait = f.wait.unwrap_or(delay);
                    delay = (delay * 2).min(Duration::from_secs(8));
                    if !sleep_unless_cancelled(wait, cancel) {
                        return Err(CallError::Cancelled);
                    }
                }
                Err(f) => {
                    let after = if tries > 1 {
                        format!(" (after {tries} tries)")
                    } else {
                        String::new()
                    };
                    return Err(CallError::Failed(
                        self.error(format!("{verb} {path}: {}{after}", f.what)),
                    ));
                }
            }
        }
    }
}

/// Why a call returned no reply.
pub enum CallError {
    /// The caller cancelled.
    Cancelled,
    /// The server failed (retries spent, or a failure retrying cannot mend).
    Failed(RemoteError),
}

impl From<CallError> for anyhow::Error {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Cancelled => anyhow::Error::new(Cancelled),
            CallError::Failed(e) => anyhow::Error::new(e),
        }
    }
}

/// Sleeps `d` in short slices; false if cancelled meanwhile.
fn sleep_unless_cancelled(d: Duration, cancel: &CancelToken) -> bool {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end {
        if cancel.is_cancelled() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(end - std::time::Instant::now()));
    }
    !cancel.is_cancelled()
}

/// The first 200 characters of a reply, for messages.
fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Connects to the server at `url` and finds out what it is and offers, chat templates
/// included ([`probe_chat`]).
pub fn probe(url: &str, o: &RemoteOptions) -> Result<Capabilities, RemoteError> {
    let c = Client::new(url, o);
    let mut caps = probe_with(&c, o)?;
    probe_chat(&c, &mut caps);
    Ok(caps)
}

/// The body of vLLM's `/tokenize` for `question` as the user's one message, with the
/// assistant's turn opened.
fn chat_tokenize_body(caps: &Capabilities, question: &str) -> Value {
    let mut b = json!({
        "messages": [{"role": "user", "content": question}],
        "add_generation_prompt": true,
    });
    if let Some(m) = &caps.model {
        b["model"] = json!(m);
    }
    b
}

/// On an OpenAI-compatible server, whether `/tokenize` renders a conversation with the model's
/// chat template (vLLM does; a server without it answers 404 or refuses the body), recorded in
/// `caps.chat_template`. llama.cpp's answer came with `/props`.
pub fn probe_chat(c: &Client, caps: &mut Capabilities) {
    if caps.dialect != Dialect::OpenAi {
        return;
    }
    let quick = Client {
        retries: 0,
        ..c.clone()
    };
    caps.chat_template = quick
        .call(
            "/tokenize",
            Some(&chat_tokenize_body(caps, "1+1")),
            &CancelToken::new(),
        )
        .ok()
        .and_then(|v| {
            v.get("tokens")
                .and_then(Value::as_array)
                .map(|t| !t.is_empty())
        })
        .unwrap_or(false);
}

/// [`probe`] through an existing client.
pub fn probe_with(c: &Client, o: &RemoteOptions) -> Result<Capabilities, RemoteError> {
    let cancel = CancelToken::new();
    let failed = |e: CallError| match e {
        CallError::Failed(e) => e,
        CallError::Cancelled => c.error("cancelled"),
    };
    // llama.cpp answers /props (503 while its model loads: retried like any 5xx).
    let props = match c.call("/props", None, &cancel) {
        Ok(v) if v.get("total_slots").is_some() => Some(v),
        Ok(_) => None,
        Err(CallError::Failed(e)) if e.what.contains("HTTP 404") => None,
        Err(e) => return Err(failed(e)),
    };
    let listed = c.call("/v1/models", None, &cancel).map_err(failed)?;
    let data: &[Value] = listed
        .get("data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let models: Vec<String> = data
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(String::from))
        .collect();
    let model = match &o.model {
        Some(m) if models.iter().any(|x| x == m) || models.is_empty() => Some(m.clone()),
        Some(m) => {
            return Err(c.error(format!(
                "it does not serve model `{m}`; it serves: {}",
                models.join(", ")
            )))
        }
        None if models.len() <= 1 => models.first().cloned(),
        None => {
            return Err(c.error(format!(
                "it serves several models; name one with --model: {}",
                models.join(", ")
            )))
        }
    };
    let entry = data
        .iter()
        .find(|m| m.get("id").and_then(Value::as_str) == model.as_deref());
    let server = entry
        .and_then(|m| m.get("owned_by"))
        .and_then(Value::as_str)
        .map(String::from);
    let params = entry
        .and_then(|m| m.pointer("/meta/n_params"))
        .and_then(Value::as_u64)
        .or(o.params);
    let context = props
        .as_ref()
        .and_then(|p| p.pointer("/default_generation_settings/n_ctx"))
        .or_else(|| entry.and_then(|m| m.get("max_model_len")))
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    let slots = props
        .as_ref()
        .and_then(|p| p.get("total_slots"))
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    let chat_template = props
        .as_ref()
        .and_then(|p| p.get("chat_template"))
        .and_then(Value::as_str)
        .is_some_and(|t| !t.trim().is_empty());
    Ok(Capabilities {
        url: c.url.clone(),
        dialect: if props.is_some() {
            Dialect::LlamaCpp
        } else {
            Dialect::OpenAi
        },
        server,
        models,
        model,
        params,
        context,
        slots,
        chat_template,
        token_ids: props.is_some(),
    })
}

/// The seed of continuation `i` of a request seeded `seed` (and of its `step`-th chained call
/// where k steps are taken one at a time): a 31-bit value, which every server accepts.
pub fn continuation_seed(seed: u64, i: usize, step: usize) -> u64 {
    let mut z = seed
        ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (step as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & 0x7FFF_FFFF
}

/// The seed of continuation `i` of a request seeded `seed` where llama.cpp takes a
/// request's continuations as siblings of one prompt (`n_cmpl`, which seeds sibling `j` of a
/// request seeded `s` with `s + j`): `continuation_seed(seed, 0, 0) + i`, below 2^32 - 1
/// (llama.cpp's "random seed"), whichever request the continuation goes in.
pub fn sibling_seed(seed: u64, i: usize) -> u64 {
    (continuation_seed(seed, 0, 0) + i as u64).min(u64::from(u32::MAX) - 1)
}

/// One reply, parsed: the continuation and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The continuation.
    pub generation: Generation,
    /// Prompt tokens the server ran.
    pub prompt_tokens: u64,
    /// Prompt tokens it took from its prompt cache.
    pub prompt_tokens_cached: u64,
    /// Tokens it generated.
    pub generated_tokens: u64,
}

/// Token ids that a reply did not give are this.
pub const UNKNOWN_TOKEN: u32 = u32::MAX;

/// For each `delimiter` in `text`, the number of tokens up to and including the one that
/// completes it, from the tokens' byte lengths (`None`: unknown, counted as empty, except
/// that the last token covers the rest of the text).
fn step_ends(text: &str, token_lens: &[Option<usize>], delimiter: &str) -> Vec<usize> {
    if delimiter.is_empty() || token_lens.is_empty() {
        return Vec::new();
    }
    let mut cum = Vec::with_capacity(token_lens.len());
    let mut at = 0;
    for l in token_lens {
        at += l.unwrap_or(0);
        cum.push(at);
    }
    if let Some(last) = cum.last_mut() {
        *last = (*last).max(text.len());
    }
    text.match_indices(delimiter)
        .map(|(i, d)| {
            let end = i + d.len();
            cum.iter().position(|&c| c >= end).unwrap_or(cum.len() - 1) + 1
        })
        .collect()
}

/// The prompt tokens a reply says the server ran, and those it took from its prompt cache:
/// llama.cpp's `tokens_evaluated` and `timings.prompt_n`, or OpenAI `usage` with
/// `prompt_tokens_details.cached_tokens`.
pub fn prompt_counts(v: &Value, dialect: Dialect) -> (u64, u64) {
    match dialect {
        Dialect::LlamaCpp => {
            let evaluated = v
                .get("tokens_evaluated")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let ran = v
                .pointer("/timings/prompt_n")
                .and_then(Value::as_u64)
                .unwrap_or(evaluated)
                .min(evaluated.max(1));
            (ran, evaluated.saturating_sub(ran))
        }
        Dialect::OpenAi => {
            let prompt = v
                .pointer("/usage/prompt_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let cached = v
                .pointer("/usage/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(prompt);
            (prompt - cached, cached)
        }
    }
}

/// A reply from llama.cpp's `/completion` (with `return_tokens` and `n_probs: 1`).
pub fn parse_llama(v: &Value, delimiter: &str) -> Result<Reply, String> {
    let content = v
        .get("content")
        .and_then(Value::as_str)
        .ok_or("the reply has no `content`")?;
    let mut tokens: Vec<u32> = v
        .get("tokens")
        .and_then(Value::as_array)
        .ok_or("the reply has no `tokens` (a llama.cpp server too old for return_tokens?)")?
        .iter()
        .map(|t| {
            t.as_u64()
                .map(|t| t as u32)
                .ok_or("a token id is not a number")
        })
        .collect::<Result<_, _>>()?;
    let probs: &[Value] = v
        .get("completion_probabilities")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let stop_type = v.get("stop_type").and_then(Value::as_str).unwrap_or("");
    let ended = stop_type == "eos";
    let mut text = content.to_string();
    if stop_type == "word" {
        // llama.cpp drops the stop string from the text; a step keeps its delimiter.
        text.push_str(v.get("stopping_word").and_then(Value::as_str).unwrap_or(""));
    }
    // Log-probabilities come per token, with two gaps: llama.cpp leaves out the tokens of the
    // stop string, and it reports a character split over several tokens once, at its last
    // token, with the whole character's bytes. Entries are matched to tokens by id, in order; a
    // token without one counts log-probability 0 and no bytes (a step's log-probability leaves
    // out the token that completes its delimiter anyway).
    // With `n_probs: 1` each entry also lists the most likely token (`top_logprobs`); a token
    // without an entry takes its own log-probability as the top one (no gap), as it takes 0 for
    // its own. A reply whose entries list none leaves the top log-probabilities unknown.
    let reports_top = probs.iter().any(|p| top_logprob(p).is_some());
    let mut logprobs = Vec::with_capacity(tokens.len());
    let mut tops = Vec::with_capacity(tokens.len());
    let mut lens = Vec::with_capacity(tokens.len());
    let mut j = 0;
    for t in &tokens {
        match probs.get(j) {
            Some(p) if p.get("id").and_then(Value::as_u64) == Some(u64::from(*t)) => {
                j += 1;
                let lp = p.get("logprob").and_then(Value::as_f64).unwrap_or(0.0) as f32;
                logprobs.push(lp);
                tops.push(top_logprob(p).map_or(lp, |top| top.max(lp)));
                lens.push(
                    p.get("bytes")
                        .and_then(Value::as_array)
                        .map(Vec::len)
                        .or_else(|| p.get("token").and_then(Value::as_str).map(str::len)),
                );
            }
            _ => {
                logprobs.push(0.0);
                tops.push(0.0);
                lens.push(None);
            }
        }
    }
    if j < probs.len() {
        return Err(format!(
            "{} log-probabilities match no generated token",
            probs.len() - j
        ));
    }
    if ended && !tokens.is_empty() {
        // The end-of-sequence token comes last: not part of the solution (the local engine
        // keeps it out too), though generating it counts.
        tokens.pop();
        logprobs.pop();
        tops.pop();
        lens.pop();
    }
    let generated = v
        .get("tokens_predicted")
        .and_then(Value::as_u64)
        .unwrap_or(tokens.len() as u64);
    let (ran, cached) = prompt_counts(v, Dialect::LlamaCpp);
    Ok(Reply {
        generation: Generation {
            step_ends: step_ends(&text, &lens, delimiter),
            text,
            // No tokens, nothing missing.
            top_logprobs: (reports_top || tokens.is_empty()).then_some(tops),
            tokens,
            logprobs,
            uniform_kls: None,
            ended,
        },
        prompt_tokens: ran,
        prompt_tokens_cached: cached,
        generated_tokens: generated,
    })
}

/// The log-probability of the most likely token at one position of a reply: the largest
/// among its listed alternatives — llama.cpp's `top_logprobs: [{id, token, logprob}]`
/// (native and OpenAI-compatible), or the OpenAI layout's `{token: logprob}` map. `None` where
/// the entry lists none.
fn top_logprob(entry: &Value) -> Option<f32> {
    let listed: Vec<f64> = match entry.get("top_logprobs")? {
        Value::Array(a) => a
            .iter()
            .filter_map(|t| t.get("logprob").and_then(Value::as_f64))
            .collect(),
        Value::Object(m) => m.values().filter_map(Value::as_f64).collect(),
        _ => return None,
    };
    listed.into_iter().reduce(f64::max).map(|x| x as f32)
}

/// A reply from `/v1/completions` with `logprobs: 1`: the OpenAI layout (`tokens`,
/// `token_logprobs`, `text_offset`; tokens as `token_id:N` where the server honours
/// `return_tokens_as_token_ids`), or llama.cpp's (`content: [{id, token, logprob}]`). Without
/// log-probabilities the tokens are unknown and counted from `usage`.
pub fn parse_openai(v: &Value, delimiter: &str) -> Result<Reply, String> {
    let choice = v
        .pointer("/choices/0")
        .ok_or("the reply has no `choices`")?;
    let mut text = choice
        .get("text")
        .and_then(Value::as_str)
        .ok_or("the reply's choice has no `text`")?
        .to_string();
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    let matched = choice
        .get("stop_reason")
        .filter(|s| !s.is_null())
        .or_else(|| choice.get("matched_stop").filter(|s| !s.is_null()));
    let ended = match (finish, matched) {
        (Some("stop"), Some(Value::String(s))) => {
            // A stop string; a server that drops it from the text gets it back.
            if !text.ends_with(s.as_str()) {
                text.push_str(s);
            }
            false
        }
        (Some("stop"), _) => true,
        _ => false,
    };
    let mut tokens = Vec::new();
    let mut logprobs = Vec::new();
    // The most likely token's log-probability per token, where the reply lists it (`None` as
    // soon as one position does not).
    let mut tops: Option<Vec<f32>> = Some(Vec::new());
    let top = |tops: &mut Option<Vec<f32>>, lp: f32, listed: Option<f32>| match listed {
        Some(t) => {
            if let Some(v) = tops.as_mut() {
                v.push(t.max(lp));
            }
        }
        None => *tops = None,
    };
    let mut lens = Vec::new();
    let lp = choice.get("logprobs").filter(|l| !l.is_null());
    if let Some(content) = lp.and_then(|l| l.get("content")).and_then(Value::as_array) {
        for t in content {
            tokens.push(
                t.get("id")
                    .and_then(Value::as_u64)
                    .map_or(UNKNOWN_TOKEN, |i| i as u32),
            );
            let own = t.get("logprob").and_then(Value::as_f64).unwrap_or(0.0) as f32;
            logprobs.push(own);
            top(&mut tops, own, top_logprob(t));
            lens.push(t.get("token").and_then(Value::as_str).map(str::len));
        }
    } else if let Some(l) = lp {
        let toks = l
            .get("tokens")
            .and_then(Value::as_array)
            .ok_or("the reply's logprobs have no `tokens`")?;
        let lps = l.get("token_logprobs").and_then(Value::as_array);
        let listed = l.get("top_logprobs").and_then(Value::as_array);
        let offsets: Option<Vec<usize>> = l.get("text_offset").and_then(Value::as_array).map(|o| {
            o.iter()
                .filter_map(|x| x.as_u64().map(|x| x as usize))
                .collect()
        });
        for (i, t) in toks.iter().enumerate() {
            let s = t.as_str().unwrap_or("");
            match s
                .strip_prefix("token_id:")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(id) => tokens.push(id),
                None => tokens.push(UNKNOWN_TOKEN),
            }
            let own = lps
                .and_then(|l| l.get(i))
                .and_then(Value::as_f64)
                .unwrap_or(0.0) as f32;
            logprobs.push(own);
            // `top_logprobs[i]` is the `{token: logprob}` map of position i.
            let at = listed
                .and_then(|t| t.get(i))
                .map(|m| json!({ "top_logprobs": m }));
            top(&mut tops, own, at.as_ref().and_then(top_logprob));
            let len = match &offsets {
                Some(o) if o.len() == toks.len() => {
                    let start = o[i].saturating_sub(o[0]);
                    let end = o.get(i + 1).map_or(text.len(), |e| e.saturating_sub(o[0]));
                    Some(end.saturating_sub(start))
                }
                _ if !s.starts_with("token_id:") => Some(s.len()),
                _ => None,
            };
            lens.push(len);
        }
    }
    let usage_generated = v
        .pointer("/usage/completion_tokens")
        .and_then(Value::as_u64);
    if tokens.is_empty() {
        let n = usage_generated.unwrap_or(0) as usize;
        tokens = vec![UNKNOWN_TOKEN; n];
        logprobs = vec![0.0; n];
        lens = vec![None; n];
        if n > 0 {
            tops = None;
        }
    }
    let (prompt, cached) = prompt_counts(v, Dialect::OpenAi);
    let generated = usage_generated.unwrap_or(tokens.len() as u64);
    Ok(Reply {
        generation: Generation {
            step_ends: step_ends(&text, &lens, delimiter),
            text,
            tokens,
            logprobs,
            top_logprobs: tops,
            uniform_kls: None,
            ended,
        },
        prompt_tokens: prompt,
        prompt_tokens_cached: cached,
        generated_tokens: generated,
    })
}

/// Runs `f` on every job with up to `workers` threads, which servers batch across. The first
/// failure ends the call: the other threads take no new jobs, so a job may be left without a
/// result (`None`). Results come back in the jobs' order.
pub fn in_parallel<J: Sync, T: Send>(
    jobs: &[J],
    workers: usize,
    f: impl Fn(&J) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<Option<anyhow::Result<T>>>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<anyhow::Result<T>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let work = || loop {
        let j = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(j) else { break };
        let out = f(job);
        let failed = out.is_err();
        if let Ok(mut r) = results.lock() {
            r[j] = Some(out);
        }
        if failed {
            next.store(jobs.len(), Ordering::Relaxed);
            break;
        }
    };
    let workers = workers.min(jobs.len()).max(1);
    std::thread::scope(|s| {
        for _ in 1..workers {
            s.spawn(work);
        }
        work();
    });
    results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a request thread panicked"))
}

/// A count of requests allowed in flight, shared by every handle on one server
/// ([`Policy::detach`]): searches running side by side each send their requests as soon as
/// they make them, and together never hold more than `concurrency` of the server's slots.
pub struct Gate {
    size: usize,
    free: Mutex<usize>,
    freed: Condvar,
}

/// A request's places in a [`Gate`], given back when dropped.
pub struct Pass<'a>(&'a Gate, usize);

impl Gate {
    /// A gate letting `n` (at least 1) requests through at once.
    pub fn new(n: usize) -> Arc<Self> {
        Arc::new(Self {
            size: n.max(1),
            free: Mutex::new(n.max(1)),
            freed: Condvar::new(),
        })
    }

    /// Waits for `n` places (at most what the gate lets through); `Cancelled` once `cancel`
    /// is set while waiting.
    pub fn enter(&self, n: usize, cancel: &CancelToken) -> Result<Pass<'_>, Cancelled> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let n = n.clamp(1, self.size);
        loop {
            if cancel.is_cancelled() {
                return Err(Cancelled);
            }
            if *free >= n {
                *free -= n;
                return Ok(Pass(self, n));
            }
            free = self
                .freed
                .wait_timeout(free, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += self.1;
        self.0.freed.notify_all();
    }
}

/// How a problem becomes a prompt on the server.
#[derive(Debug, Clone, PartialEq)]
enum Prompt {
    /// The question, a newline, then the solution so far (the server adds its
    /// beginning-of-sequence token).
    Raw,
    /// The model's chat template, applied by the server (llama.cpp's `/apply-template`).
    Chat,
    /// The model's chat template, applied by vLLM's `/tokenize` with `messages` and read back
    /// as text with `/detokenize`; completions then add no special tokens of their own.
    ChatTokens,
}

/// A policy on an inference server. See the module documentation.
pub struct RemotePolicy {
    client: Client,
    caps: Capabilities,
    options: RemoteOptions,
    prompt: Prompt,
    /// The prompt of the problem last asked about: (problem id, prompt text).
    cached: Option<(String, String)>,
    /// The requests in flight, shared with every [`Policy::detach`]ed handle.
    gate: Arc<Gate>,
}

/// One request: which continuation of which request.
#[derive(Debug, Clone, Copy)]
struct Job {
    request: usize,
    /// The first continuation it asks for.
    index: usize,
    /// How many continuations, `index` on, one request asks for (llama.cpp's `n_cmpl`).
    count: usize,
    seed: u64,
    max_tokens: usize,
}

impl RemotePolicy {
    /// Connects to the server at `url`, probes it, and settles the prompt format: `auto`
    /// takes the server's chat template where it applies one, else raw.
    pub fn connect(
        url: &str,
        options: &RemoteOptions,
        format: PromptFormat,
    ) -> anyhow::Result<Self> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("a remote policy is remote:http://HOST:PORT (or https), got `{url}`");
        }
        if options.concurrency == 0 {
            anyhow::bail!("concurrency must be at least 1");
        }
        let client = Client::new(url, options);
        let mut caps = probe_with(&client, options)?;
        if format != PromptFormat::Raw {
            probe_chat(&client, &mut caps);
        }
        let prompt = match (format, caps.chat_template) {
            (PromptFormat::Raw, _) | (PromptFormat::Auto, false) => Prompt::Raw,
            (_, true) if caps.dialect == Dialect::LlamaCpp => Prompt::Chat,
            (_, true) => Prompt::ChatTokens,
            (PromptFormat::Chat, false) => anyhow::bail!(
                "server {url} applies no chat template (llama.cpp's /apply-template and vLLM's \
                 /tokenize with messages are used; SGLang offers neither); use --prompt raw"
            ),
        };
        Ok(Self {
            client,
            caps,
            options: options.clone(),
            prompt,
            cached: None,
            gate: Gate::new(options.concurrency),
        })
    }

    /// What the server is and offers.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The prompt format in use (auto resolved).
    pub fn prompt_format(&self) -> PromptFormat {
        match self.prompt {
            Prompt::Raw => PromptFormat::Raw,
            Prompt::Chat | Prompt::ChatTokens => PromptFormat::Chat,
        }
    }

    /// The prompt text for `problem`, before the solution.
    fn problem_prompt(
        &mut self,
        problem: &Problem,
        cancel: &CancelToken,
    ) -> anyhow::Result<String> {
        if let Some((id, p)) = &self.cached {
            if *id == problem.id {
                return Ok(p.clone());
            }
        }
        let p = match self.prompt {
            Prompt::Raw => toy_prompt(&problem.question),
            Prompt::Chat => {
                let v = self.client.call(
                    "/apply-template",
                    Some(&json!({"messages": [{"role": "user", "content": problem.question}]})),
                    cancel,
                )?;
                v.get("prompt")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        self.client
                            .error("POST /apply-template: no `prompt` in the reply")
                    })?
                    .to_string()
            }
            Prompt::ChatTokens => {
                let body = chat_tokenize_body(&self.caps, &problem.question);
                let ids = self
                    .client
                    .call_parsed("/tokenize", Some(&body), cancel, |v| {
                        v.get("tokens")
                            .and_then(Value::as_array)
                            .cloned()
                            .ok_or_else(|| "no `tokens`".to_string())
                    })?;
                let mut back = json!({ "tokens": ids });
                if let Some(m) = &self.caps.model {
                    back["model"] = json!(m);
                }
                self.client
                    .call_parsed("/detokenize", Some(&back), cancel, |v| {
                        v.get("prompt")
                            .and_then(Value::as_str)
                            .map(String::from)
                            .ok_or_else(|| "no `prompt`".to_string())
                    })?
            }
        };
        self.cached = Some((problem.id.clone(), p.clone()));
        Ok(p)
    }

    /// The request body for one continuation of `prompt`.
    fn body(
        &self,
        prompt: &str,
        job: &Job,
        stop: bool,
        delimiter: &str,
        s: &SamplingParams,
    ) -> Value {
        let stop: Vec<&str> = if stop { vec![delimiter] } else { Vec::new() };
        match self.caps.dialect {
            Dialect::LlamaCpp => json!({
                "prompt": prompt,
                "n_predict": job.max_tokens,
                "temperature": s.temperature,
                "top_p": s.top_p,
                // llama.cpp's defaults add min-p 0.05 and leave top-k at 40: turned off here, so
                // sampling is what the run configuration says.
                "top_k": s.top_k,
                "min_p": 0.0,
                "repeat_penalty": 1.0,
                "seed": job.seed,
                "stop": stop,
                "n_probs": 1,
                "return_tokens": true,
                "cache_prompt": true,
                "ignore_eos": s.ignore_eos,
                // Siblings share the prompt: the server runs it once and copies it to the
                // slots of the others, which draw with seeds `seed + 1`, `seed + 2`, …
                "n_cmpl": job.count,
            }),
            Dialect::OpenAi => {
                let mut b = json!({
                    "prompt": prompt,
                    "max_tokens": job.max_tokens,
                    "temperature": s.temperature,
                    "top_p": s.top_p,
                    "seed": job.seed,
                    "n": 1,
                    "logprobs": 1,
                    "include_stop_str_in_output": true,
                    "return_tokens_as_token_ids": true,
                });
                if let Some(m) = &self.caps.model {
                    b["model"] = json!(m);
                }
                if !stop.is_empty() {
                    b["stop"] = json!(stop);
                }
                if s.top_k > 0 {
                    b["top_k"] = json!(s.top_k);
                }
                if s.ignore_eos {
                    b["ignore_eos"] = json!(true);
                }
                if self.prompt == Prompt::ChatTokens {
                    // The rendered template already holds the special tokens it wants.
                    b["add_special_tokens"] = json!(false);
                }
                b
            }
        }
    }

    /// One continuation, retried; parses the reply.
    fn complete(
        &self,
        body: &Value,
        delimiter: &str,
        cancel: &CancelToken,
    ) -> anyhow::Result<Reply> {
        let path = match self.caps.dialect {
            Dialect::LlamaCpp => "/completion",
            Dialect::OpenAi => "/v1/completions",
        };
        let dialect = self.caps.dialect;
        let parse = |v: &Value| match dialect {
            Dialect::LlamaCpp => parse_llama(v, delimiter),
            Dialect::OpenAi => parse_openai(v, delimiter),
        };
        Ok(self.client.call_parsed(path, Some(body), cancel, parse)?)
    }

    /// FLOPs of `tokens` forward passes: 2·P each (the attention term needs the model's shape,
    /// which servers do not report).
    fn flops(&self, tokens: u64) -> f64 {
        2.0 * self.caps.params.unwrap_or(0) as f64 * tokens as f64
    }
}

impl Policy for RemotePolicy {
    fn name(&self) -> String {
        match &self.caps.model {
            Some(m) => format!("{REMOTE_SCHEME}{} ({m})", self.caps.url),
            None => format!("{REMOTE_SCHEME}{}", self.caps.url),
        }
    }

    fn params(&self) -> Option<u64> {
        self.caps.params
    }

    /// Another handle on the same server and the same [`Gate`]: requests from searches on
    /// other threads go out as soon as they are made, `concurrency` at most in all.
    fn detach(&self) -> Option<Box<dyn Policy + Send>> {
        Some(Box::new(Self {
            client: self.client.clone(),
            caps: self.caps.clone(),
            options: self.options.clone(),
            prompt: self.prompt.clone(),
            cached: None,
            gate: self.gate.clone(),
        }))
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
        let call = ExtendCall {
            search: 0,
            problem,
            requests,
            until,
        };
        let mut out = self.extend_many(&[call], delimiter, sampling, &mut [meter], cancel)?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Every continuation of every call goes to the server at once (at most `concurrency` in
    /// flight), so searches running side by side keep its slots busy while one of them waits
    /// for its longest step.
    fn extend_many(
        &mut self,
        calls: &[ExtendCall<'_>],
        delimiter: &str,
        sampling: &SamplingParams,
        meters: &mut [&mut ComputeMeter],
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<Vec<Vec<Generation>>>> {
        let mut bases = Vec::with_capacity(calls.len());
        for c in calls {
            bases.push(self.problem_prompt(c.problem, cancel)?);
        }
        // k steps are k chained one-step requests: servers stop at a string, not at its k-th
        // occurrence.
        let shape = |until: Until| match until {
            Until::Step => (1, true),
            Until::Steps(k) => (k.max(1), true),
            Until::End => (1, false),
        };
        // (call, job) pairs, each call's jobs in its requests' order; on llama.cpp a request's
        // continuations of one call each go as siblings of one prompt, as many per request as
        // the server has slots and `concurrency` allows.
        let cap = self.siblings_cap();
        let mut jobs: Vec<(usize, Job)> = Vec::new();
        for (c, call) in calls.iter().enumerate() {
            let per = if self.siblings(shape(call.until).0) {
                cap
            } else {
                1
            };
            for (r, e) in call.requests.iter().enumerate() {
                let max_tokens = e.max_tokens.unwrap_or(usize::MAX).min(sampling.max_tokens);
                let mut index = 0;
                while index < e.n {
                    let count = per.min(e.n - index);
                    jobs.push((
                        c,
                        Job {
                            request: r,
                            index,
                            count,
                            seed: e.seed,
                            max_tokens,
                        },
                    ));
                    index += count;
                }
            }
        }
        let results = in_parallel(&jobs, self.options.concurrency, |(c, job)| {
            let (n, stop) = shape(calls[*c].until);
            self.continue_job(
                &bases[*c],
                &calls[*c].requests[job.request].prefix.text,
                job,
                n,
                stop,
                delimiter,
                sampling,
                cancel,
            )
        })?;
        let mut out: Vec<Vec<Vec<Generation>>> = calls
            .iter()
            .map(|c| c.requests.iter().map(|e| Vec::with_capacity(e.n)).collect())
            .collect();
        let mut first_error = None;
        for ((c, job), r) in jobs.iter().zip(results) {
            match r {
                Some(Ok(continued)) => {
                    for (g, m) in continued {
                        meters[*c].add(&m);
                        out[*c][job.request].push(g);
                    }
                }
                Some(Err(e)) => {
                    // A cancellation wins over other failures: it is what the caller asked for.
                    let cancelled = e.is::<Cancelled>();
                    if first_error.is_none() || cancelled {
                        first_error = Some(e.context(format!("problem {}", calls[*c].problem.id)));
                    }
                }
                None => {}
            }
        }
        if let Some(e) = first_error {
            return Err(match e.downcast_ref::<Cancelled>() {
                Some(_) => Cancelled.into(),
                None => e,
            });
        }
        if cancel.is_cancelled() {
            return Err(Cancelled.into());
        }
        Ok(out)
    }
}

impl RemotePolicy {
    /// Whether continuations taken in `calls` chained requests go as siblings of one prompt
    /// (llama.cpp's `n_cmpl`, one request each).
    fn siblings(&self, calls: usize) -> bool {
        self.caps.dialect == Dialect::LlamaCpp && calls == 1
    }

    /// The most siblings one request asks for: `samples_per_request`, at most the server's
    /// slots (its limit on `n_cmpl`) and `concurrency`.
    fn siblings_cap(&self) -> usize {
        self.caps
            .slots
            .unwrap_or(1)
            .min(self.options.concurrency)
            .min(self.options.samples_per_request)
            .max(1)
    }

    /// The continuations `job` asks for of `prefix`: by `calls` chained requests each (one
    /// step each where `stop`), or as siblings of one prompt ([`Self::siblings`]).
    #[allow(clippy::too_many_arguments)]
    fn continue_job(
        &self,
        base: &str,
        prefix: &str,
        job: &Job,
        calls: usize,
        stop: bool,
        delimiter: &str,
        sampling: &SamplingParams,
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<(Generation, ComputeMeter)>> {
        if self.siblings(calls) {
            return self.continue_siblings(base, prefix, job, stop, delimiter, sampling, cancel);
        }
        let mut out = Vec::with_capacity(job.count);
        for index in job.index..job.index + job.count {
            let one = Job {
                index,
                count: 1,
                ..*job
            };
            out.push(
                self.continue_chained(
                    base, prefix, &one, calls, stop, delimiter, sampling, cancel,
                )?,
            );
        }
        Ok(out)
    }

    /// `job`'s continuations of `prefix` as siblings of one prompt: one request with
    /// `n_cmpl = count`, seeded [`sibling_seed`] of its first continuation. The server runs
    /// the prompt once, copies it to the siblings' slots and seeds sibling `j` with the
    /// request's seed plus `j`, so every continuation `i` draws from `sibling_seed(seed, i)`
    /// however the continuations are grouped. The prompt is charged to the first sibling; the
    /// others took it from the first one's cache. A server older than `n_cmpl` answers one
    /// continuation: the rest follow in requests of their own, with the same seeds.
    #[allow(clippy::too_many_arguments)]
    fn continue_siblings(
        &self,
        base: &str,
        prefix: &str,
        job: &Job,
        stop: bool,
        delimiter: &str,
        sampling: &SamplingParams,
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<(Generation, ComputeMeter)>> {
        let text = format!("{base}{prefix}");
        let end = job.index + job.count;
        let mut out = Vec::with_capacity(job.count);
        while out.len() < job.count {
            if cancel.is_cancelled() {
                return Err(Cancelled.into());
            }
            let first = job.index + out.len();
            let one = Job {
                index: first,
                count: end - first,
                seed: sibling_seed(job.seed, first),
                ..*job
            };
            let body = self.body(&text, &one, stop, delimiter, sampling);
            let replies = {
                let _pass = self.gate.enter(one.count, cancel)?;
                self.complete_siblings(&body, delimiter, cancel)?
            };
            for (j, r) in replies.into_iter().take(one.count).enumerate() {
                let (ran, cached) = match j {
                    0 => (r.prompt_tokens, r.prompt_tokens_cached),
                    _ => (0, r.prompt_tokens + r.prompt_tokens_cached),
                };
                let m = ComputeMeter {
                    prompt_tokens: ran,
                    prompt_tokens_cached: cached,
                    generated_tokens: r.generated_tokens,
                    policy_flops: self.flops(ran + r.generated_tokens),
                    ..Default::default()
                };
                out.push((r.generation, m));
            }
        }
        Ok(out)
    }

    /// One request's siblings from llama.cpp's `/completion`: a list, in sibling order, or
    /// one reply where it gave one.
    fn complete_siblings(
        &self,
        body: &Value,
        delimiter: &str,
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<Reply>> {
        let parse = |v: &Value| match v {
            Value::Array(list) if list.is_empty() => Err("the reply lists no completion".into()),
            Value::Array(list) => list.iter().map(|x| parse_llama(x, delimiter)).collect(),
            one => parse_llama(one, delimiter).map(|r| vec![r]),
        };
        Ok(self
            .client
            .call_parsed("/completion", Some(body), cancel, parse)?)
    }

    /// One continuation of `prefix`, by `calls` chained requests (one step each where `stop`).
    #[allow(clippy::too_many_arguments)]
    fn continue_chained(
        &self,
        base: &str,
        prefix: &str,
        job: &Job,
        calls: usize,
        stop: bool,
        delimiter: &str,
        sampling: &SamplingParams,
        cancel: &CancelToken,
    ) -> anyhow::Result<(Generation, ComputeMeter)> {
        // Top log-probabilities as long as every reply has them; never the divergence from
        // uniform (a server does not return the whole distribution).
        let mut g = Generation {
            top_logprobs: Some(Vec::new()),
            ..Default::default()
        };
        let mut m = ComputeMeter::default();
        let mut text = format!("{base}{prefix}");
        for call in 0..calls {
            if cancel.is_cancelled() {
                return Err(Cancelled.into());
            }
            let left = job.max_tokens.saturating_sub(g.tokens.len());
            if left == 0 {
                break;
            }
            let one = Job {
                seed: continuation_seed(job.seed, job.index, call),
                max_tokens: left,
                ..*job
            };
            let body = self.body(&text, &one, stop, delimiter, sampling);
            let r = {
                let _pass = self.gate.enter(1, cancel)?;
                self.complete(&body, delimiter, cancel)?
            };
            m.prompt_tokens += r.prompt_tokens;
            m.prompt_tokens_cached += r.prompt_tokens_cached;
            m.generated_tokens += r.generated_tokens;
            m.policy_flops += self.flops(r.prompt_tokens + r.generated_tokens);
            let offset = g.tokens.len();
            text.push_str(&r.generation.text);
            g.text.push_str(&r.generation.text);
            g.tokens.extend(&r.generation.tokens);
            g.logprobs.extend(&r.generation.logprobs);
            match (&mut g.top_logprobs, &r.generation.top_logprobs) {
                (Some(all), Some(more)) => all.extend(more),
                _ => g.top_logprobs = None,
            }
            g.step_ends
                .extend(r.generation.step_ends.iter().map(|e| e + offset));
            g.ended = r.generation.ended;
            let stepped = !r.generation.step_ends.is_empty();
            if g.ended || !stepped || r.generation.tokens.is_empty() {
                break;
            }
        }
        Ok((g, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::scripted::{models, server, Seen};
    use crate::backend::Prefix;
    use std::net::TcpListener;
    use std::sync::Arc;

    fn quick() -> RemoteOptions {
        RemoteOptions {
            retries: 3,
            backoff_ms: 1,
            timeout_s: 5,
            ..Default::default()
        }
    }

    /// A completion in the exact shape of vLLM's documented `/v1/completions` reply with
    /// `logprobs: 1` and `return_tokens_as_token_ids` (vLLM's API, not run here).
    fn vllm_reply(text_tokens: &[(&str, u32)], finish: &str, stop_reason: Value) -> String {
        let text: String = text_tokens.iter().map(|t| t.0).collect();
        let mut off = 0;
        let offsets: Vec<usize> = text_tokens
            .iter()
            .map(|t| {
                let o = off;
                off += t.0.len();
                o + 100
            })
            .collect();
        json!({
            "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
            "choices": [{
                "index": 0, "text": text,
                "logprobs": {
                    "tokens": text_tokens.iter().map(|t| format!("token_id:{}", t.1)).collect::<Vec<_>>(),
                    "token_logprobs": text_tokens.iter().map(|_| -0.5).collect::<Vec<_>>(),
                    "text_offset": offsets,
                    "top_logprobs": null
                },
                "finish_reason": finish, "stop_reason": stop_reason
            }],
            "usage": {"prompt_tokens": 12, "total_tokens": 12 + text_tokens.len(),
                      "completion_tokens": text_tokens.len(),
                      "prompt_tokens_details": {"cached_tokens": 8}}
        })
        .to_string()
    }

    #[test]
    fn step_ends_count_the_tokens_up_to_each_delimiter() {
        let lens = [Some(2), Some(1), Some(3), Some(1)];
        // "ab" "\n" "cd\n"? no: "ab","\n","cde","\n"
        assert_eq!(step_ends("ab\ncde\n", &lens, "\n"), vec![2, 4]);
        // A token holding the end of one step and the start of the next.
        assert_eq!(
            step_ends("ab\ncd", &[Some(2), Some(2), Some(1)], "\n"),
            vec![2]
        );
        // Unknown lengths: the last token covers the rest.
        assert_eq!(step_ends("ab\n", &[None, None, None], "\n"), vec![3]);
        assert_eq!(step_ends("ab", &[Some(2)], ""), Vec::<usize>::new());
    }

    #[test]
    fn a_vllm_step_keeps_its_delimiter_ids_and_cache_counts() {
        let v: Value = serde_json::from_str(&vllm_reply(
            &[("3", 18), ("+", 10), ("4", 19), ("\n", 198)],
            "stop",
            json!("\n"),
        ))
        .unwrap();
        let r = parse_openai(&v, "\n").unwrap();
        assert_eq!(r.generation.text, "3+4\n");
        assert_eq!(r.generation.tokens, vec![18, 10, 19, 198]);
        assert_eq!(r.generation.step_ends, vec![4]);
        assert!(!r.generation.ended);
        assert_eq!(
            (r.prompt_tokens, r.prompt_tokens_cached, r.generated_tokens),
            (4, 8, 4)
        );
        // The end of sequence: stop_reason null.
        let v: Value =
            serde_json::from_str(&vllm_reply(&[("7", 23)], "stop", Value::Null)).unwrap();
        let r = parse_openai(&v, "\n").unwrap();
        assert!(r.generation.ended);
        assert!(r.generation.step_ends.is_empty());
        // The token limit.
        let v: Value =
            serde_json::from_str(&vllm_reply(&[("7", 23)], "length", Value::Null)).unwrap();
        assert!(!parse_openai(&v, "\n").unwrap().generation.ended);
    }

    #[test]
    fn a_server_that_drops_the_stop_string_gets_it_back_and_sglang_ends_are_ends() {
        // Stop string dropped from the text, no log-probabilities: tokens from usage.
        let v = json!({"choices": [{"text": "3+4", "finish_reason": "stop", "stop_reason": "\n",
                        "logprobs": null}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 4}});
        let r = parse_openai(&v, "\n").unwrap();
        assert_eq!(r.generation.text, "3+4\n");
        assert_eq!(r.generation.tokens, vec![UNKNOWN_TOKEN; 4]);
        assert_eq!(r.generation.step_ends, vec![4]);
        // SGLang: matched_stop is the end-of-sequence token's id.
        let v = json!({"choices": [{"text": "7", "finish_reason": "stop", "matched_stop": 2}],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 1}});
        assert!(parse_openai(&v, "\n").unwrap().generation.ended);
        assert!(parse_openai(&json!({"choices": []}), "\n").is_err());
    }

    #[test]
    fn llama_cpp_replies_match_log_probabilities_to_tokens_by_id() {
        // As llama.cpp b11434 answered: a character split over tokens 10813, 233, 230 is one
        // entry (id 230, 4 bytes); the stop string's token (198) has none; text without it.
        let v = json!({
            "content": "🌟a", "tokens": [10813, 233, 230, 64, 198], "stop_type": "word",
            "stopping_word": "\n", "tokens_predicted": 5, "tokens_evaluated": 12,
            "timings": {"prompt_n": 3},
            "completion_probabilities": [
                {"id": 230, "token": "🌟", "bytes": [240, 159, 140, 159], "logprob": -1.5},
                {"id": 64, "token": "a", "bytes": [97], "logprob": -0.25}
            ]
        });
        let r = parse_llama(&v, "\n").unwrap();
        assert_eq!(r.generation.text, "🌟a\n");
        assert_eq!(r.generation.tokens.len(), 5);
        assert_eq!(r.generation.logprobs, vec![0.0, 0.0, -1.5, -0.25, 0.0]);
        assert_eq!(r.generation.step_ends, vec![5]);
        assert!(!r.generation.ended);
        assert_eq!(
            (r.prompt_tokens, r.prompt_tokens_cached, r.generated_tokens),
            (3, 9, 5)
        );
        // The end of sequence: its token (last) is dropped, its generation counted.
        let v = json!({
            "content": "7", "tokens": [23, 2], "stop_type": "eos", "tokens_predicted": 2,
            "tokens_evaluated": 4,
            "completion_probabilities": [
                {"id": 23, "token": "7", "bytes": [55], "logprob": -0.1},
                {"id": 2, "token": "", "bytes": [], "logprob": -0.2}
            ]
        });
        let r = parse_llama(&v, "\n").unwrap();
        assert!(r.generation.ended);
        assert_eq!(r.generation.tokens, vec![23]);
        assert_eq!(r.generated_tokens, 2);
        // Entries that match no token are a malformed reply.
        let v = json!({"content": "", "tokens": [5], "stop_type": "limit",
                       "completion_probabilities": [{"id": 6, "logprob": -1.0}]});
        assert!(parse_llama(&v, "\n").is_err());
    }

    #[test]
    fn top_log_probabilities_are_read_where_a_reply_lists_them() {
        // llama.cpp's `/completion` with `n_probs: 1`: each entry lists the most likely token.
        // Token 64 was the argmax; token 65 was not (top -0.1); the stop string's token has no
        // entry and counts no gap.
        let v = json!({
            "content": "ab", "tokens": [64, 65, 198], "stop_type": "word", "stopping_word": "\n",
            "completion_probabilities": [
                {"id": 64, "token": "a", "bytes": [97], "logprob": -0.25,
                 "top_logprobs": [{"id": 64, "token": "a", "bytes": [97], "logprob": -0.25}]},
                {"id": 65, "token": "b", "bytes": [98], "logprob": -2.5,
                 "top_logprobs": [{"id": 66, "token": "c", "bytes": [99], "logprob": -0.1}]}
            ]
        });
        let g = parse_llama(&v, "\n").unwrap().generation;
        assert_eq!(g.logprobs, vec![-0.25, -2.5, 0.0]);
        assert_eq!(g.top_logprobs, Some(vec![-0.25, -0.1, 0.0]));
        assert_eq!(g.uniform_kls, None);
        // The same reply from a server that lists no alternatives: unknown, not zeros.
        let mut bare = v.clone();
        for e in bare["completion_probabilities"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("top_logprobs");
        }
        let g = parse_llama(&bare, "\n").unwrap().generation;
        assert_eq!(g.logprobs, vec![-0.25, -2.5, 0.0]);
        assert_eq!(g.top_logprobs, None);

        // The OpenAI layout: `top_logprobs` is a `{token: logprob}` map per position (vLLM
        // lists the sampled token beside the top one).
        let openai = |top: Value| {
            json!({"choices": [{"text": "ab", "finish_reason": "length",
                "logprobs": {"tokens": ["token_id:64", "token_id:65"],
                             "token_logprobs": [-0.25, -2.5], "text_offset": [0, 1],
                             "top_logprobs": top}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
        };
        let v = openai(json!([{"token_id:64": -0.25}, {"token_id:66": -0.1, "token_id:65": -2.5}]));
        let g = parse_openai(&v, "\n").unwrap().generation;
        assert_eq!(g.tokens, vec![64, 65]);
        assert_eq!(g.top_logprobs, Some(vec![-0.25, -0.1]));
        for missing in [Value::Null, json!([{"token_id:64": -0.25}, null])] {
            let g = parse_openai(&openai(missing), "\n").unwrap().generation;
            assert_eq!(g.logprobs, vec![-0.25, -2.5]);
            assert_eq!(g.top_logprobs, None);
        }
        // llama.cpp's OpenAI-compatible layout: `content: [{id, logprob, top_logprobs}]`.
        let v = json!({"choices": [{"text": "ab", "finish_reason": "length", "logprobs": {"content": [
            {"id": 64, "token": "a", "logprob": -0.25, "top_logprobs": [{"id": 64, "token": "a", "logprob": -0.25}]},
            {"id": 65, "token": "b", "logprob": -2.5, "top_logprobs": [{"id": 66, "token": "c", "logprob": -0.1}]}
        ]}}]});
        let g = parse_openai(&v, "\n").unwrap().generation;
        assert_eq!(g.top_logprobs, Some(vec![-0.25, -0.1]));
        // No log-probabilities at all: tokens counted from usage, top ones unknown.
        let v = json!({"choices": [{"text": "ab", "finish_reason": "length", "logprobs": null}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 2}});
        assert_eq!(
            parse_openai(&v, "\n").unwrap().generation.top_logprobs,
            None
        );
    }

    #[test]
    fn continuation_seeds_differ_and_stay_put() {
        let a = continuation_seed(7, 0, 0);
        assert_eq!(a, continuation_seed(7, 0, 0));
        let all: std::collections::HashSet<u64> = (0..64)
            .flat_map(|i| (0..4).map(move |s| continuation_seed(7, i, s)))
            .collect();
        assert_eq!(all.len(), 256);
        assert!(all.iter().all(|&s| s < 1 << 31));
    }

    /// An OpenAI-compatible server whose completions answer with the request's seed as the
    /// text, one step at a time.
    fn echo_server(fail_first: usize) -> (String, Arc<Mutex<Vec<Seen>>>) {
        server(move |s, n| {
            if s.line.starts_with("GET /props") {
                return (404, vec![], "{\"error\":\"not found\"}".into());
            }
            if s.line.starts_with("GET /v1/models") {
                return (200, vec![], models("vllm"));
            }
            if s.line.starts_with("POST /tokenize") {
                return (404, vec![], "{\"detail\":\"Not Found\"}".into());
            }
            if n < fail_first + 2 {
                return (503, vec![], "overloaded".into());
            }
            let b: Value = serde_json::from_str(&s.body).unwrap();
            let seed = b["seed"].as_u64().unwrap();
            let text = format!("s{}", seed % 1000);
            (
                200,
                vec![],
                vllm_reply(&[(&text, 5), ("\n", 198)], "stop", json!("\n")),
            )
        })
    }

    fn problem() -> Problem {
        crate::data::toy::problem("t".into(), 1, "2+3".into(), 5)
    }

    /// `n` whole solutions from the root.
    fn to_end(p: &mut RemotePolicy, n: usize, cancel: &CancelToken) -> Gens {
        p.extend(
            &problem(),
            &[Extend::new(&Prefix::root(), n, 0)],
            Until::End,
            "\n",
            &SamplingParams::default(),
            &mut ComputeMeter::default(),
            cancel,
        )
    }

    type Gens = anyhow::Result<Vec<Vec<Generation>>>;

    /// One step of each request, charged to `meter`.
    fn one_step(p: &mut RemotePolicy, reqs: &[Extend<'_>], meter: &mut ComputeMeter) -> Gens {
        p.extend(
            &problem(),
            reqs,
            Until::Step,
            "\n",
            &SamplingParams::default(),
            meter,
            &CancelToken::new(),
        )
    }

    /// The solution so far `text` (no token ids).
    fn prefix(text: &str) -> Prefix {
        Prefix {
            text: text.into(),
            ids: Vec::new(),
        }
    }

    #[test]
    fn extend_on_an_openai_server_keeps_order_seeds_and_counts() {
        let (url, seen) = echo_server(0);
        let mut p = RemotePolicy::connect(&url, &quick(), PromptFormat::Auto).unwrap();
        assert_eq!(p.capabilities().dialect, Dialect::OpenAi);
        assert_eq!(p.capabilities().server.as_deref(), Some("vllm"));
        assert_eq!(p.prompt_format(), PromptFormat::Raw);
        let root = Prefix::root();
        let step = prefix("2+3\n");
        let reqs = [Extend::new(&root, 3, 11), Extend::new(&step, 2, 12)];
        let mut meter = ComputeMeter::default();
        let out = one_step(&mut p, &reqs, &mut meter).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].len(), out[1].len()), (3, 2));
        for (r, gens) in reqs.iter().zip(&out) {
            for (i, g) in gens.iter().enumerate() {
                let want = format!("s{}\n", continuation_seed(r.seed, i, 0) % 1000);
                assert_eq!(g.text, want);
                assert_eq!(g.step_ends, vec![2]);
            }
        }
        assert_eq!(meter.generated_tokens, 10);
        assert_eq!((meter.prompt_tokens, meter.prompt_tokens_cached), (20, 40));
        let seen = seen.lock().unwrap();
        let bodies: Vec<Value> = seen
            .iter()
            .filter(|s| s.line.starts_with("POST /v1/completions"))
            .map(|s| serde_json::from_str(&s.body).unwrap())
            .collect();
        assert_eq!(bodies.len(), 5);
        assert!(bodies
            .iter()
            .all(|b| b["n"] == 1 && b["stop"] == json!(["\n"])));
        assert!(bodies.iter().any(|b| b["prompt"] == "2+3\n2+3\n"));
        assert!(bodies.iter().all(|b| b["model"] == "m"));
    }

    /// A llama.cpp server with `slots` slots whose `/completion` answers `n_cmpl` siblings
    /// (`siblings`), or one completion whatever it is asked (a server older than `n_cmpl`).
    /// Sibling `j` of a request seeded `s` says `s{s + j}`; the prompt is 10 tokens, 4 of them
    /// run.
    fn llama_server(slots: usize, siblings: bool) -> (String, Arc<Mutex<Vec<Seen>>>) {
        server(move |s, _| {
            if s.line.starts_with("GET /props") {
                let props =
                    json!({"total_slots": slots, "default_generation_settings": {"n_ctx": 2048}});
                return (200, vec![], props.to_string());
            }
            if s.line.starts_with("GET /v1/models") {
                return (200, vec![], models("llamacpp"));
            }
            let b: Value = serde_json::from_str(&s.body).unwrap();
            let seed = b["seed"].as_u64().unwrap();
            let n = if siblings {
                b["n_cmpl"].as_u64().unwrap()
            } else {
                1
            };
            let reply = |j: u64| {
                json!({
                    "content": format!("s{}", seed + j),
                    "tokens": [5],
                    "stop_type": "word",
                    "stopping_word": "\n",
                    "tokens_predicted": 2,
                    "tokens_evaluated": 10,
                    "timings": {"prompt_n": 4},
                })
            };
            let body = match n {
                1 => reply(0),
                _ => Value::Array((0..n).map(reply).collect()),
            };
            (200, vec![], body.to_string())
        })
    }

    /// On llama.cpp a request's continuations go as siblings of one prompt, as many per
    /// request as the server has slots; each continuation draws from the same seed however
    /// they are grouped, also from a server that answers one at a time; the prompt is charged
    /// once per request.
    #[test]
    fn llama_cpp_siblings_share_a_prompt_and_keep_their_seeds() {
        let root = Prefix::root();
        let step = prefix("2+3\n");
        let reqs = [Extend::new(&root, 7, 11), Extend::new(&step, 2, 12)];
        let mut texts = Vec::new();
        // (slots, answers siblings, concurrency, siblings asked for, requests)
        for (slots, answers, concurrency, siblings, asked) in [
            (3, true, 16, 16, 3 + 1),
            (16, true, 4, 16, 2 + 1),
            (16, true, 16, 2, 4 + 1),
            (16, false, 16, 16, 7 + 2),
            (1, true, 16, 16, 7 + 2),
        ] {
            let (url, seen) = llama_server(slots, answers);
            let o = RemoteOptions {
                concurrency,
                samples_per_request: siblings,
                ..quick()
            };
            let mut p = RemotePolicy::connect(&url, &o, PromptFormat::Raw).unwrap();
            let mut meter = ComputeMeter::default();
            let out = one_step(&mut p, &reqs, &mut meter).unwrap();
            let got: Vec<Vec<String>> = out
                .iter()
                .map(|r| r.iter().map(|g| g.text.clone()).collect())
                .collect();
            let want: Vec<Vec<String>> = [(11, 7), (12, 2)]
                .iter()
                .map(|&(seed, n)| {
                    (0..n)
                        .map(|i| format!("s{}\n", sibling_seed(seed, i)))
                        .collect()
                })
                .collect();
            assert_eq!(got, want, "{slots} slots");
            let posts: Vec<Value> = seen
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.line.starts_with("POST /completion"))
                .map(|s| serde_json::from_str(&s.body).unwrap())
                .collect();
            assert_eq!(
                posts.len(),
                asked,
                "{slots} slots, concurrency {concurrency}"
            );
            let cap = slots.min(concurrency).min(siblings) as u64;
            assert!(posts.iter().all(|b| b["n_cmpl"].as_u64().unwrap() <= cap));
            assert_eq!(meter.generated_tokens, 9 * 2);
            assert_eq!(meter.prompt_tokens, 4 * asked as u64, "{slots} slots");
            assert_eq!(meter.prompt_tokens + meter.prompt_tokens_cached, 9 * 10);
            texts.push(got);
        }
        // k steps stay k chained requests, one continuation each.
        let (url, seen) = llama_server(4, true);
        let mut p = RemotePolicy::connect(&url, &quick(), PromptFormat::Raw).unwrap();
        p.extend(
            &problem(),
            &[Extend::new(&root, 2, 3)],
            Until::Steps(2),
            "\n",
            &SamplingParams::default(),
            &mut ComputeMeter::default(),
            &CancelToken::new(),
        )
        .unwrap();
        let seen = seen.lock().unwrap();
        let posts: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.line.starts_with("POST /completion"))
            .collect();
        assert_eq!(posts.len(), 4);
        assert!(posts.iter().all(|s| s.body.contains("\"n_cmpl\":1")));
    }

    #[test]
    fn k_steps_are_k_chained_requests() {
        let (url, seen) = echo_server(0);
        let mut p = RemotePolicy::connect(&url, &quick(), PromptFormat::Raw).unwrap();
        let root = Prefix::root();
        let out = p
            .extend(
                &problem(),
                &[Extend::new(&root, 1, 3)],
                Until::Steps(3),
                "\n",
                &SamplingParams::default(),
                &mut ComputeMeter::default(),
                &CancelToken::new(),
            )
            .unwrap();
        let g = &out[0][0];
        assert_eq!(g.step_ends, vec![2, 4, 6]);
        assert_eq!(g.tokens.len(), 6);
        // Replies without top log-probabilities leave the chained generation without them.
        assert_eq!((&g.top_logprobs, &g.uniform_kls), (&None, &None));
        let prompts: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.line.starts_with("POST"))
            .map(|s| {
                serde_json::from_str::<Value>(&s.body).unwrap()["prompt"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(prompts.len(), 3);
        assert!(prompts[2].starts_with(&prompts[1]) && prompts[1].starts_with(&prompts[0]));
    }

    #[test]
    fn overloaded_and_broken_replies_are_retried_then_named() {
        // Two 503s, then a 429 with Retry-After, then a reply that is not JSON, then success.
        let (url, seen) = server(|s, n| match (s.line.split(' ').nth(1).unwrap_or(""), n) {
            ("/props", _) => (404, vec![], "{}".into()),
            ("/v1/models", _) => (200, vec![], models("sglang")),
            (_, 2 | 3) => (503, vec![], "busy".into()),
            (_, 4) => (429, vec!["Retry-After: 0".into()], "slow down".into()),
            (_, 5) => (200, vec![], "{\"choices\": [".into()),
            _ => (200, vec![], vllm_reply(&[("1", 1)], "stop", Value::Null)),
        });
        let o = RemoteOptions {
            retries: 4,
            ..quick()
        };
        let mut p = RemotePolicy::connect(&url, &o, PromptFormat::Raw).unwrap();
        let run = |p: &mut RemotePolicy| to_end(p, 1, &CancelToken::new());
        let out = run(&mut p).unwrap();
        assert!(out[0][0].ended);
        assert_eq!(seen.lock().unwrap().len(), 7);
        // With fewer tries the same trouble is an error naming the server and the tries.
        let (url, _) = server(|s, _| match s.line.split(' ').nth(1).unwrap_or("") {
            "/props" => (404, vec![], "{}".into()),
            "/v1/models" => (200, vec![], models("vllm")),
            _ => (500, vec![], "{\"error\": \"CUDA out of memory\"}".into()),
        });
        let mut p = RemotePolicy::connect(&url, &quick(), PromptFormat::Raw).unwrap();
        let e = format!("{:#}", run(&mut p).unwrap_err());
        assert!(
            e.contains(&url) && e.contains("HTTP 500") && e.contains("after 4 tries"),
            "{e}"
        );
        assert!(
            e.contains("CUDA out of memory") && e.contains("problem t"),
            "{e}"
        );
    }

    #[test]
    fn bad_requests_and_redirects_are_not_followed_or_retried() {
        let (url, seen) = server(|s, _| match s.line.split(' ').nth(1).unwrap_or("") {
            "/props" => (404, vec![], "{}".into()),
            "/v1/models" => (200, vec![], models("vllm")),
            _ => (
                302,
                vec!["Location: http://127.0.0.1:9/elsewhere".into()],
                "".into(),
            ),
        });
        let mut p = RemotePolicy::connect(&url, &quick(), PromptFormat::Raw).unwrap();
        let e = to_end(&mut p, 1, &CancelToken::new()).unwrap_err();
        assert!(format!("{e:#}").contains("302"), "{e:#}");
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_refused_connection_names_the_server_and_a_wrong_model_lists_the_served() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", free.local_addr().unwrap());
        drop(free);
        let e = RemotePolicy::connect(&url, &quick(), PromptFormat::Raw)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains(&url), "{e:#}");
        let (url, _) = server(|s, _| match s.line.split(' ').nth(1).unwrap_or("") {
            "/v1/models" => (200, vec![], models("vllm")),
            _ => (404, vec![], "{}".into()),
        });
        let o = RemoteOptions {
            model: Some("qwen".into()),
            ..quick()
        };
        let e = RemotePolicy::connect(&url, &o, PromptFormat::Raw)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("does not serve model `qwen`; it serves: m"));
        assert!(RemotePolicy::connect("127.0.0.1:8080", &quick(), PromptFormat::Raw).is_err());
    }

    #[test]
    fn the_api_key_goes_in_a_header_and_nowhere_else() {
        let var = "THINKSCALE_TEST_REMOTE_KEY";
        std::env::set_var(var, "sk-secret-123");
        let (url, seen) = echo_server(0);
        let o = RemoteOptions {
            api_key_env: var.into(),
            ..quick()
        };
        let p = RemotePolicy::connect(&url, &o, PromptFormat::Raw).unwrap();
        assert!(seen.lock().unwrap().iter().all(|s| s
            .headers
            .iter()
            .any(|h| h == "Authorization: Bearer sk-secret-123")));
        let saved = serde_json::to_string(&o).unwrap() + &p.name();
        assert!(!saved.contains("sk-secret"), "{saved}");
        std::env::remove_var(var);
    }

    #[test]
    fn cancelling_stops_between_retries() {
        let (url, _) = server(|s, _| match s.line.split(' ').nth(1).unwrap_or("") {
            "/props" => (404, vec![], "{}".into()),
            "/v1/models" => (200, vec![], models("vllm")),
            _ => (503, vec![], "busy".into()),
        });
        let o = RemoteOptions {
            retries: 1000,
            backoff_ms: 50,
            ..quick()
        };
        let mut p = RemotePolicy::connect(&url, &o, PromptFormat::Raw).unwrap();
        let cancel = CancelToken::new();
        let c = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            c.cancel();
        });
        let e = to_end(&mut p, 4, &cancel).unwrap_err();
        t.join().unwrap();
        assert!(e.is::<Cancelled>(), "{e:#}");
    }

    #[test]
    fn vllm_renders_the_chat_template_through_tokenize_and_sglang_stays_raw() {
        // Replies in the shape of vLLM's documented /tokenize and /detokenize (not run here).
        let (url, seen) = server(|s, _| {
            let b: Value = serde_json::from_str(&s.body).unwrap_or_default();
            let body = match s.line.split(' ').nth(1).unwrap_or("") {
                "/props" => return (404, vec![], "{}".into()),
                "/v1/models" => models("vllm"),
                "/tokenize" => {
                    assert_eq!(b["add_generation_prompt"], true);
                    let q = b["messages"][0]["content"].as_str().unwrap();
                    json!({"count": 2, "max_model_len": 2048, "tokens": [1, q.len()], "token_strs": null})
                        .to_string()
                }
                "/detokenize" => {
                    let n = b["tokens"][1].as_u64().unwrap();
                    json!({"prompt": format!("<s>[user:{n}]")}).to_string()
                }
                "/v1/completions" => vllm_reply(&[("4", 19), ("\n", 198)], "stop", json!("\n")),
                _ => return (404, vec![], "{}".into()),
            };
            (200, vec![], body)
        });
        let mut p = RemotePolicy::connect(&url, &quick(), PromptFormat::Auto).unwrap();
        assert!(p.capabilities().chat_template);
        assert_eq!(p.prompt_format(), PromptFormat::Chat);
        let step = prefix("1+1=2: 2\n");
        for _ in 0..2 {
            one_step(
                &mut p,
                &[Extend::new(&step, 1, 0)],
                &mut ComputeMeter::default(),
            )
            .unwrap();
        }
        let seen = seen.lock().unwrap();
        let count = |path: &str| seen.iter().filter(|s| s.line.contains(path)).count();
        // One probe, then the problem's prompt rendered once and reused.
        assert_eq!((count("/tokenize"), count("/detokenize")), (2, 1));
        let last: Value = serde_json::from_str(&seen.last().unwrap().body).unwrap();
        assert_eq!(last["prompt"], "<s>[user:3]1+1=2: 2\n");
        assert_eq!(last["add_special_tokens"], false);
        drop(seen);
        // A server without /tokenize (SGLang): auto is raw, and chat is refused by name.
        let (url, _) = server(|s, _| match s.line.split(' ').nth(1).unwrap_or("") {
            "/v1/models" => (200, vec![], models("sglang")),
            _ => (404, vec![], "{}".into()),
        });
        let p = RemotePolicy::connect(&url, &quick(), PromptFormat::Auto).unwrap();
        assert_eq!(p.prompt_format(), PromptFormat::Raw);
        let err = RemotePolicy::connect(&url, &quick(), PromptFormat::Chat)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("SGLang") && err.contains("--prompt raw"),
            "{err}"
        );
    }
}
