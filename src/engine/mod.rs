//! The inference engine: loading models (Hugging Face layout or GGUF), tokenizers, chat and raw
//! prompts, sampling, the transformer with its KV and prefix caches, batched generation, the
//! compute meter, devices and cancellation.

pub mod cancel;
pub mod chat;
pub mod dense;
pub mod device;
pub mod gguf;
pub mod hf;
pub mod meter;
pub mod model;
pub mod prefix;
pub mod qmatmul;
pub mod sample;
pub mod scorer;
pub mod source;
pub mod tokenizer;
pub mod toy;
pub mod transformer;

pub use cancel::{CancelToken, Cancelled};
pub use chat::PromptFormat;
pub use meter::ComputeMeter;
pub use model::{CausalLm, GenGroup, GenRequest, Generation, ModelError, StopAt};
pub use sample::SamplingParams;
pub use source::{beside_crate, default_policy_dir, DEFAULT_POLICY};
