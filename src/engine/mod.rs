//! The inference engine: loading models, tokenizers, sampling, batched generation, the compute
//! meter, devices, and training of the toy models.

pub mod device;
pub mod meter;
pub mod model;
pub mod sample;
pub mod tokenizer;
pub mod train;

pub use meter::ComputeMeter;
pub use model::{CausalLm, Generation, ModelError};
pub use sample::SamplingParams;
