//! The compute meter: every forward pass adds its tokens and FLOPs here, so every strategy's
//! cost is measured the same way. The policy's and the verifier's costs are kept apart (the
//! paper's FLOPs exchange counts the policy alone), and the budget is recorded in the paper's
//! unit, generations (full-solution equivalents).

use serde::{Deserialize, Serialize};

/// Tokens and floating-point operations spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ComputeMeter {
    /// Prompt (and prefix) tokens run through the policy.
    pub prompt_tokens: u64,
    /// Prompt tokens not run because the prefix cache held them (shared by the samples of one
    /// prompt, or by an earlier sequence that starts the same way).
    #[serde(default)]
    pub prompt_tokens_cached: u64,
    /// Tokens run at a prefix the policy had already run (the prefix cache had dropped it, or
    /// it could not serve it): the waste prefix sharing exists to avoid.
    #[serde(default)]
    pub recomputed_tokens: u64,
    /// Of the recomputed tokens, those of prompts and prefixes (a prefix's last token runs
    /// again where the cache holds its keys and values but not the logits after it: a prefix
    /// that ends inside a longer sequence run before, other than at that sequence's first
    /// step, whose logits are kept). The rest were sampled again along a path an earlier pass
    /// had already sampled (MCTS's rollouts retrace one another).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recomputed_prefix_tokens: u64,
    /// Tokens the policy generated.
    pub generated_tokens: u64,
    /// Tokens a learned verifier ran through its model (0 for the oracle and for the log-prob
    /// verifier, which reads the policy's own log-probabilities).
    pub verifier_tokens: u64,
    /// The policy's forward-pass FLOPs: `2·P` per token plus the attention term
    /// `4·layers·hidden·context`. (Records written before the verifier's FLOPs were kept apart
    /// call it `flops`, and it includes theirs.)
    #[serde(alias = "flops")]
    pub policy_flops: f64,
    /// The verifier's forward-pass FLOPs, counted the same way with its own size.
    #[serde(default)]
    pub verifier_flops: f64,
    /// The budget spent, in generations (full-solution equivalents): N for best-of-N and beam
    /// search, N x (k + 1) for lookahead search with k steps of lookahead.
    #[serde(default)]
    pub generations: u64,
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

impl ComputeMeter {
    /// Adds another meter's counts to this one.
    pub fn add(&mut self, other: &ComputeMeter) {
        self.prompt_tokens += other.prompt_tokens;
        self.prompt_tokens_cached += other.prompt_tokens_cached;
        self.recomputed_tokens += other.recomputed_tokens;
        self.recomputed_prefix_tokens += other.recomputed_prefix_tokens;
        self.generated_tokens += other.generated_tokens;
        self.verifier_tokens += other.verifier_tokens;
        self.policy_flops += other.policy_flops;
        self.verifier_flops += other.verifier_flops;
        self.generations += other.generations;
    }

    /// FLOPs of the policy and the verifier together.
    pub fn total_flops(&self) -> f64 {
        self.policy_flops + self.verifier_flops
    }

    /// All tokens the policy processed.
    pub fn policy_tokens(&self) -> u64 {
        self.prompt_tokens + self.generated_tokens
    }
}

/// The FLOPs of one token's forward pass at context length `context`.
pub fn flops_per_token(params: u64, layers: usize, hidden: usize, context: usize) -> f64 {
    2.0 * params as f64 + 4.0 * layers as f64 * hidden as f64 * context as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meters_add_up() {
        let mut a = ComputeMeter {
            prompt_tokens: 1,
            generated_tokens: 2,
            verifier_tokens: 3,
            policy_flops: 4.0,
            verifier_flops: 1.0,
            generations: 2,
            ..Default::default()
        };
        a.add(&a.clone());
        assert_eq!(
            a,
            ComputeMeter {
                prompt_tokens: 2,
                generated_tokens: 4,
                verifier_tokens: 6,
                policy_flops: 8.0,
                verifier_flops: 2.0,
                generations: 4,
                ..Default::default()
            }
        );
        assert_eq!(a.policy_tokens(), 6);
        assert_eq!(a.total_flops(), 10.0);
        let old: ComputeMeter = serde_json::from_str(
            r#"{"prompt_tokens":1,"generated_tokens":2,"verifier_tokens":0,"flops":5.0}"#,
        )
        .unwrap();
        assert_eq!(old.policy_flops, 5.0);
        assert_eq!(flops_per_token(10, 2, 4, 3), 20.0 + 96.0);
    }
}
