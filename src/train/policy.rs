//! Training the toy models from scratch on CPU.
//!
//! candle-transformers' Qwen2 uses fused ops without a backward pass (`rms_norm`,
//! `softmax_last_dim`, `rope`), so it trains silently only its `lm_head`. Training therefore uses
//! a twin built from the slow, differentiable ops with exactly the checkpoint's tensor names;
//! the saved weights are then served by the stock model ([`crate::engine::CausalLm`]).

use crate::data::toy;
use crate::engine::chat::toy_prompt;
use crate::engine::tokenizer::{toy_tokenizer_json, toy_vocab_size, TextTokenizer, TOY_EOS};
use crate::engine::toy::ToyArch;
use anyhow::Context;
use candle_core::{DType, Device, Module, Tensor, Var, D};
use candle_nn::{linear_b, linear_no_bias, Init, Linear, Optimizer, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// How to train the toy policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TrainConfig {
    /// Seeds initialisation and the training problems.
    pub seed: u64,
    /// Optimiser steps.
    pub steps: usize,
    /// Sequences per step (all of one level, so little padding).
    pub batch_size: usize,
    /// Peak learning rate of AdamW.
    pub lr: f64,
    /// Linear warm-up steps before the cosine decay.
    pub warmup: usize,
    /// The model's shape.
    pub arch: ToyArch,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            steps: 2000,
            batch_size: 32,
            lr: 2e-3,
            warmup: 100,
            arch: ToyArch::default(),
        }
    }
}

fn rms_norm(x: &Tensor, w: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    candle_nn::ops::rms_norm_slow(x, w, eps)
}

struct Block {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    gate: Linear,
    up: Linear,
    down: Linear,
    ln1: Tensor,
    ln2: Tensor,
}

/// The differentiable twin of candle-transformers' Qwen2 (same tensor names).
pub struct Twin {
    embed: Tensor,
    blocks: Vec<Block>,
    norm: Tensor,
    lm_head: Option<Linear>,
    cos: Tensor,
    sin: Tensor,
    heads: usize,
    head_dim: usize,
    hidden: usize,
}

impl Twin {
    /// Builds the twin's variables in `vb` (names as in a Hugging Face Qwen2 checkpoint).
    pub fn new(arch: &ToyArch, vocab: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let mut twin = Self::backbone(arch, vocab, vb.clone())?;
        twin.lm_head = Some(linear_no_bias(arch.hidden_size, vocab, vb.pp("lm_head"))?);
        Ok(twin)
    }

    /// The twin without its language-model head (`model.*` only), for reward models.
    pub fn backbone(arch: &ToyArch, vocab: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let h = arch.hidden_size;
        let m = vb.pp("model");
        let embed = m
            .pp("embed_tokens")
            .get_with_hints((vocab, h), "weight", Init::Const(0.0))?;
        let mut blocks = Vec::new();
        for i in 0..arch.num_hidden_layers {
            let l = m.pp("layers").pp(i);
            let a = l.pp("self_attn");
            let mlp = l.pp("mlp");
            blocks.push(Block {
                q: linear_b(h, h, true, a.pp("q_proj"))?,
                k: linear_b(h, h, true, a.pp("k_proj"))?,
                v: linear_b(h, h, true, a.pp("v_proj"))?,
                o: linear_no_bias(h, h, a.pp("o_proj"))?,
                gate: linear_no_bias(h, arch.intermediate_size, mlp.pp("gate_proj"))?,
                up: linear_no_bias(h, arch.intermediate_size, mlp.pp("up_proj"))?,
                down: linear_no_bias(arch.intermediate_size, h, mlp.pp("down_proj"))?,
                ln1: l
                    .pp("input_layernorm")
                    .get_with_hints(h, "weight", Init::Const(1.0))?,
                ln2: l.pp("post_attention_layernorm").get_with_hints(
                    h,
                    "weight",
                    Init::Const(1.0),
                )?,
            });
        }
        let norm = m.pp("norm").get_with_hints(h, "weight", Init::Const(1.0))?;
        let head_dim = h / arch.num_attention_heads;
        let inv: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| 1.0 / 10000f32.powf(i as f32 / head_dim as f32))
            .collect();
        let n = inv.len();
        let inv = Tensor::from_vec(inv, (1, n), vb.device())?;
        let t = Tensor::arange(0u32, arch.max_position_embeddings as u32, vb.device())?
            .to_dtype(DType::F32)?
            .reshape((arch.max_position_embeddings, 1))?;
        let freqs = t.matmul(&inv)?;
        Ok(Self {
            embed,
            blocks,
            norm,
            lm_head: None,
            cos: freqs.cos()?,
            sin: freqs.sin()?,
            heads: arch.num_attention_heads,
            head_dim,
            hidden: h,
        })
    }

    /// Logits `(batch, time, vocab)` for token ids `(batch, time)` under a causal mask.
    pub fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let head = self.lm_head.as_ref().ok_or_else(|| {
            candle_core::Error::Msg("this twin has no language-model head".into())
        })?;
        head.forward(&self.hidden(ids)?)
    }

    /// Final normalised hidden states `(batch, time, hidden)` under a causal mask.
    pub fn hidden(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let mut x = candle_nn::Embedding::new(self.embed.clone(), self.hidden).forward(ids)?;
        let mask: Vec<f32> = (0..t)
            .flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (t, t), ids.device())?;
        let cos = self.cos.narrow(0, 0, t)?;
        let sin = self.sin.narrow(0, 0, t)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        for blk in &self.blocks {
            let hn = rms_norm(&x, &blk.ln1, 1e-6)?;
            let split = |l: &Linear| -> candle_core::Result<Tensor> {
                l.forward(&hn)?
                    .reshape((b, t, self.heads, self.head_dim))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let q = candle_nn::rotary_emb::rope_slow(&split(&blk.q)?, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope_slow(&split(&blk.k)?, &cos, &sin)?;
            let v = split(&blk.v)?;
            let att = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask)?;
            let att = candle_nn::ops::softmax(&att, D::Minus1)?;
            let y = att
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((b, t, self.hidden))?;
            x = (x + blk.o.forward(&y)?)?;
            let hn = rms_norm(&x, &blk.ln2, 1e-6)?;
            let mlp = blk
                .down
                .forward(&(blk.gate.forward(&hn)?.silu()? * blk.up.forward(&hn)?)?)?;
            x = (x + mlp)?;
        }
        rms_norm(&x, &self.norm, 1e-6)
    }
}

/// Sets every variable from a seeded generator: norms to one, biases to zero, weights normal
/// with standard deviation 0.02 (residual output projections scaled by `1/sqrt(2·layers)`).
pub fn seeded_init(varmap: &VarMap, layers: usize, seed: u64) -> candle_core::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = varmap
        .data()
        .lock()
        .map_err(|_| candle_core::Error::Msg("poisoned var map".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var: &Var = &data[name];
        let n = var.elem_count();
        let values: Vec<f32> = if name.ends_with("norm.weight") {
            vec![1.0; n]
        } else if name.ends_with(".bias") {
            vec![0.0; n]
        } else {
            let std = if name.contains("o_proj") || name.contains("down_proj") {
                0.02 / (2.0 * layers as f32).sqrt()
            } else {
                0.02
            };
            (0..n)
                .map(|_| {
                    // Box-Muller: portable, seeded normal draws.
                    let u1: f32 = rng.random::<f32>().max(1e-12);
                    let u2: f32 = rng.random();
                    std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
                })
                .collect()
        };
        var.set(&Tensor::from_vec(values, var.shape(), var.device())?)?;
    }
    Ok(())
}

/// One training batch: inputs, targets and a loss mask that covers only solution tokens.
pub struct Batch {
    /// Input ids `(batch, time)`.
    pub inputs: Tensor,
    /// Next-token targets `(batch, time)`.
    pub targets: Tensor,
    /// 1 where the target is part of a solution (or its end), else 0.
    pub mask: Tensor,
    /// Number of target tokens under the mask.
    pub tokens: usize,
}

/// Builds a batch of canonical solutions to fresh problems of `level`, none from the
/// evaluation split.
pub fn make_batch(
    tok: &TextTokenizer,
    level: u8,
    size: usize,
    rng: &mut ChaCha8Rng,
    exclude: &std::collections::HashSet<String>,
    device: &Device,
) -> anyhow::Result<Batch> {
    let bos = tok.bos_id.unwrap_or(tok.eos_id);
    let mut seqs = Vec::with_capacity(size);
    while seqs.len() < size {
        let (q, _) = toy::generate(level, rng);
        if exclude.contains(&q) {
            continue;
        }
        let sol = toy::canonical_solution(&q).context("generated problem has no solution")?;
        let prompt = tok.encode(&toy_prompt(&q))?;
        let body = tok.encode(&sol)?;
        let mut ids = vec![bos];
        ids.extend(&prompt);
        let first_target = ids.len() - 1; // predicting the first solution token
        ids.extend(&body);
        ids.push(tok.eos_id);
        seqs.push((ids, first_target));
    }
    let refs: Vec<&(Vec<u32>, usize)> = seqs.iter().collect();
    batch_of(&refs, tok.eos_id, device)
}

/// A batch of sequences, each `(ids, first)`: padded with `eos` to the longest, the loss mask
/// on from position `first` (the prediction of the first target token) to the sequence's end.
pub fn batch_of(seqs: &[&(Vec<u32>, usize)], eos: u32, device: &Device) -> anyhow::Result<Batch> {
    let t = seqs.iter().map(|(s, _)| s.len() - 1).max().unwrap_or(1);
    let (mut inp, mut tgt, mut msk) = (Vec::new(), Vec::new(), Vec::new());
    let mut tokens = 0;
    for (s, first) in seqs {
        for i in 0..t {
            inp.push(*s.get(i).unwrap_or(&eos));
            tgt.push(*s.get(i + 1).unwrap_or(&eos));
            let on = i >= *first && i + 1 < s.len();
            tokens += usize::from(on);
            msk.push(if on { 1f32 } else { 0.0 });
        }
    }
    let n = seqs.len();
    Ok(Batch {
        inputs: Tensor::from_vec(inp, (n, t), device)?,
        targets: Tensor::from_vec(tgt, (n, t), device)?,
        mask: Tensor::from_vec(msk, (n, t), device)?,
        tokens,
    })
}

/// Mean cross-entropy of `logits` against `batch.targets` over the masked positions.
pub fn masked_loss(logits: &Tensor, batch: &Batch) -> candle_core::Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&batch.targets.unsqueeze(2)?, 2)?.squeeze(2)?;
    let total = (picked * &batch.mask)?.sum_all()?;
    total.neg()? / batch.tokens.max(1) as f64
}

/// AdamW (weight decay 0.01) over every variable of `varmap`, and their parameter count.
pub fn adamw(varmap: &VarMap, lr: f64) -> candle_core::Result<(candle_nn::AdamW, usize)> {
    let vars = varmap.all_vars();
    let params = vars.iter().map(|v| v.elem_count()).sum();
    let opt = candle_nn::AdamW::new(
        vars,
        candle_nn::ParamsAdamW {
            lr,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;
    Ok((opt, params))
}

/// Learning rate at `step`: linear warm-up, then cosine decay to a tenth of the peak.
pub fn lr_at(cfg: &TrainConfig, step: usize) -> f64 {
    warmup_cosine(cfg.lr, cfg.warmup, cfg.steps, step)
}

/// Learning rate at `step` of `steps`: linear warm-up over `warmup` steps to `peak`, then cosine
/// decay to a tenth of it.
pub fn warmup_cosine(peak: f64, warmup: usize, steps: usize, step: usize) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let p = (step - warmup) as f64 / (steps.saturating_sub(warmup).max(1)) as f64;
    let min = peak * 0.1;
    min + (peak - min) * 0.5 * (1.0 + (std::f64::consts::PI * p.min(1.0)).cos())
}

/// What a training run reports as it goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainProgress {
    /// Steps done.
    pub step: usize,
    /// Loss of the last step.
    pub loss: f32,
    /// Target tokens per second so far.
    pub tokens_per_s: f64,
}

/// The record of a training run, saved as `training.json` beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// The configuration trained with.
    pub config: TrainConfig,
    /// Loss every 50 steps.
    pub loss_curve: Vec<(usize, f32)>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Target tokens trained on.
    pub tokens: usize,
    /// Parameters.
    pub params: usize,
}

/// Writes the files of a toy model directory other than the weights.
pub fn write_toy_model_files(dir: &Path, arch: &ToyArch) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |name: &str, v: serde_json::Value| -> anyhow::Result<()> {
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("cannot write {}", p.display()))
    };
    write("config.json", arch.config_json())?;
    write("tokenizer.json", toy_tokenizer_json())?;
    write(
        "generation_config.json",
        serde_json::json!({"bos_token_id": 0, "eos_token_id": 0}),
    )?;
    Ok(())
}

/// Trains a toy policy from scratch and saves it in Hugging Face layout under `out`.
/// `progress` is called every step and may return `false` to stop early (the weights so far are
/// still saved).
pub fn train_policy(
    cfg: &TrainConfig,
    out: &Path,
    mut progress: impl FnMut(&TrainProgress) -> bool,
) -> anyhow::Result<TrainReport> {
    let device = Device::Cpu;
    write_toy_model_files(out, &cfg.arch)?;
    let tok = TextTokenizer::load(&out.join("tokenizer.json"), TOY_EOS, Some(TOY_EOS))?;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let twin = Twin::new(&cfg.arch, toy_vocab_size(), vb)?;
    seeded_init(&varmap, cfg.arch.num_hidden_layers, cfg.seed)?;
    let (mut opt, params) = adamw(&varmap, cfg.lr)?;
    let exclude = toy::eval_questions();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x7261_696e);
    let start = Instant::now();
    let mut tokens = 0;
    let mut curve = Vec::new();
    for step in 0..cfg.steps {
        let level = (step % toy::LEVELS as usize) as u8 + 1;
        let batch = make_batch(&tok, level, cfg.batch_size, &mut rng, &exclude, &device)?;
        let loss = masked_loss(&twin.forward(&batch.inputs)?, &batch)?;
        opt.set_learning_rate(lr_at(cfg, step));
        opt.backward_step(&loss)?;
        tokens += batch.tokens;
        let loss = loss.to_scalar::<f32>()?;
        if !loss.is_finite() {
            anyhow::bail!("training diverged at step {step} (loss {loss})");
        }
        if step % 50 == 0 || step + 1 == cfg.steps {
            curve.push((step, loss));
        }
        let p = TrainProgress {
            step: step + 1,
            loss,
            tokens_per_s: tokens as f64 / start.elapsed().as_secs_f64(),
        };
        if !progress(&p) {
            break;
        }
    }
    let weights = out.join("model.safetensors");
    varmap
        .save(&weights)
        .with_context(|| format!("cannot write {}", weights.display()))?;
    let report = TrainReport {
        config: cfg.clone(),
        loss_curve: curve,
        seconds: start.elapsed().as_secs_f64(),
        tokens,
        params,
    };
    crate::io::write_json(&out.join("training.json"), &report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::CausalLm;

    fn tiny() -> TrainConfig {
        TrainConfig {
            steps: 30,
            batch_size: 8,
            lr: 3e-3,
            warmup: 5,
            arch: ToyArch {
                hidden_size: 32,
                intermediate_size: 64,
                num_hidden_layers: 2,
                num_attention_heads: 4,
                max_position_embeddings: 256,
            },
            ..Default::default()
        }
    }

    #[test]
    fn every_variable_receives_a_gradient() {
        let cfg = tiny();
        let dir = tempfile::tempdir().unwrap();
        write_toy_model_files(dir.path(), &cfg.arch).unwrap();
        let tok = TextTokenizer::load(&dir.path().join("tokenizer.json"), TOY_EOS, Some(TOY_EOS))
            .unwrap();
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let twin = Twin::new(&cfg.arch, toy_vocab_size(), vb).unwrap();
        seeded_init(&varmap, 2, 1).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let batch = make_batch(&tok, 3, 4, &mut rng, &Default::default(), &Device::Cpu).unwrap();
        let loss = masked_loss(&twin.forward(&batch.inputs).unwrap(), &batch).unwrap();
        let grads = loss.backward().unwrap();
        let data = varmap.data().lock().unwrap();
        for (name, var) in data.iter() {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{name} got no gradient"));
            let norm = g
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm > 0.0, "{name} has a zero gradient");
        }
    }

    #[test]
    fn twin_and_stock_model_agree_and_training_lowers_the_loss() {
        let cfg = tiny();
        let dir = tempfile::tempdir().unwrap();
        let mut losses = Vec::new();
        train_policy(&cfg, dir.path(), |p| {
            losses.push(p.loss);
            true
        })
        .unwrap();
        let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
        let last: f32 = losses[losses.len() - 5..].iter().sum::<f32>() / 5.0;
        assert!(last < first * 0.8, "loss did not fall: {first} -> {last}");

        // The saved weights load in the stock model and give the twin's logits.
        let mut lm = CausalLm::load(dir.path(), &Device::Cpu).unwrap();
        let ids: Vec<u32> = std::iter::once(0)
            .chain(lm.tokenizer.encode("12+7\n12+7=19").unwrap())
            .collect();
        let varmap = {
            let mut vm = VarMap::new();
            let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
            let _ = Twin::new(&cfg.arch, toy_vocab_size(), vb).unwrap();
            vm.load(dir.path().join("model.safetensors")).unwrap();
            vm
        };
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let twin = Twin::new(&cfg.arch, toy_vocab_size(), vb).unwrap();
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let twin_last = twin
            .forward(&input)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .get(ids.len() - 1)
            .unwrap();
        let stock = lm.last_logits(&ids).unwrap();
        let diff = (twin_last - stock)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-3, "twin and stock logits differ by {diff}");
    }

    #[test]
    fn training_is_reproducible_from_the_seed() {
        let cfg = TrainConfig { steps: 4, ..tiny() };
        let train = |seed| {
            let dir = tempfile::tempdir().unwrap();
            train_policy(
                &TrainConfig {
                    seed,
                    ..cfg.clone()
                },
                dir.path(),
                |_| true,
            )
            .unwrap();
            std::fs::read(dir.path().join("model.safetensors")).unwrap()
        };
        let a = train(5);
        assert_eq!(a, train(5), "same seed, same weights, byte for byte");
        assert_ne!(a, train(6));
    }

    #[test]
    fn learning_rate_warms_up_then_decays() {
        let cfg = TrainConfig {
            steps: 100,
            warmup: 10,
            lr: 1.0,
            ..Default::default()
        };
        assert!(lr_at(&cfg, 0) < lr_at(&cfg, 9));
        assert!((lr_at(&cfg, 10) - 1.0).abs() < 1e-9);
        assert!((lr_at(&cfg, 100) - 0.1).abs() < 1e-9);
    }
}
