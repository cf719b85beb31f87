//! The strategies and their hyper-parameters as one serialisable value: [`StrategySpec`], a
//! tagged enum whose variants carry their own parameters (written tagged into `config.json`).

use super::revisions::{self, RevisionSelection};
use super::{
    adaptive, beam, best_of_n, dvts, mcts, particles, rebase, Aggregation, Outcome, SearchContext,
    Strategy,
};
use crate::data::revision::RevisionTemplate;
use mcts::MctsParams;
use serde::{Deserialize, Serialize};

/// The default cap on rounds of the tree searches (the paper's and search-and-learn's 40).
pub const DEFAULT_MAX_ROUNDS: usize = 40;
/// The default beam width M.
pub const DEFAULT_BEAM_WIDTH: usize = 4;

/// A strategy with its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StrategySpec {
    /// The most frequent final answer among N samples.
    Majority,
    /// The single best-scoring of N samples.
    BestOfN {
        /// How step scores become a solution score.
        #[serde(default)]
        aggregation: Aggregation,
    },
    /// The answer with the largest sum of its samples' scores, among N samples.
    WeightedBestOfN {
        /// How step scores become a solution score.
        #[serde(default)]
        aggregation: Aggregation,
    },
    /// Beam search: N beams, each round keeps the best N/M prefixes and expands each M times.
    Beam {
        /// M: expansions per kept prefix; divides N.
        beam_width: usize,
        /// Rounds before the survivors are run to the end.
        max_rounds: usize,
        /// How step scores become a prefix's (and a solution's) score.
        #[serde(default)]
        aggregation: Aggregation,
    },
    /// Lookahead search: beam search whose candidate steps are scored at the end of a greedy
    /// rollout of `lookahead` more steps.
    Lookahead {
        /// M: expansions per kept prefix; divides N.
        beam_width: usize,
        /// Rounds before the survivors are run to the end.
        max_rounds: usize,
        /// k: steps rolled out (at temperature 0) before scoring.
        lookahead: usize,
        /// How step scores become a prefix's (and a solution's) score.
        #[serde(default)]
        aggregation: Aggregation,
    },
    /// Diverse verifier tree search: N/M independent subtrees, each greedy in the verifier.
    Dvts {
        /// M: expansions per subtree and round; divides N.
        beam_width: usize,
        /// Rounds before the survivors are run to the end.
        max_rounds: usize,
        /// How step scores become a prefix's (and a solution's) score.
        #[serde(default)]
        aggregation: Aggregation,
    },
    /// Sequential revisions: N/L parallel chains of L attempts, each attempt written after
    /// the chain's most recent attempts.
    Revisions {
        /// P: parallel chains; divides N (each holds N/P attempts).
        chains: usize,
        /// How the answer is chosen among all attempts.
        #[serde(default)]
        selection: RevisionSelection,
        /// How earlier attempts are laid out before a revision.
        #[serde(default)]
        template: RevisionTemplate,
        /// How step scores become an attempt's score (for hierarchical selection).
        #[serde(default)]
        aggregation: Aggregation,
    },
    /// Adaptive self-consistency: majority voting that samples `batch` at a time, up to N,
    /// and stops once the leading answer is the majority's with probability `confidence`.
    AdaptiveMajority {
        /// Samples drawn per round.
        batch: usize,
        /// The stopping confidence, in (1/2, 1].
        confidence: Confidence,
    },
    /// REBASE: the width N shared among the prefixes by a softmax of their scores.
    Rebase {
        /// T of the softmax.
        temperature: Temperature,
        /// Rounds before the prefixes that received children run to the end.
        max_rounds: usize,
        /// How step scores become a prefix's (and a solution's) score.
        #[serde(default)]
        aggregation: Aggregation,
    },
    /// Particle filtering: N particles resampled every step by a softmax of their scores'
    /// logits.
    Particles {
        /// T of the resampling softmax.
        temperature: ResampleTemperature,
        /// Rounds before the particles run to the end.
        max_rounds: usize,
        /// How step scores become a particle's weight (default `last`: its newest step).
        #[serde(default)]
        aggregation: Aggregation,
    },
    /// Monte Carlo tree search: each round selects paths by a tree rule, expands their leaves,
    /// scores the children and backs the values up, until N candidates have finished.
    Mcts {
        /// Expansion width, tree rule, value, selection and selections per round.
        #[serde(flatten)]
        params: MctsParams,
        /// Rounds before the selected leaves run to the end.
        max_rounds: usize,
        /// How step scores become a finished candidate's score.
        #[serde(default)]
        aggregation: Aggregation,
    },
}

/// A real-valued strategy parameter kept exactly, in millionths, so that the strategies stay
/// `Eq` and `Hash` (a sweep's runs are keys); files hold it as the number itself (`0.95`).
/// `$ok` says which values it takes, `$what` names them in the refusal.
macro_rules! exact_param {
    ($(#[$doc:meta])* $name:ident, $default:expr, $ok:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(u32);

        impl $name {
            /// The parameter `x`, refused (naming it) outside its range.
            pub fn new(x: f64) -> Result<Self, String> {
                let ok: fn(f64) -> bool = $ok;
                if !x.is_finite() || !ok(x) {
                    return Err(format!($what, x));
                }
                Ok(Self((x * 1e6).round() as u32))
            }

            /// Its value.
            pub fn get(self) -> f64 {
                f64::from(self.0) / 1e6
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(($default * 1e6_f64).round() as u32)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.get())
            }
        }

        impl TryFrom<f64> for $name {
            type Error = String;
            fn try_from(x: f64) -> Result<Self, String> {
                Self::new(x)
            }
        }

        impl From<$name> for f64 {
            fn from(x: $name) -> f64 {
                x.get()
            }
        }
    };
}

exact_param!(
    /// Adaptive majority's stopping confidence, in (1/2, 1] (a confidence of 1/2 or less would
    /// stop at the first vote).
    Confidence,
    adaptive::DEFAULT_CONFIDENCE,
    |p| p > 0.5 && p <= 1.0,
    "confidence {} must be above 0.5 and at most 1"
);

exact_param!(
    /// REBASE's softmax temperature T over the prefixes' scores, in (0, 1000]: lower gives the
    /// best-scoring prefixes more of the width.
    Temperature,
    rebase::DEFAULT_TEMPERATURE,
    |t| t > 0.0 && t <= 1000.0,
    "REBASE temperature {} must be above 0 and at most 1000"
);

exact_param!(
    /// Particle filtering's resampling temperature T, in (0, 1000]: particles are drawn with
    /// probability softmax(logit(score) / T).
    ResampleTemperature,
    particles::DEFAULT_TEMPERATURE,
    |t| t > 0.0 && t <= 1000.0,
    "resample temperature {} must be above 0 and at most 1000"
);

exact_param!(
    /// UCT's exploration constant c, in (0, 100].
    Exploration,
    mcts::DEFAULT_EXPLORATION,
    |c| c > 0.0 && c <= 100.0,
    "exploration {} must be above 0 and at most 100"
);

/// Which strategy, without parameters: what menus and `--strategy` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// See [`StrategySpec::Majority`].
    Majority,
    /// See [`StrategySpec::BestOfN`].
    BestOfN,
    /// See [`StrategySpec::WeightedBestOfN`].
    WeightedBestOfN,
    /// See [`StrategySpec::Beam`].
    Beam,
    /// See [`StrategySpec::Lookahead`].
    Lookahead,
    /// See [`StrategySpec::Dvts`].
    Dvts,
    /// See [`StrategySpec::Revisions`].
    Revisions,
    /// See [`StrategySpec::AdaptiveMajority`].
    AdaptiveMajority,
    /// See [`StrategySpec::Rebase`].
    Rebase,
    /// See [`StrategySpec::Particles`].
    Particles,
    /// See [`StrategySpec::Mcts`].
    Mcts,
}

impl StrategyKind {
    /// All strategies, in the order menus show them.
    pub const ALL: [StrategyKind; 11] = [
        Self::Majority,
        Self::BestOfN,
        Self::WeightedBestOfN,
        Self::Beam,
        Self::Lookahead,
        Self::Dvts,
        Self::Revisions,
        Self::AdaptiveMajority,
        Self::Rebase,
        Self::Particles,
        Self::Mcts,
    ];

    /// The name as flags and files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Majority => "majority",
            Self::BestOfN => "best-of-n",
            Self::WeightedBestOfN => "weighted-best-of-n",
            Self::Beam => "beam",
            Self::Lookahead => "lookahead",
            Self::Dvts => "dvts",
            Self::Revisions => "revisions",
            Self::AdaptiveMajority => "adaptive-majority",
            Self::Rebase => "rebase",
            Self::Particles => "particles",
            Self::Mcts => "mcts",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown strategy '{s}': the strategies are majority, best-of-n, \
                 weighted-best-of-n, beam, lookahead, dvts, revisions, adaptive-majority, rebase, particles, \
                 mcts"
                )
            })
    }

    /// Whether it uses the verifier (revisions do where their selection is hierarchical; see
    /// [`StrategySpec::uses_verifier`]).
    pub fn uses_verifier(self) -> bool {
        !matches!(self, Self::Majority | Self::AdaptiveMajority)
    }

    /// Whether it searches step by step with a beam width M (and a round cap).
    pub fn is_tree_search(self) -> bool {
        matches!(self, Self::Beam | Self::Lookahead | Self::Dvts)
    }

    /// Whether it searches step by step (a beam width or not), so needs a step delimiter.
    pub fn is_stepwise(self) -> bool {
        self.is_tree_search() || matches!(self, Self::Rebase | Self::Particles | Self::Mcts)
    }

    /// Whether it draws N independent samples from the question and only chooses among them,
    /// so a sweep can read every budget from one bank of samples (majority, best-of-N,
    /// weighted best-of-N).
    pub fn is_parallel_sampling(self) -> bool {
        matches!(self, Self::Majority | Self::BestOfN | Self::WeightedBestOfN)
    }

    /// The strategy with these parameters (those it does not take are ignored).
    pub fn with(
        self,
        aggregation: Aggregation,
        beam_width: usize,
        max_rounds: usize,
        lookahead: usize,
    ) -> StrategySpec {
        match self {
            Self::Majority => StrategySpec::Majority,
            Self::BestOfN => StrategySpec::BestOfN { aggregation },
            Self::WeightedBestOfN => StrategySpec::WeightedBestOfN { aggregation },
            Self::Beam => StrategySpec::Beam {
                beam_width,
                max_rounds,
                aggregation,
            },
            Self::Lookahead => StrategySpec::Lookahead {
                beam_width,
                max_rounds,
                lookahead,
                aggregation,
            },
            Self::Dvts => StrategySpec::Dvts {
                beam_width,
                max_rounds,
                aggregation,
            },
            Self::Revisions => StrategySpec::Revisions {
                chains: 1,
                selection: RevisionSelection::default(),
                template: RevisionTemplate::default(),
                aggregation,
            },
            Self::AdaptiveMajority => StrategySpec::AdaptiveMajority {
                batch: adaptive::DEFAULT_BATCH,
                confidence: Confidence::default(),
            },
            Self::Rebase => StrategySpec::Rebase {
                temperature: Temperature::default(),
                max_rounds,
                aggregation,
            },
            Self::Particles => StrategySpec::Particles {
                temperature: ResampleTemperature::default(),
                max_rounds,
                aggregation,
            },
            Self::Mcts => StrategySpec::Mcts {
                params: MctsParams::default(),
                max_rounds,
                aggregation,
            },
        }
    }
}

impl StrategySpec {
    /// Which strategy.
    pub fn kind(&self) -> StrategyKind {
        match self {
            Self::Majority => StrategyKind::Majority,
            Self::BestOfN { .. } => StrategyKind::BestOfN,
            Self::WeightedBestOfN { .. } => StrategyKind::WeightedBestOfN,
            Self::Beam { .. } => StrategyKind::Beam,
            Self::Lookahead { .. } => StrategyKind::Lookahead,
            Self::Dvts { .. } => StrategyKind::Dvts,
            Self::Revisions { .. } => StrategyKind::Revisions,
            Self::AdaptiveMajority { .. } => StrategyKind::AdaptiveMajority,
            Self::Rebase { .. } => StrategyKind::Rebase,
            Self::Particles { .. } => StrategyKind::Particles,
            Self::Mcts { .. } => StrategyKind::Mcts,
        }
    }

    /// The same strategy with this resampling temperature, where it is particle filtering
    /// (any other strategy is returned as it is).
    pub fn with_particles(self, t: ResampleTemperature) -> Self {
        match self {
            Self::Particles {
                max_rounds,
                aggregation,
                ..
            } => Self::Particles {
                temperature: t,
                max_rounds,
                aggregation,
            },
            spec => spec,
        }
    }

    /// The same strategy with these MCTS parameters, where it is MCTS (any other strategy is
    /// returned as it is).
    pub fn with_mcts(self, params: MctsParams) -> Self {
        match self {
            Self::Mcts {
                max_rounds,
                aggregation,
                ..
            } => Self::Mcts {
                params,
                max_rounds,
                aggregation,
            },
            spec => spec,
        }
    }

    /// MCTS's parameters, where it is MCTS.
    pub fn mcts_params(&self) -> Option<MctsParams> {
        match *self {
            Self::Mcts { params, .. } => Some(params),
            _ => None,
        }
    }

    /// The same strategy with this REBASE temperature, where it is REBASE (any other
    /// strategy is returned as it is).
    pub fn with_rebase(self, t: Temperature) -> Self {
        match self {
            Self::Rebase {
                max_rounds,
                aggregation,
                ..
            } => Self::Rebase {
                temperature: t,
                max_rounds,
                aggregation,
            },
            spec => spec,
        }
    }

    /// The same strategy with these adaptive-consistency parameters, where it is adaptive
    /// majority (any other strategy is returned as it is).
    pub fn with_adaptive(self, batch: usize, confidence: Confidence) -> Self {
        match self {
            Self::AdaptiveMajority { .. } => Self::AdaptiveMajority { batch, confidence },
            spec => spec,
        }
    }

    /// The same strategy with these revision parameters, where it is sequential revisions
    /// (any other strategy is returned as it is).
    pub fn with_revisions(
        self,
        chains: usize,
        selection: RevisionSelection,
        template: RevisionTemplate,
    ) -> Self {
        match self {
            Self::Revisions { aggregation, .. } => Self::Revisions {
                chains,
                selection,
                template,
                aggregation,
            },
            spec => spec,
        }
    }

    /// Whether it reads the verifier's scores to choose or to search.
    pub fn uses_verifier(&self) -> bool {
        match self {
            Self::Revisions { selection, .. } => *selection == RevisionSelection::Hierarchical,
            other => other.kind().uses_verifier(),
        }
    }

    /// Its aggregation (majority, which reads no scores, has the default).
    pub fn aggregation(&self) -> Aggregation {
        match *self {
            Self::Majority | Self::AdaptiveMajority { .. } => Aggregation::default(),
            Self::BestOfN { aggregation }
            | Self::WeightedBestOfN { aggregation }
            | Self::Beam { aggregation, .. }
            | Self::Lookahead { aggregation, .. }
            | Self::Dvts { aggregation, .. }
            | Self::Rebase { aggregation, .. }
            | Self::Particles { aggregation, .. }
            | Self::Mcts { aggregation, .. }
            | Self::Revisions { aggregation, .. } => aggregation,
        }
    }

    /// The budget this strategy spends at budget N, in generations: N, or N x (k + 1) for
    /// lookahead search (adaptive majority spends at most N; its records say how many).
    pub fn generations(&self, budget: usize) -> u64 {
        match *self {
            Self::Lookahead { lookahead, .. } => (budget * (lookahead + 1)) as u64,
            _ => budget as u64,
        }
    }

    /// Checks the parameters against budget N.
    pub fn validate(&self, budget: usize) -> Result<(), String> {
        let (beam_width, max_rounds) = match *self {
            Self::Beam {
                beam_width,
                max_rounds,
                ..
            }
            | Self::Lookahead {
                beam_width,
                max_rounds,
                ..
            }
            | Self::Dvts {
                beam_width,
                max_rounds,
                ..
            } => (beam_width, max_rounds),
            Self::AdaptiveMajority { batch, .. } => {
                if batch == 0 {
                    return Err("batch must be at least 1".into());
                }
                return Ok(());
            }
            Self::Rebase { max_rounds, .. } | Self::Particles { max_rounds, .. } => {
                if max_rounds == 0 {
                    return Err("max rounds must be at least 1".into());
                }
                return Ok(());
            }
            Self::Mcts {
                params, max_rounds, ..
            } => {
                if max_rounds == 0 {
                    return Err("max rounds must be at least 1".into());
                }
                return params.validate();
            }
            Self::Revisions { chains, .. } => {
                if chains == 0 || !budget.is_multiple_of(chains) {
                    return Err(format!(
                        "chains {chains} must be at least 1 and divide the budget {budget} \
                         (N = chains x attempts per chain)"
                    ));
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        if beam_width == 0 || !budget.is_multiple_of(beam_width) {
            return Err(format!(
                "beam width {beam_width} must be at least 1 and divide the budget {budget}"
            ));
        }
        if max_rounds == 0 {
            return Err("max rounds must be at least 1".into());
        }
        Ok(())
    }
}

impl std::fmt::Display for StrategySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Majority => write!(f, "majority"),
            Self::BestOfN { aggregation } | Self::WeightedBestOfN { aggregation } => {
                write!(f, "{} ({})", self.kind().as_str(), aggregation.as_str())
            }
            Self::Beam {
                beam_width,
                aggregation,
                ..
            }
            | Self::Dvts {
                beam_width,
                aggregation,
                ..
            } => write!(
                f,
                "{} (M = {beam_width}, {})",
                self.kind().as_str(),
                aggregation.as_str()
            ),
            Self::Lookahead {
                beam_width,
                lookahead,
                aggregation,
                ..
            } => write!(
                f,
                "lookahead (M = {beam_width}, k = {lookahead}, {})",
                aggregation.as_str()
            ),
            Self::Revisions {
                chains,
                selection,
                template,
                aggregation,
            } => {
                write!(f, "revisions (P = {chains} chains, {}", selection.as_str())?;
                if selection == RevisionSelection::Hierarchical {
                    write!(f, ", {}", aggregation.as_str())?;
                }
                if template != RevisionTemplate::Plain {
                    write!(f, ", {} template", template.as_str())?;
                }
                write!(f, ")")
            }
            Self::AdaptiveMajority { batch, confidence } => {
                write!(f, "adaptive-majority (b = {batch}, {confidence})")
            }
            Self::Rebase {
                temperature,
                aggregation,
                ..
            } => write!(f, "rebase (T = {temperature}, {})", aggregation.as_str()),
            Self::Particles {
                temperature,
                aggregation,
                ..
            } => write!(f, "particles (T = {temperature}, {})", aggregation.as_str()),
            Self::Mcts {
                params,
                aggregation,
                ..
            } => write!(f, "mcts ({}, {})", params.label(), aggregation.as_str()),
        }
    }
}

impl Strategy for StrategySpec {
    fn name(&self) -> String {
        self.kind().as_str().into()
    }

    fn run(&self, ctx: SearchContext<'_>) -> anyhow::Result<Outcome> {
        self.validate(ctx.budget).map_err(anyhow::Error::msg)?;
        match *self {
            Self::Majority => best_of_n::run(ctx, best_of_n::Choice::Majority, self.aggregation()),
            Self::BestOfN { aggregation } => {
                best_of_n::run(ctx, best_of_n::Choice::Best, aggregation)
            }
            Self::WeightedBestOfN { aggregation } => {
                best_of_n::run(ctx, best_of_n::Choice::Weighted, aggregation)
            }
            Self::Beam {
                beam_width,
                max_rounds,
                aggregation,
            } => beam::run(ctx, beam_width, max_rounds, 0, aggregation),
            Self::Lookahead {
                beam_width,
                max_rounds,
                lookahead,
                aggregation,
            } => beam::run(ctx, beam_width, max_rounds, lookahead, aggregation),
            Self::Dvts {
                beam_width,
                max_rounds,
                aggregation,
            } => dvts::run(ctx, beam_width, max_rounds, aggregation),
            Self::Revisions {
                chains,
                selection,
                template,
                aggregation,
            } => revisions::run(ctx, chains, selection, aggregation, template),
            Self::AdaptiveMajority { batch, confidence } => {
                adaptive::run(ctx, batch, confidence.get())
            }
            Self::Rebase {
                temperature,
                max_rounds,
                aggregation,
            } => rebase::run(ctx, temperature.get(), max_rounds, aggregation),
            Self::Particles {
                temperature,
                max_rounds,
                aggregation,
            } => particles::run(ctx, temperature.get(), max_rounds, aggregation),
            Self::Mcts {
                params,
                max_rounds,
                aggregation,
            } => mcts::run(ctx, params, max_rounds, aggregation),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_serialise_tagged_and_old_configs_still_read() {
        let spec = StrategyKind::Lookahead.with(Aggregation::Min, 4, 40, 2);
        let json = serde_json::to_value(spec).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "lookahead", "beam_width": 4, "max_rounds": 40,
                "lookahead": 2, "aggregation": "min"})
        );
        assert_eq!(serde_json::from_value::<StrategySpec>(json).unwrap(), spec);
        // config.json files written before the strategies carried their own parameters.
        let old: StrategySpec =
            serde_json::from_str(r#"{"kind": "weighted-best-of-n", "aggregation": "prod"}"#)
                .unwrap();
        assert_eq!(
            old,
            StrategySpec::WeightedBestOfN {
                aggregation: Aggregation::Prod
            }
        );
        let old: StrategySpec =
            serde_json::from_str(r#"{"kind": "majority", "aggregation": "last"}"#).unwrap();
        assert_eq!(old, StrategySpec::Majority);
        for k in StrategyKind::ALL {
            assert_eq!(StrategyKind::parse(k.as_str()), Ok(k));
            assert_eq!(k.with(Aggregation::Last, 2, 3, 1).kind(), k);
        }
        assert!(StrategyKind::parse("mcts-puct").is_err());
        // MCTS's parameters are written flat beside its kind.
        let spec = StrategyKind::Mcts
            .with(Aggregation::Min, 1, 30, 0)
            .with_mcts(MctsParams {
                tree_rule: mcts::TreeRule::Uct,
                exploration: Exploration::new(1.5).unwrap(),
                value: mcts::MctsValue::Rollout,
                ..Default::default()
            });
        let json = serde_json::to_value(spec).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "mcts", "expansion_width": 4, "tree_rule": "uct",
                "exploration": 1.5, "value": "rollout", "select": "vote",
                "selections_per_round": 4, "max_rounds": 30, "aggregation": "min"})
        );
        assert_eq!(serde_json::from_value::<StrategySpec>(json).unwrap(), spec);
        assert_eq!(spec.to_string(), "mcts (uct c = 1.5, rollout, W = 4, min)");
        // Left-out parameters take their defaults.
        let short: StrategySpec =
            serde_json::from_str(r#"{"kind": "mcts", "max_rounds": 40}"#).unwrap();
        assert_eq!(short.mcts_params(), Some(MctsParams::default()));
        // Adaptive majority's confidence is written as the number and read back exactly.
        let adaptive = StrategyKind::AdaptiveMajority
            .with(Aggregation::Last, 1, 1, 0)
            .with_adaptive(8, Confidence::new(0.9).unwrap());
        let json = serde_json::to_value(adaptive).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "adaptive-majority", "batch": 8, "confidence": 0.9})
        );
        assert_eq!(
            serde_json::from_value::<StrategySpec>(json).unwrap(),
            adaptive
        );
        assert_eq!(adaptive.to_string(), "adaptive-majority (b = 8, 0.9)");
        let bad = r#"{"kind": "adaptive-majority", "batch": 8, "confidence": 0.4}"#;
        let err = serde_json::from_str::<StrategySpec>(bad).unwrap_err();
        assert!(err.to_string().contains("confidence 0.4"), "{err}");
        assert!(adaptive
            .with_adaptive(0, Confidence::default())
            .validate(4)
            .is_err());
    }

    #[test]
    fn beam_width_must_divide_the_budget() {
        let beam = StrategyKind::Beam.with(Aggregation::Last, 3, 40, 0);
        assert!(beam
            .validate(16)
            .unwrap_err()
            .contains("divide the budget 16"));
        assert!(beam.validate(12).is_ok());
        assert_eq!(
            StrategyKind::Lookahead
                .with(Aggregation::Last, 4, 40, 3)
                .generations(16),
            64
        );
        assert_eq!(StrategySpec::Majority.generations(16), 16);
    }
}
