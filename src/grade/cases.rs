//! Worked examples of the grading rules of round 3 (issue 30: the answers real models write),
//! each with its verdict. The unit tests check every one, and `examples/grade_bench.rs` times
//! every one in a release build (each must take under 50 ms), so a rule added here is both
//! tested and timed.

/// One worked example: the rule it shows, the reference, the prediction, and whether they are
/// equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    /// The rule, as the README's grading section names it.
    pub rule: &'static str,
    /// The reference answer (or solution).
    pub reference: &'static str,
    /// The predicted answer (or solution).
    pub predicted: &'static str,
    /// Whether they are equal.
    pub equal: bool,
}

const fn case(rule: &'static str, reference: &'static str, predicted: &'static str) -> Case {
    Case {
        rule,
        reference,
        predicted,
        equal: true,
    }
}

const fn not(rule: &'static str, reference: &'static str, predicted: &'static str) -> Case {
    Case {
        rule,
        reference,
        predicted,
        equal: false,
    }
}

/// Rule names of [`CASES`].
pub const THOUSANDS: &str = "thousands separators";
/// A decimal comma.
pub const DECIMAL_COMMA: &str = "decimal comma";
/// Currency and unit symbols.
pub const SYMBOLS: &str = "currency and unit symbols";
/// The percent rule.
pub const PERCENT: &str = "percent";
/// Approximations.
pub const APPROXIMATIONS: &str = "approximations";
/// Prose conclusions.
pub const CONCLUSIONS: &str = "prose conclusions";
/// Chat-template debris.
pub const DEBRIS: &str = "chat-template debris";
/// Multiple-choice letters.
pub const CHOICES: &str = "multiple-choice letters";
/// Lists of tuples.
pub const TUPLE_LISTS: &str = "lists of tuples";
/// Labelled ratios and quotients.
pub const RATIOS: &str = "labelled ratios and quotients";
/// Solution sets written as assignments.
pub const ASSIGNMENTS: &str = "assignments";
/// Inequalities under negation.
pub const NEGATION: &str = "negated inequalities";
/// A tuple against a set.
pub const TUPLE_SET: &str = "tuple against a set";
/// Matrix arithmetic.
pub const MATRICES: &str = "matrix arithmetic";
/// Commutativity.
pub const COMMUTATIVITY: &str = "commutativity";

/// Every worked example of round 3.
pub const CASES: &[Case] = &[
    // Numbers as people write them.
    case(THOUSANDS, "12345", "12,345"),
    case(THOUSANDS, "12345", "12{,}345"),
    case(THOUSANDS, "12345", "12,\\!345"),
    case(THOUSANDS, "12345", "12\\,345"),
    case(THOUSANDS, "12345", "12 345"),
    case(
        THOUSANDS,
        "12345",
        "We add them up and the total is $12,345$.",
    ),
    case(DECIMAL_COMMA, "3.75", "3,75"),
    case(DECIMAL_COMMA, "-0.5", "-0,5"),
    case(DECIMAL_COMMA, "3, 75", "3,75"),
    case(DECIMAL_COMMA, "1250", "1,250"),
    not(DECIMAL_COMMA, "1.25", "1,250"),
    not(DECIMAL_COMMA, "375", "3,75"),
    case(SYMBOLS, "4.5", "\\$4.50"),
    case(SYMBOLS, "4.5", "$4.50"),
    case(SYMBOLS, "4.5", "4,50 €"),
    case(SYMBOLS, "4.5", "€4.50"),
    case(SYMBOLS, "12", "12 m²"),
    case(SYMBOLS, "12", "12 \\text{ m}^2"),
    case(SYMBOLS, "12", "12 kg"),
    not(SYMBOLS, "2", "2m"),
    case(PERCENT, "15", "15\\%"),
    case(PERCENT, "0.15", "15\\%"),
    case(PERCENT, "0.15", "15 percent"),
    case(PERCENT, "\\frac{1}{8}", "12.5%"),
    not(PERCENT, "15", "0.15"),
    not(PERCENT, "15\\%", "0.015"),
    // Approximations.
    case(APPROXIMATIONS, "\\frac{3}{7}", "x = 3/7 \\approx 0.43"),
    case(
        APPROXIMATIONS,
        "\\frac{3}{7}",
        "\\frac{3}{7} \\approx 0.4286 \\approx 0.43",
    ),
    case(APPROXIMATIONS, "\\frac{3}{7}", "0.43 \\approx \\frac{3}{7}"),
    case(APPROXIMATIONS, "2\\sqrt{2}", "2\\sqrt{2} \\sim 2.83"),
    case(APPROXIMATIONS, "\\frac{3}{7}", "\\approx 0.4285714286"),
    not(APPROXIMATIONS, "\\frac{3}{7}", "\\approx 0.43"),
    not(APPROXIMATIONS, "\\frac{3}{7}", "x \\approx 0.43"),
    case(APPROXIMATIONS, "0.43", "x ≈ 0.43"),
    // Where the answer is.
    case(CONCLUSIONS, "17", "Final Answer: The smallest $k$ is 17."),
    case(
        CONCLUSIONS,
        "12",
        "There are 3 ways for each of 4 slots, so the number of ways is 12",
    ),
    case(CONCLUSIONS, "12", "Thus, the number of ways is $12$."),
    case(
        CONCLUSIONS,
        "\\frac{1}{2}",
        "Therefore the probability equals \\frac{1}{2}.",
    ),
    not(CONCLUSIONS, "12", "so the number of ways is twelve or more"),
    case(
        DEBRIS,
        "5",
        "The answer is 5<|im_end|>\n<|im_start|>user\nWhat is 2+2?",
    ),
    case(
        DEBRIS,
        "5",
        "So $x = \\boxed{5}$.<|eot_id|><|start_header_id|>user",
    ),
    case(DEBRIS, "5", "5<|eot_id|>"),
    case(
        DEBRIS,
        "5",
        "We add the two numbers and find $x = 5$. [Note: the check is left to the reader.]",
    ),
    case(
        DEBRIS,
        "5",
        "We add the two numbers and get $5$. I hope it is correct.",
    ),
    case(
        DEBRIS,
        "5",
        "<|im_start|>assistant\nThe answer is 5<|im_end|>",
    ),
    case(DEBRIS, "|x|<|y|", "|x|<|y|"),
    case(CHOICES, "B", "(B)"),
    case(CHOICES, "B", "B."),
    case(CHOICES, "B", "The answer is B because the others fail."),
    case(CHOICES, "(B)", "b"),
    case(CHOICES, "B", "(B) 12"),
    not(CHOICES, "B", "(C)"),
    not(CHOICES, "B", "The answer is C because the others fail."),
    // Structures.
    case(TUPLE_LISTS, "(1,2),(3,4)", "(3,4); (1,2)"),
    case(TUPLE_LISTS, "(1,2),(3,4)", "(3,4) \\text{ or } (1,2)"),
    case(TUPLE_LISTS, "(1,2),(3,4)", "(1,2) and (3,4)"),
    case(TUPLE_LISTS, "(1,2),(3,4)", "(3,4)\\ (1,2)"),
    case(TUPLE_LISTS, "(1,2),(3,4)", "\\{(3,4), (1,2)\\}"),
    not(TUPLE_LISTS, "(1,2),(3,4)", "(2,1); (3,4)"),
    case(RATIOS, "11:21", "V_1 : V_2 = 11 : 21"),
    case(RATIOS, "\\frac{11}{21}", "11 : 21"),
    case(
        RATIOS,
        "\\frac{1}{\\sqrt{6}}",
        "\\frac{AO}{OB} = \\frac{1}{\\sqrt{6}}",
    ),
    case(RATIOS, "\\frac{\\sqrt{6}}{6}", "AO : OB = 1 : \\sqrt{6}"),
    not(RATIOS, "11:21", "V_1 : V_2 = 21 : 11"),
    case(ASSIGNMENTS, "(5, 2), (7, 2)", "p = 5, q = 2; p = 7, q = 2"),
    case(
        ASSIGNMENTS,
        "(5, 2), (7, 2)",
        "p = 7, q = 2 \\text{ or } p = 5, q = 2",
    ),
    case(ASSIGNMENTS, "(1, 2)", "x = 1, y = 2"),
    not(ASSIGNMENTS, "(1, 2)", "x = 2, y = 1"),
    not(ASSIGNMENTS, "(5, 2), (7, 2)", "p = 5, q = 2; p = 7, q = 3"),
    case(NEGATION, "x < 1", "-x > -1"),
    case(NEGATION, "(-\\infty, 1)", "-x > -1"),
    case(NEGATION, "[-3, -1)", "1 < -t \\le 3"),
    not(NEGATION, "x > 1", "-x > -1"),
    case(TUPLE_SET, "\\{1, 3\\}", "(1, 3)"),
    case(TUPLE_SET, "\\{1, 3\\}", "(3, 1)"),
    not(TUPLE_SET, "1, 3", "(1, 3)"),
    not(TUPLE_SET, "\\{1, 3\\}", "(1, 3]"),
    not(TUPLE_SET, "\\{1, \\infty\\}", "(1, \\infty)"),
    case(
        MATRICES,
        "\\begin{pmatrix}3\\\\7\\end{pmatrix}",
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}\\begin{pmatrix}1\\\\1\\end{pmatrix}",
    ),
    case(
        MATRICES,
        "\\begin{pmatrix}2&2\\\\3&5\\end{pmatrix}",
        "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix} + \\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}",
    ),
    case(
        MATRICES,
        "\\begin{pmatrix}7&10\\\\15&22\\end{pmatrix}",
        "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix} \\cdot \\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}",
    ),
    not(
        MATRICES,
        "\\begin{pmatrix}3\\\\7\\end{pmatrix}",
        "\\begin{pmatrix}1\\\\1\\end{pmatrix}\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    ),
    case(
        COMMUTATIVITY,
        "\\sqrt{x-50}+\\sqrt{y}",
        "\\sqrt{y}+\\sqrt{x-50}",
    ),
    case(COMMUTATIVITY, "\\ln(x-10) \\cdot y", "y\\ln(x-10)"),
    case(COMMUTATIVITY, "\\vec{a} + \\vec{b}", "\\vec{b} + \\vec{a}"),
    not(
        COMMUTATIVITY,
        "\\sqrt{x-50}-\\sqrt{y}",
        "\\sqrt{y}-\\sqrt{x-50}",
    ),
];
