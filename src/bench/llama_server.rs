//! The bench workloads against a running llama.cpp server (`llama-server`), through its native
//! `/completion` endpoint with token-id prompts, so it sees exactly the engine's tokens.
//!
//! Start it with as many slots as the widest workload (`-np 32`) and room for each
//! (`-c 32768`: 1024 tokens a slot); see the README's benchmarking section.

use super::{kept_beams, step_sampling, BenchConfig, Measured};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A llama.cpp server at a base URL.
#[derive(Debug, Clone)]
pub struct LlamaServer {
    url: String,
    agent: ureq::Agent,
    /// Parallel slots the server reports (`/props` `total_slots`), where it does.
    pub slots: Option<usize>,
    /// The model file it serves, where it says.
    pub model: Option<String>,
}

/// Trouble with the server, naming it.
#[derive(Debug, thiserror::Error)]
#[error("llama.cpp server at {url}: {reason}")]
pub struct ServerError {
    url: String,
    reason: String,
}

impl LlamaServer {
    /// Connects to the server at `url` (`http://HOST:PORT`) and reads its properties.
    pub fn connect(url: &str) -> Result<Self, ServerError> {
        let url = url.trim_end_matches('/').to_string();
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(1800))
            .build();
        let mut s = Self {
            url,
            agent,
            slots: None,
            model: None,
        };
        let props = s.get("/props")?;
        s.slots = props
            .get("total_slots")
            .and_then(Value::as_u64)
            .map(|n| n as usize);
        s.model = props
            .get("model_path")
            .and_then(Value::as_str)
            .map(String::from);
        Ok(s)
    }

    fn error(&self, reason: impl std::fmt::Display) -> ServerError {
        ServerError {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    fn get(&self, path: &str) -> Result<Value, ServerError> {
        let r = self
            .agent
            .get(&format!("{}{path}", self.url))
            .call()
            .map_err(|e| self.error(format!("GET {path}: {e}")))?;
        r.into_json()
            .map_err(|e| self.error(format!("GET {path}: not JSON: {e}")))
    }

    /// One `/completion` request; returns the generated token ids.
    fn complete(&self, body: &Value) -> Result<Vec<u32>, ServerError> {
        let r = self
            .agent
            .post(&format!("{}/completion", self.url))
            .send_json(body)
            .map_err(|e| self.error(format!("POST /completion: {e}")))?;
        let v: Value = r
            .into_json()
            .map_err(|e| self.error(format!("POST /completion: not JSON: {e}")))?;
        let tokens = v.get("tokens").and_then(Value::as_array).ok_or_else(|| {
            self.error("the reply has no `tokens` (a llama.cpp server too old for return_tokens?)")
        })?;
        Ok(tokens
            .iter()
            .filter_map(|t| t.as_u64().map(|t| t as u32))
            .collect())
    }

    /// Sends `bodies` at once, one connection each; returns their token ids in order and the
    /// wall time of the whole batch.
    fn concurrent(&self, bodies: &[Value]) -> Result<(Vec<Vec<u32>>, f64), ServerError> {
        let t = Instant::now();
        let out: Vec<Result<Vec<u32>, ServerError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|b| scope.spawn(move || self.complete(b)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(self.error("a request thread panicked")))
                })
                .collect()
        });
        let secs = t.elapsed().as_secs_f64();
        Ok((out.into_iter().collect::<Result<_, _>>()?, secs))
    }

    /// The prompt workload: `prompt` processed from nothing (the server's prompt cache off).
    pub fn prompt(&mut self, prompt: &[u32]) -> Result<Measured, ServerError> {
        let body = json!({
            "prompt": prompt, "n_predict": 1, "temperature": 0.0, "cache_prompt": false,
            "return_tokens": true,
        });
        let (_, seconds) = self.concurrent(&[body])?;
        Ok(Measured {
            tokens: prompt.len() as u64,
            seconds,
        })
    }

    /// The generation workload: `n` greedy sequences of `gen_tokens` after `prompt`, sent at
    /// once.
    pub fn generate(
        &mut self,
        prompt: &[u32],
        n: usize,
        gen_tokens: usize,
    ) -> Result<Measured, ServerError> {
        let body = json!({
            "prompt": prompt, "n_predict": gen_tokens, "temperature": 0.0, "ignore_eos": true,
            "cache_prompt": false, "return_tokens": true,
        });
        let (out, seconds) = self.concurrent(&vec![body; n])?;
        Ok(Measured {
            tokens: out.iter().map(|t| t.len() as u64).sum(),
            seconds,
        })
    }

    /// The beam workload (see [`super`]): every round's expansions sent at once, the server's
    /// prompt cache on.
    pub fn beam(&mut self, prompt: &[u32], cfg: &BenchConfig) -> Result<Measured, ServerError> {
        let params = step_sampling(cfg.step_tokens);
        let mut beams: Vec<Vec<u32>> = vec![prompt.to_vec(); cfg.beam_width];
        let (mut tokens, mut seconds) = (0u64, 0.0);
        for round in 0..cfg.steps {
            let mut bodies = Vec::new();
            for (b, beam) in beams.iter().enumerate() {
                for i in 0..cfg.expansions {
                    bodies.push(json!({
                        "prompt": beam, "n_predict": params.max_tokens,
                        "temperature": params.temperature, "top_k": params.top_k,
                        "top_p": 1.0, "min_p": 0.0, "ignore_eos": true, "cache_prompt": true,
                        "return_tokens": true,
                        "seed": (cfg.seed ^ ((round * cfg.beam_width + b) as u64) << 8) + i as u64,
                    }));
                }
            }
            let (out, secs) = self.concurrent(&bodies)?;
            seconds += secs;
            tokens += out.iter().map(|t| t.len() as u64).sum::<u64>();
            let children: Vec<Vec<Vec<u32>>> =
                out.chunks(cfg.expansions).map(|c| c.to_vec()).collect();
            beams = kept_beams(&beams, &children, cfg.expansions);
        }
        Ok(Measured { tokens, seconds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_server_is_named() {
        // Port 9 (discard) on localhost: nothing listens there in the test environment.
        let e = LlamaServer::connect("http://127.0.0.1:9/").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("llama.cpp server at http://127.0.0.1:9: GET /props"),
            "{text}"
        );
    }
}
