//! The inference engine: loading models (Hugging Face layout or GGUF), tokenizers, sampling,
//! batched generation, the compute meter, devices, and training of the toy models.

pub mod chat;
pub mod device;
pub mod gguf;
pub mod hf;
pub mod meter;
pub mod model;
pub mod prefix;
pub mod qmatmul;
pub mod sample;
pub mod source;
pub mod tokenizer;
pub mod train;
pub mod transformer;

pub use chat::PromptFormat;
pub use meter::ComputeMeter;
pub use model::{CausalLm, GenRequest, Generation, ModelError};
pub use sample::SamplingParams;
