//! The flags of a policy on an inference server (`--policy remote:http://HOST:PORT`), shared by
//! `run`, `sweep` and `evaluate`.

use crate::backend::RemoteOptions;
use clap::Args;

/// How to talk to a remote policy's server; ignored for a local policy.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// The served model a remote policy asks for (`/v1/models` lists them). Default: the
    /// server's only model.
    #[arg(long)]
    pub model: Option<String>,
    /// Continuations in flight at once to a remote policy's server, counted across every
    /// search of the run: servers batch across requests, so this is how many sequences it
    /// decodes together (llama.cpp: at most its -np slots).
    #[arg(long, default_value_t = RemoteOptions::default().concurrency)]
    pub concurrency: usize,
    /// Environment variable holding the server's API key (sent as a bearer token; never
    /// written to configs, records or logs).
    #[arg(long, default_value_t = RemoteOptions::default().api_key_env)]
    pub api_key_env: String,
    /// Seconds one request to the server may take.
    #[arg(long, default_value_t = RemoteOptions::default().timeout_s)]
    pub request_timeout: u64,
    /// Tries after the first when the server refuses, times out, answers 429 or 5xx, or
    /// replies with something that is not the JSON expected (waits double from 0.5 s).
    #[arg(long, default_value_t = RemoteOptions::default().retries)]
    pub retries: u32,
    /// The remote policy's parameter count, for FLOPs where the server does not report it
    /// (llama.cpp does; vLLM and SGLang do not).
    #[arg(long)]
    pub policy_params: Option<u64>,
    /// llama.cpp only: the most continuations of one prefix that one request asks for as
    /// siblings of one prompt (`n_cmpl`): the server runs the prompt once for them, but their
    /// slots wait for the longest. Samples do not depend on it.
    #[arg(long, default_value_t = RemoteOptions::default().samples_per_request)]
    pub samples_per_request: usize,
}

impl RemoteArgs {
    /// The options these flags give.
    pub fn options(&self) -> RemoteOptions {
        RemoteOptions {
            model: self.model.clone(),
            concurrency: self.concurrency,
            api_key_env: self.api_key_env.clone(),
            timeout_s: self.request_timeout,
            retries: self.retries,
            params: self.policy_params,
            samples_per_request: self.samples_per_request,
            ..RemoteOptions::default()
        }
    }
}
