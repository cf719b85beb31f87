//! Training the toy world from scratch on the CPU: the toy policy ([`policy`]), and the toy
//! PRM and ORM from Monte Carlo rollout labels ([`reward`]), and the revision model's training
//! trajectories ([`reviser`]). Trained models are saved in the
//! Hugging Face layouts real models use, and load through the same code.

pub mod policy;
pub mod reviser;
pub mod reward;
