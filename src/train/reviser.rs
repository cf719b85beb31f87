//! Training data of a revision model, built the way the paper builds it (Snell et al. 2024,
//! section 6.1): many attempts per training question are sampled from the policy at temperature
//! 1, and each correct attempt becomes the target of a trajectory whose context is 0 to 4
//! incorrect attempts at the same question. The last attempt of the context, the one the
//! reviser sees just before writing, is the incorrect attempt closest to the correct one by
//! character edit distance, so the reviser learns to turn a near miss into the right answer;
//! the others are drawn at random, in random order. The loss goes on the target alone.
//!
//! This module builds the trajectories from attempts already sampled and graded; sampling and
//! fine-tuning come with `thinkscale train reviser` (issue 13).

use rand::seq::SliceRandom;
use rand::Rng;

/// The most incorrect attempts in a trajectory's context (the paper's 4).
pub const MAX_CONTEXT: usize = 4;

/// One sampled attempt at a question: its whole step-by-step solution, and whether its answer
/// is right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The full solution text.
    pub text: String,
    /// Whether its final answer is right.
    pub correct: bool,
}

/// One training example: earlier incorrect attempts, oldest first, and the correct attempt the
/// reviser learns to write after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trajectory {
    /// The incorrect attempts in context, oldest first; the last is the closest to `target`.
    pub context: Vec<String>,
    /// The correct attempt (the only tokens with a loss).
    pub target: String,
}

/// Levenshtein distance between `a` and `b` in characters (insertions, deletions and
/// substitutions each cost 1).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The trajectories of one question: one per distinct correct attempt, at most `per_question`
/// (the first ones sampled). Each draws how many incorrect attempts it holds uniformly from 0 to
/// [`MAX_CONTEXT`] (at most as many as there are distinct incorrect attempts); the last is the
/// incorrect attempt closest to the target by [`edit_distance`] (ties: the one sampled first),
/// the rest are drawn from the others and shuffled. A question without a correct attempt gives
/// none.
pub fn trajectories(
    attempts: &[Attempt],
    per_question: usize,
    rng: &mut impl Rng,
) -> Vec<Trajectory> {
    let distinct = |right: bool| -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        attempts
            .iter()
            .filter(|a| a.correct == right && seen.insert(a.text.as_str()))
            .map(|a| a.text.as_str())
            .collect()
    };
    let wrong = distinct(false);
    let mut out = Vec::new();
    for target in distinct(true).into_iter().take(per_question) {
        let k = rng.random_range(0..=MAX_CONTEXT.min(wrong.len()));
        let mut context = Vec::with_capacity(k);
        if k > 0 {
            let closest = (0..wrong.len())
                .min_by_key(|&i| (edit_distance(wrong[i], target), i))
                .unwrap_or(0);
            let mut others: Vec<&str> = wrong
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != closest)
                .map(|(_, w)| *w)
                .collect();
            others.shuffle(rng);
            context.extend(others.into_iter().take(k - 1).map(String::from));
            context.push(wrong[closest].to_string());
        }
        out.push(Trajectory {
            context,
            target: target.to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn attempt(text: &str, correct: bool) -> Attempt {
        Attempt {
            text: text.into(),
            correct,
        }
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("2+3=5: 5", "2+3=6: 6"), 2);
        // Characters, not bytes.
        assert_eq!(edit_distance("ки", "кa"), 1);
    }

    #[test]
    fn the_last_attempt_in_context_is_the_closest_wrong_one() {
        let right = "3*4=12: 2+12\n2+12=14: 14\n\\boxed{14}";
        let attempts = [
            attempt("3*4=7: 2+7\n2+7=9: 9\n\\boxed{9}", false),
            attempt(right, true),
            attempt("3*4=12: 2+12\n2+12=15: 15\n\\boxed{15}", false),
            attempt("2+3=5: 5*4\n5*4=20: 20\n\\boxed{20}", false),
            attempt(right, true),
            attempt("3*4=13: 2+13\n2+13=15: 15\n\\boxed{15}", false),
            attempt("3*4=7: 2+7\n2+7=9: 9\n\\boxed{9}", false),
        ];
        let mut sizes = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let t = trajectories(&attempts, 8, &mut rng);
            // One trajectory per distinct correct attempt.
            assert_eq!(t.len(), 1);
            let t = &t[0];
            assert_eq!(t.target, right);
            assert!(t.context.len() <= MAX_CONTEXT);
            sizes.insert(t.context.len());
            if let Some(last) = t.context.last() {
                assert_eq!(last, "3*4=12: 2+12\n2+12=15: 15\n\\boxed{15}");
            }
            // Distinct, all wrong, none the target.
            let mut ctx = t.context.clone();
            ctx.sort();
            ctx.dedup();
            assert_eq!(ctx.len(), t.context.len());
            assert!(t.context.iter().all(|c| c != right));
        }
        // Every size from 0 to 4 occurs (4 distinct wrong attempts are there).
        assert_eq!(sizes, (0..=MAX_CONTEXT).collect());
    }

    #[test]
    fn few_wrong_attempts_cap_the_context_and_no_right_one_gives_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let only_right = [attempt("a", true), attempt("b", true)];
        let t = trajectories(&only_right, 8, &mut rng);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|t| t.context.is_empty()));
        assert_eq!(trajectories(&only_right, 1, &mut rng).len(), 1);
        let one_wrong = [attempt("x", false), attempt("a", true)];
        for _ in 0..16 {
            let t = trajectories(&one_wrong, 8, &mut rng);
            assert!(t[0].context.len() <= 1);
        }
        assert!(trajectories(&[attempt("x", false)], 8, &mut rng).is_empty());
        // The same seed, the same trajectories.
        let a = trajectories(&one_wrong, 8, &mut ChaCha8Rng::seed_from_u64(7));
        let b = trajectories(&one_wrong, 8, &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
    }
}
