//! `thinkscale inspect MODEL`: what a model is, read from its headers without loading the
//! weights: architecture, parameters, stored types, context, vocabulary, special tokens.

use crate::engine::chat::checked_template;
use crate::engine::model::ModelHeader;
use crate::engine::transformer::RopeScaling;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The model: a directory in Hugging Face layout, a .gguf file, or ORG/NAME in the local
    /// Hugging Face cache; or a server, remote:http://HOST:PORT, whose capabilities are probed.
    pub model: PathBuf,
    /// The served model to ask a server about (default: its only one).
    #[arg(long)]
    pub served_model: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A token id with its text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenInfo {
    /// The id.
    pub id: u32,
    /// The vocabulary entry.
    pub text: String,
}

/// What `inspect` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// The resolved path.
    pub path: String,
    /// `safetensors (1 file)`, `GGUF v3`, ...
    pub format: String,
    /// `general.name` of a GGUF file.
    pub name: Option<String>,
    /// `llama`, `mistral`, `qwen2`.
    pub architecture: String,
    /// Number of parameters.
    pub parameters: u64,
    /// Parameters per stored type.
    pub dtypes: BTreeMap<String, u64>,
    /// Context length in tokens.
    pub context: usize,
    /// Decoder blocks.
    pub layers: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Query heads.
    pub attention_heads: usize,
    /// Key/value heads.
    pub key_value_heads: usize,
    /// RoPE base and scaling.
    pub rope: String,
    /// Rows of the embedding table.
    pub vocab_size: usize,
    /// Tokens the tokenizer knows.
    pub tokenizer_vocab_size: usize,
    /// Where the tokenizer comes from.
    pub tokenizer: String,
    /// Beginning of sequence, if any.
    pub bos: Option<TokenInfo>,
    /// Whether raw prompts start with it.
    pub add_bos: bool,
    /// End of sequence.
    pub eos: TokenInfo,
    /// Every token that ends a generation.
    pub end_tokens: Vec<TokenInfo>,
    /// The special (control) tokens.
    pub special_tokens: Vec<TokenInfo>,
    /// Whether the model has a chat template (`--prompt auto` then means chat).
    pub chat_template: bool,
    /// Why the chat template cannot be used, where it fails to render a sample prompt within
    /// the limits a run applies (work and size).
    pub chat_template_error: Option<String>,
}

impl ModelInfo {
    /// Reads `model`'s headers.
    pub fn read(model: &std::path::Path) -> anyhow::Result<Self> {
        let h = ModelHeader::read(model)?;
        let tok = &h.tokenizer;
        let info = |id: u32| TokenInfo {
            id,
            text: tok.token(id).unwrap_or_default(),
        };
        let c = &h.config;
        let rope = match &c.rope_scaling {
            RopeScaling::None => format!("theta {}", c.rope_theta),
            RopeScaling::Linear { factor } => format!("theta {}, linear x{factor}", c.rope_theta),
            RopeScaling::Llama3 { factor, .. } => {
                format!("theta {}, llama3 scaling x{factor}", c.rope_theta)
            }
            RopeScaling::Factors(_) => {
                format!("theta {}, frequency factors (rope_freqs)", c.rope_theta)
            }
        };
        Ok(Self {
            path: h.source.path().display().to_string(),
            format: h.format.clone(),
            name: h.name.clone(),
            architecture: h.shape.architecture.clone(),
            parameters: h.params,
            dtypes: h.dtypes.clone(),
            context: h.shape.context,
            layers: c.num_layers,
            hidden_size: c.hidden_size,
            intermediate_size: c.intermediate_size,
            attention_heads: c.num_heads,
            key_value_heads: c.num_kv_heads,
            rope,
            vocab_size: c.vocab_size,
            tokenizer_vocab_size: tok.vocab_size(),
            tokenizer: h.tokenizer_source.clone(),
            bos: tok.bos_id.map(info),
            add_bos: tok.add_bos,
            eos: info(tok.eos_id),
            end_tokens: tok.end_ids.iter().map(|&id| info(id)).collect(),
            special_tokens: tok
                .special_tokens()
                .into_iter()
                .map(|(id, text)| TokenInfo { id, text })
                .collect(),
            chat_template: h.shape.chat_template.is_some(),
            chat_template_error: h.shape.chat_template.as_deref().and_then(|src| {
                let text = |id: Option<u32>| id.and_then(|i| tok.token(i)).unwrap_or_default();
                checked_template(
                    src,
                    &text(tok.bos_id),
                    &text(Some(tok.eos_id)),
                    h.shape.context,
                )
                .err()
            }),
        })
    }
}

/// `1234567` as `1.23M`.
fn count(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.2}M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

impl std::fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = |t: &TokenInfo| format!("{} {:?}", t.id, t.text);
        writeln!(f, "{:<14} {}", "model", self.path)?;
        writeln!(f, "{:<14} {}", "format", self.format)?;
        if let Some(name) = &self.name {
            writeln!(f, "{:<14} {name}", "name")?;
        }
        writeln!(f, "{:<14} {}", "architecture", self.architecture)?;
        writeln!(
            f,
            "{:<14} {} ({})",
            "parameters",
            count(self.parameters),
            self.parameters
        )?;
        // Largest share first: the quantization type a GGUF file is known by.
        let mut dtypes: Vec<(&String, &u64)> = self.dtypes.iter().collect();
        dtypes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let dtypes: Vec<String> = dtypes
            .iter()
            .map(|(d, n)| format!("{d} {}", count(**n)))
            .collect();
        writeln!(f, "{:<14} {}", "weights", dtypes.join(", "))?;
        writeln!(f, "{:<14} {} tokens", "context", self.context)?;
        writeln!(
            f,
            "{:<14} {} (hidden {}, MLP {}, {} heads, {} key/value heads)",
            "layers",
            self.layers,
            self.hidden_size,
            self.intermediate_size,
            self.attention_heads,
            self.key_value_heads
        )?;
        writeln!(f, "{:<14} {}", "rope", self.rope)?;
        writeln!(
            f,
            "{:<14} {} embeddings, {} tokens in the tokenizer",
            "vocabulary", self.vocab_size, self.tokenizer_vocab_size
        )?;
        writeln!(f, "{:<14} {}", "tokenizer", self.tokenizer)?;
        match &self.bos {
            Some(b) => writeln!(
                f,
                "{:<14} {} ({} raw prompts)",
                "bos",
                token(b),
                if self.add_bos {
                    "starts"
                } else {
                    "does not start"
                }
            )?,
            None => writeln!(f, "{:<14} none", "bos")?,
        }
        writeln!(f, "{:<14} {}", "eos", token(&self.eos))?;
        let ends: Vec<String> = self.end_tokens.iter().map(token).collect();
        writeln!(f, "{:<14} {}", "ends on", ends.join(", "))?;
        const SHOWN: usize = 12;
        let specials: Vec<String> = self.special_tokens.iter().take(SHOWN).map(token).collect();
        let more = self.special_tokens.len().saturating_sub(SHOWN);
        writeln!(
            f,
            "{:<14} {}: {}{}",
            "special tokens",
            self.special_tokens.len(),
            specials.join(", "),
            if more > 0 {
                format!(", ... {more} more")
            } else {
                String::new()
            }
        )?;
        writeln!(
            f,
            "{:<14} {}",
            "chat template",
            match (self.chat_template, &self.chat_template_error) {
                (true, None) => "yes (--prompt auto uses it)".to_string(),
                (true, Some(e)) => format!("yes, but unusable: {e} (use --prompt raw)"),
                (false, _) => "no (--prompt auto means raw)".to_string(),
            }
        )
    }
}

/// Runs `inspect`.
pub fn run(a: InspectArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = crate::backend::remote_url(&a.model) {
        let options = crate::backend::RemoteOptions {
            model: a.served_model.clone(),
            ..Default::default()
        };
        let caps = crate::backend::remote::probe(url, &options)?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&caps)?);
        } else {
            print!("{}", remote_table(&caps));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let info = ModelInfo::read(&a.model)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print!("{info}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A server's capabilities as a table.
fn remote_table(c: &crate::backend::remote::Capabilities) -> String {
    use crate::backend::remote::Dialect;
    let or = |v: Option<String>, none: &str| v.unwrap_or_else(|| none.to_string());
    let rows = [
        ("server", c.url.clone()),
        ("kind", or(c.server.clone(), "not said")),
        (
            "endpoint",
            match c.dialect {
                Dialect::LlamaCpp => "llama.cpp native /completion".to_string(),
                Dialect::OpenAi => "OpenAI-compatible /v1/completions".to_string(),
            },
        ),
        ("models", c.models.join(", ")),
        ("model used", or(c.model.clone(), "the server's default")),
        (
            "parameters",
            or(
                c.params.map(|p| p.to_string()),
                "not reported (give --policy-params)",
            ),
        ),
        (
            "context",
            or(c.context.map(|n| n.to_string()), "not reported"),
        ),
        ("slots", or(c.slots.map(|n| n.to_string()), "not reported")),
        (
            "chat template",
            if c.chat_template {
                "applied by the server (/apply-template)".into()
            } else {
                "not offered (prompts are raw)".into()
            },
        ),
        (
            "token ids",
            if c.token_ids {
                "in every reply".into()
            } else {
                "where the server honours return_tokens_as_token_ids".into()
            },
        ),
    ];
    rows.iter().map(|(k, v)| format!("{k:<14} {v}\n")).collect()
}
