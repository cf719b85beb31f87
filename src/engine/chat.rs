//! Prompt formats: the raw toy prompt, or the model's own chat template.
//!
//! A chat model answers well only inside the conversation format it was tuned on, written in
//! its Jinja chat template (`tokenizer_config.json`'s `chat_template`, `chat_template.jinja`,
//! or GGUF `tokenizer.chat_template`). Templates are rendered with minijinja the way Hugging
//! Face renders them: `trim_blocks` and `lstrip_blocks` on, Python string methods
//! (`.strip()`, `.startswith()`, ...) through minijinja-contrib's pycompat, `raise_exception`,
//! and `strftime_now`, which returns a fixed date (26 Jul 2024, HF's default `date_string`) so
//! that a prompt never depends on the day it was rendered.

use minijinja::{Environment, ErrorKind, Value};
use serde::{Deserialize, Serialize};

/// Work a chat template may do to render one prompt, in minijinja's fuel (about one unit per
/// instruction, and one per 64 bytes it allocates). Real templates need far less: SmolLM2's and
/// a Llama 3.1-style template render a prompt in under 20,000 (a test measures them). Two
/// million bounds a hostile template (nested loops of 10,000 iterations each) to well under a
/// second and about 128 MB.
pub const TEMPLATE_FUEL: u64 = 2_000_000;

/// The smallest cap on a rendered prompt, in bytes. A real prompt is the system prompt, the
/// question and a few markers: kilobytes. The cap is this or the model's context in characters
/// (16 bytes a token), whichever is larger.
pub const MIN_PROMPT_BYTES: usize = 1 << 20;

/// Bytes of rendered prompt allowed for a model of `context` tokens.
pub fn prompt_limit(context: usize) -> usize {
    MIN_PROMPT_BYTES.max(context.saturating_mul(16))
}

/// Collects rendered text and fails once it passes `limit` bytes.
struct Capped {
    out: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > self.limit {
            return Err(std::io::Error::other("prompt size limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The system prompt of chat prompts (the one Qwen2.5-Math was tuned with).
pub const SYSTEM_PROMPT: &str =
    "Please reason step by step, and put your final answer within \\boxed{}.";

/// How a problem becomes a prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromptFormat {
    /// `chat` where the model has a chat template, else `raw`: the toy models (no template)
    /// get their raw prompt, instruction-tuned models their conversation format.
    #[default]
    Auto,
    /// Beginning-of-sequence token (where the model uses one), the question, a newline, then
    /// the solution so far: the format the toy models were trained on.
    Raw,
    /// The model's chat template: [`SYSTEM_PROMPT`], the question as the user's message, the
    /// assistant's turn opened, then the solution so far.
    Chat,
}

impl PromptFormat {
    /// The names `--prompt` accepts.
    pub const NAMES: &'static str = "auto, raw, chat";

    /// Parses a `--prompt` value.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "raw" => Ok(Self::Raw),
            "chat" => Ok(Self::Chat),
            other => Err(format!(
                "unknown prompt format '{other}': use {}",
                Self::NAMES
            )),
        }
    }

    /// The name, as `--prompt` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Raw => "raw",
            Self::Chat => "chat",
        }
    }
}

impl std::fmt::Display for PromptFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compiled chat template with the special tokens it may refer to.
#[derive(Clone)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    limit: usize,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .finish()
    }
}

/// `strftime_now(format)` at the fixed date 2024-07-26 (`%d %b %Y` and the like).
fn strftime_fixed(format: &str) -> String {
    format
        .replace("%d", "26")
        .replace("%m", "07")
        .replace("%Y", "2024")
        .replace("%y", "24")
        .replace("%B", "July")
        .replace("%b", "Jul")
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token` and `eos_token` are the texts the template may insert.
    /// Rendering runs on [`TEMPLATE_FUEL`] and stops at [`MIN_PROMPT_BYTES`]; see
    /// [`Self::with_limit`].
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_fuel(Some(TEMPLATE_FUEL));
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| format!("chat template syntax: {e}"))?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<Value, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        env.add_function("strftime_now", |format: String| strftime_fixed(&format));
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| format!("chat template does not compile: {e}"))?;
        Ok(Self {
            env,
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
            limit: MIN_PROMPT_BYTES,
        })
    }

    /// Caps a rendered prompt at `limit` bytes (see [`prompt_limit`]).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Renders `messages` (role, content); with `add_generation_prompt` the assistant's turn
    /// is opened at the end.
    pub fn render(
        &self,
        messages: &[(&str, &str)],
        add_generation_prompt: bool,
    ) -> Result<String, String> {
        type Map = std::collections::BTreeMap<&'static str, Value>;
        let messages: Vec<Value> = messages
            .iter()
            .map(|(role, content)| {
                Value::from(Map::from([
                    ("role", Value::from(*role)),
                    ("content", Value::from(*content)),
                ]))
            })
            .collect();
        let ctx = Value::from(Map::from([
            ("messages", Value::from(messages)),
            ("add_generation_prompt", Value::from(add_generation_prompt)),
            ("bos_token", Value::from(self.bos_token.as_str())),
            ("eos_token", Value::from(self.eos_token.as_str())),
        ]));
        let mut out = Capped {
            out: Vec::new(),
            limit: self.limit,
        };
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| format!("chat template: {e}"))?;
        match template.render_captured_to(ctx, &mut out) {
            Ok(_) => String::from_utf8(out.out)
                .map_err(|_| "chat template: the rendered prompt is not UTF-8".to_string()),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(format!(
                "chat template: rendering one prompt took more than {TEMPLATE_FUEL} steps of \
                 work (the limit; real templates need under 20,000): refusing the template"
            )),
            Err(e) if e.kind() == ErrorKind::WriteFailure => Err(format!(
                "chat template: the rendered prompt passed {} bytes (the limit for this \
                 model; real prompts are a few kilobytes): refusing the template",
                self.limit
            )),
            Err(e) => Err(format!("chat template: {e}")),
        }
    }

    /// The prompt of one problem: [`SYSTEM_PROMPT`] and the question, the assistant's turn
    /// open. A template that refuses a system message (it raises) gets the system prompt at
    /// the head of the user's message instead.
    pub fn prompt(&self, question: &str) -> Result<String, String> {
        self.render(&[("system", SYSTEM_PROMPT), ("user", question)], true)
            .or_else(|first| {
                self.render(&[("user", &format!("{SYSTEM_PROMPT}\n\n{question}"))], true)
                    .map_err(|_| first)
            })
    }
}

/// Compiles a model's chat template for a context of `context` tokens and renders one sample
/// prompt under the limits ([`TEMPLATE_FUEL`], [`prompt_limit`]), so that a template that
/// fails, loops or floods fails here, before any generation starts.
pub fn checked_template(
    source: &str,
    bos_token: &str,
    eos_token: &str,
    context: usize,
) -> Result<ChatTemplate, String> {
    let t = ChatTemplate::new(source, bos_token, eos_token)?.with_limit(prompt_limit(context));
    t.prompt("What is 1 + 1?")?;
    Ok(t)
}

/// The text a toy model reads before its solution: the question and a newline. The
/// beginning-of-sequence token comes before it.
pub fn toy_prompt(question: &str) -> String {
    format!("{question}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-135M-Instruct's template, as its GGUF carries it.
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn smollm2_template_renders_as_llama_cpp_does() {
        let t = ChatTemplate::new(SMOLLM2, "<|im_start|>", "<|im_end|>").unwrap();
        // llama.cpp b11434's /apply-template on the same messages.
        assert_eq!(
            t.prompt("What is 17 + 25?").unwrap(),
            "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>user\nWhat is 17 + 25?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn hf_template_features_work() {
        // Llama 3.1 style: bos_token, trim/lstrip blocks, .strip(), strftime_now, tojson-free.
        let src = "{{- bos_token }}\n{%- set date = strftime_now('%d %b %Y') %}\n{%- for m in messages %}\n    {{- '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}\n{%- endfor %}\n{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}{{ date }}";
        let t = ChatTemplate::new(src, "<|begin_of_text|>", "<|eot_id|>").unwrap();
        let out = t.render(&[("user", " hi ")], true).unwrap();
        assert_eq!(
            out,
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n26 Jul 2024"
        );
        let py = ChatTemplate::new("{{ messages[0]['content'].strip().upper() }}", "", "").unwrap();
        assert_eq!(py.render(&[("user", "  x ")], false).unwrap(), "X");
    }

    #[test]
    fn templates_that_refuse_a_system_turn_get_it_in_the_user_turn() {
        let src = "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}";
        let t = ChatTemplate::new(src, "", "").unwrap();
        assert_eq!(
            t.prompt("Q").unwrap(),
            format!("<user>{SYSTEM_PROMPT}\n\nQ")
        );
        let bad = ChatTemplate::new("{% for %}", "", "").unwrap_err();
        assert!(bad.contains("does not compile"), "{bad}");
    }

    #[test]
    fn prompt_formats_parse() {
        assert_eq!(PromptFormat::parse("chat"), Ok(PromptFormat::Chat));
        assert!(PromptFormat::parse("xml")
            .unwrap_err()
            .contains("auto, raw, chat"));
        let f: PromptFormat = serde_json::from_str("\"raw\"").unwrap();
        assert_eq!(f, PromptFormat::Raw);
    }

    /// What a real template costs: SmolLM2's, and a Llama 3.1-style one with a system block,
    /// a date line and a loop over messages, both far under [`TEMPLATE_FUEL`].
    #[test]
    fn real_templates_use_a_small_share_of_the_fuel() {
        let llama31 = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set system_message = messages[0]['content']|trim %}{% set messages = messages[1:] %}{% else %}{% set system_message = '' %}{% endif %}{{ '<|start_header_id|>system<|end_header_id|>\\n\\n' }}{{ 'Cutting Knowledge Date: December 2023\\n' }}{{ 'Today Date: ' + strftime_now('%d %b %Y') + '\\n\\n' }}{{ system_message }}{{ '<|eot_id|>' }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
        for src in [SMOLLM2, llama31] {
            let t = ChatTemplate::new(src, "<s>", "</s>").unwrap();
            type Map = std::collections::BTreeMap<&'static str, Value>;
            let msg = |role: &str, content: &str| {
                Value::from(Map::from([
                    ("role", Value::from(role)),
                    ("content", Value::from(content)),
                ]))
            };
            let ctx = Value::from(Map::from([
                (
                    "messages",
                    Value::from(vec![
                        msg("system", SYSTEM_PROMPT),
                        msg("user", "What is 2?"),
                    ]),
                ),
                ("add_generation_prompt", Value::from(true)),
                ("bos_token", Value::from("<s>")),
                ("eos_token", Value::from("</s>")),
            ]));
            let tpl = t.env.get_template("chat").unwrap();
            let done = tpl.render_captured(ctx).unwrap();
            let (used, _) = done.state().fuel_levels().unwrap();
            assert!(used > 0 && used < 20_000, "{used}");
            assert!(t.prompt("What is 2?").unwrap().contains("What is 2?"));
        }
    }
}
