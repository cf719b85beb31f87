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
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
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
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, String> {
        let mut env = Environment::new();
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
        })
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
        self.env
            .get_template("chat")
            .and_then(|t| t.render(ctx))
            .map_err(|e| format!("chat template: {e}"))
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
}
