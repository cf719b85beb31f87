//! Finding the final answer in a solution: the last `\boxed{}`, a closing "the answer is",
//! GSM8K's `#### N`, or (when asked) the last number. Every rule is one linear scan, so a
//! solution of any length is cheap; offsets come from `str` searches for ASCII patterns, so
//! slicing never splits a character.

use std::fmt;

/// Which extraction rules are on. They are tried in this order and the first that finds an
/// answer wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractOptions {
    /// The content of the last `\boxed{...}` or `\fbox{...}` (nested braces balanced); if
    /// there is none, what follows the last `\boxed ` up to `$` or the line's end.
    pub boxed: bool,
    /// What follows the last "answer is" or "answer:" (any case): a `$...$` right after it,
    /// else the rest of the sentence.
    pub answer_phrase: bool,
    /// The rest of the line after the last `####` (GSM8K).
    pub gsm8k: bool,
    /// The last number in the text (`-3`, `1,000`, `2.5`, `3/4`).
    pub last_number: bool,
}

impl Default for ExtractOptions {
    /// Every rule but the last number: a solution cut off before its answer should count as
    /// having no answer, not as answering with whatever number it stopped at. (The toy task's
    /// solutions end in `\boxed{N}`, so for them this is exactly the old box-only rule.)
    fn default() -> Self {
        Self {
            boxed: true,
            answer_phrase: true,
            gsm8k: true,
            last_number: false,
        }
    }
}

impl ExtractOptions {
    /// Every rule, including the last-number fallback.
    pub fn all() -> Self {
        Self {
            last_number: true,
            ..Self::default()
        }
    }
}

/// The rule that found an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractRule {
    /// `\boxed{...}`, `\fbox{...}` or `\boxed ...`.
    Boxed,
    /// "The answer is ..." / "Answer: ...".
    AnswerPhrase,
    /// `#### N`.
    Gsm8k,
    /// The last number.
    LastNumber,
}

impl fmt::Display for ExtractRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Boxed => "the last \\boxed{}",
            Self::AnswerPhrase => "\"the answer is\"",
            Self::Gsm8k => "####",
            Self::LastNumber => "the last number",
        })
    }
}

/// An extracted answer and the rule that found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The answer, trimmed and never empty.
    pub answer: String,
    /// The rule that found it.
    pub rule: ExtractRule,
}

/// One rule's search: the raw answer it finds in a text, if any.
type Finder = fn(&str) -> Option<&str>;

/// The final answer of `text` by the first rule of `options` that finds a non-empty one.
pub fn extract(text: &str, options: &ExtractOptions) -> Option<Extracted> {
    let rules: [(bool, ExtractRule, Finder); 4] = [
        (options.boxed, ExtractRule::Boxed, boxed),
        (
            options.answer_phrase,
            ExtractRule::AnswerPhrase,
            answer_phrase,
        ),
        (options.gsm8k, ExtractRule::Gsm8k, gsm8k),
        (options.last_number, ExtractRule::LastNumber, last_number),
    ];
    rules.into_iter().find_map(|(on, rule, find)| {
        if !on {
            return None;
        }
        let answer = find(text)?.trim();
        (!answer.is_empty()).then(|| Extracted {
            answer: answer.to_string(),
            rule,
        })
    })
}

/// The text from byte `start` (just after a `{`) to the brace that closes it.
fn until_closing_brace(text: &str, start: usize) -> Option<&str> {
    let rest = text.get(start..)?;
    let mut depth = 1usize;
    for (k, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return rest.get(..k);
                }
            }
            _ => {}
        }
    }
    None
}

/// The last box. An unclosed last box (a cut-off solution) has no answer, even when an
/// earlier box is closed, as the toy task's grader always did.
fn boxed(text: &str) -> Option<&str> {
    let last = ["\\boxed{", "\\fbox{"]
        .iter()
        .filter_map(|open| text.rfind(open).map(|at| at + open.len()))
        .max();
    if let Some(start) = last {
        return until_closing_brace(text, start);
    }
    let rest = text.get(text.rfind("\\boxed ")? + "\\boxed ".len()..)?;
    rest.split(['$', '\n']).next()
}

fn answer_phrase(text: &str) -> Option<&str> {
    // ASCII lower-casing keeps every byte offset, so they index `text` too.
    let lower = text.to_ascii_lowercase();
    let end = ["answer is", "answer:"]
        .iter()
        .filter_map(|p| lower.rfind(p).map(|at| at + p.len()))
        .max()?;
    let rest = text
        .get(end..)?
        .trim_start_matches(|c: char| c == ':' || c.is_whitespace() || c == '*');
    for (open, close) in [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")] {
        let closed = rest
            .strip_prefix(open)
            .and_then(|math| math.get(..math.find(close)?));
        if closed.is_some() {
            return closed;
        }
    }
    let line = rest.lines().next().unwrap_or_default();
    // The sentence ends at a period followed by a space or the line's end (not `3.5`).
    let sentence = line
        .find(". ")
        .and_then(|k| line.get(..k))
        .unwrap_or(line)
        .trim_end();
    let sentence = sentence.strip_suffix('.').unwrap_or(sentence);
    Some(sentence.trim_end_matches('*'))
}

fn gsm8k(text: &str) -> Option<&str> {
    let rest = text.get(text.rfind("####")? + "####".len()..)?;
    rest.lines().next()
}

/// The last number: an optional `-`, digits with optional `,ddd` groups, an optional
/// fraction part, and an optional `/digits` denominator.
fn last_number(text: &str) -> Option<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let digit = |k: usize| chars.get(k).is_some_and(|(_, c)| c.is_ascii_digit());
    let is = |k: usize, want: char| chars.get(k).is_some_and(|(_, c)| *c == want);
    let mut found = None;
    let mut k = 0;
    while k < chars.len() {
        if !digit(k) {
            k += 1;
            continue;
        }
        let start = if k > 0 && is(k - 1, '-') { k - 1 } else { k };
        let mut end = k;
        while digit(end) {
            end += 1;
        }
        while is(end, ',') && (1..=3).all(|d| digit(end + d)) && !digit(end + 4) {
            end += 4;
        }
        if is(end, '.') && digit(end + 1) {
            end += 1;
            while digit(end) {
                end += 1;
            }
        }
        if is(end, '/') && digit(end + 1) {
            end += 1;
            while digit(end) {
                end += 1;
            }
        }
        found = Some((start, end));
        k = end;
    }
    let (start, end) = found?;
    let byte = |k: usize| chars.get(k).map_or(text.len(), |(b, _)| *b);
    text.get(byte(start)..byte(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default(text: &str) -> Option<String> {
        extract(text, &ExtractOptions::default()).map(|e| e.answer)
    }

    fn all(text: &str) -> Option<(String, ExtractRule)> {
        extract(text, &ExtractOptions::all()).map(|e| (e.answer, e.rule))
    }

    #[test]
    fn boxes_win_and_nest() {
        assert_eq!(default("so \\boxed{12}").as_deref(), Some("12"));
        assert_eq!(
            default("\\boxed{1} then \\boxed{\\frac{1}{2}}").as_deref(),
            Some("\\frac{1}{2}")
        );
        assert_eq!(default("\\fbox{7}").as_deref(), Some("7"));
        assert_eq!(default("\\boxed{1} \\fbox{2}").as_deref(), Some("2"));
        assert_eq!(default("$\\boxed 5$").as_deref(), Some("5"));
        assert_eq!(default("The answer is 3. \\boxed{4}").as_deref(), Some("4"));
        // A cut-off last box is no answer, even after a closed one.
        assert_eq!(default("\\boxed{1} \\boxed{2"), None);
        assert_eq!(default("\\boxed{}"), None);
        assert_eq!(default("\\boxed{ }"), None);
    }

    #[test]
    fn answer_phrases_and_gsm8k() {
        assert_eq!(
            default("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.")
                .as_deref(),
            Some("\\frac{1}{2}")
        );
        assert_eq!(default("So the answer is 3.5.").as_deref(), Some("3.5"));
        assert_eq!(default("The answer is: **42**").as_deref(), Some("42"));
        assert_eq!(default("answer: 7\nmore text").as_deref(), Some("7"));
        assert_eq!(default("The ANSWER IS x. Then").as_deref(), Some("x"));
        assert_eq!(default("They ate 3.\n#### 1,000").as_deref(), Some("1,000"));
        assert_eq!(default("the answer is $5 each").as_deref(), Some("$5 each"));
    }

    #[test]
    fn last_number_is_opt_in() {
        assert_eq!(default("I got 3 then 4"), None);
        assert_eq!(
            all("I got 3 then -4.5 apples"),
            Some(("-4.5".into(), ExtractRule::LastNumber))
        );
        assert_eq!(
            all("it is 1,000."),
            Some(("1,000".into(), ExtractRule::LastNumber))
        );
        assert_eq!(
            all("ratio 3/4"),
            Some(("3/4".into(), ExtractRule::LastNumber))
        );
        assert_eq!(all("x1, 2"), Some(("2".into(), ExtractRule::LastNumber)));
        assert_eq!(all("é 5 ü"), Some(("5".into(), ExtractRule::LastNumber)));
        assert_eq!(all("no digits"), None);
        assert_eq!(
            all("\\boxed{8} and 9"),
            Some(("8".into(), ExtractRule::Boxed))
        );
    }
}
