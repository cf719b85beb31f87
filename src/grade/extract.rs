//! Finding the final answer in a solution, once the debris of a chat template is cut
//! ([`without_debris`]): the last `\boxed{}` (or several boxes together), a closing "the
//! answer is", GSM8K's `#### N`, a prose conclusion ("so the number of ways is 12"), the last
//! math span, or (when asked) the last number. Every rule is one linear scan, so a solution of
//! any length is cheap; offsets come from `str` searches for ASCII patterns, so slicing never
//! splits a character.

use super::normalize::is_unit;
use std::fmt;
use std::ops::Range;

/// Most distinct boxes read together as one list; a solution with more is read by its last box.
pub const MAX_BOXES: usize = 16;

/// Words after which a sentence states its value: "the largest n **is** 34".
const LINKING_WORDS: &[&str] = &[
    "is", "are", "was", "were", "be", "equals", "gives", "get", "gets", "becomes",
];

/// Words that open a conclusion: "**so** the number of ways is 12".
const CONCLUSION_WORDS: &[&str] = &[
    "so",
    "thus",
    "therefore",
    "hence",
    "finally",
    "altogether",
    "overall",
    "total",
    "conclusion",
];

/// Special tokens of chat templates; a solution ends at the first one after its text.
const SPECIAL_TOKENS: &[&str] = &[
    "</s>",
    "<eos>",
    "<end_of_turn>",
    "<start_of_turn>",
    "[INST]",
    "[/INST]",
    "<\u{ff5c}",
];

/// Words that start the reason after a value: "5 **because** ...".
const REASON_WORDS: &[&str] = &[
    "because", "since", "as", "for", "so", "which", "where", "when", "given", "by", "from", "if",
];

/// Which extraction rules are on. They are tried in this order and the first that finds an
/// answer wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractOptions {
    /// The content of the last `\boxed{...}` or `\fbox{...}` (nested braces balanced); if
    /// there is none, what follows the last `\boxed ` up to `$` or the line's end. Several
    /// boxes with different contents come back together, each still boxed:
    /// `\boxed{1}, \boxed{2}` (see [`ExtractRule::Boxes`]).
    pub boxed: bool,
    /// What follows the last "answer is" or "answer:" (any case): `$...$` right after it, else
    /// the rest of the sentence, or, when that sentence is prose ("The largest n is 34"), its
    /// value: what follows its last "is", or its last math span or number.
    pub answer_phrase: bool,
    /// The rest of the line after the last `####` (GSM8K).
    pub gsm8k: bool,
    /// A prose conclusion in the last sentence: what follows "is" (or "are", "equals"...)
    /// after "so", "thus", "therefore"...: `so the number of ways is 12` → `12`.
    pub conclusion: bool,
    /// The content of the last closed math span (`$...$`, `$$...$$`, `\(...\)`, `\[...\]`);
    /// nothing when the text ends inside an unclosed one (a cut-off solution).
    pub last_math: bool,
    /// The last number in the text (`-3`, `1,000`, `2.5`, `3/4`), never digits inside a word
    /// (`AB2C`, `x1`).
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
            conclusion: true,
            last_math: true,
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
    /// Several boxes with different contents, returned as `\boxed{a}, \boxed{b}`: the grader
    /// reads them as one unordered list when the other answer is a list or set, and as the
    /// last box otherwise.
    Boxes,
    /// "The answer is ..." / "Answer: ...".
    AnswerPhrase,
    /// `#### N`.
    Gsm8k,
    /// A prose conclusion: "so the number of ways is 12".
    Conclusion,
    /// The last math span.
    LastMath,
    /// The last number.
    LastNumber,
}

impl fmt::Display for ExtractRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Boxed => "the last \\boxed{}",
            Self::Boxes => "several \\boxed{}",
            Self::AnswerPhrase => "\"the answer is\"",
            Self::Gsm8k => "####",
            Self::Conclusion => "a conclusion",
            Self::LastMath => "the last math span",
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

/// One rule's search: the raw answer it finds in a text, if any, and the rule that found it.
type Finder = fn(&str) -> Option<(String, ExtractRule)>;

/// The final answer of `text` by the first rule of `options` that finds a non-empty one, after
/// the debris a chat model leaves after its answer is cut off ([`without_debris`]).
pub fn extract(text: &str, options: &ExtractOptions) -> Option<Extracted> {
    let text = without_debris(text);
    let rules: [(bool, Finder); 6] = [
        (options.boxed, boxed),
        (options.answer_phrase, answer_phrase),
        (options.gsm8k, |t| {
            gsm8k(t).map(|a| (a.into(), ExtractRule::Gsm8k))
        }),
        (options.conclusion, |t| {
            conclusion(t).map(|a| (a.into(), ExtractRule::Conclusion))
        }),
        (options.last_math, |t| {
            last_math(t).map(|a| (a.into(), ExtractRule::LastMath))
        }),
        (options.last_number, |t| {
            last_number(t).map(|a| (a.into(), ExtractRule::LastNumber))
        }),
    ];
    rules.into_iter().find_map(|(on, find)| {
        if !on {
            return None;
        }
        let (answer, rule) = find(text)?;
        let answer = answer.trim();
        (!answer.is_empty()).then(|| Extracted {
            answer: answer.to_string(),
            rule,
        })
    })
}

/// Whether `text` reads as a whole solution rather than a bare answer: it has a box, an answer
/// phrase or `####`, or a closed math span and at least five words of prose outside math, or a
/// prose conclusion ("so the number of ways is 12") and three words of prose. The
/// grader extracts the answer of such a text (a reference that is a whole solution included).
pub fn is_solution(text: &str) -> bool {
    let text = without_debris(text);
    if text.contains("\\boxed") || text.contains("\\fbox") || text.contains("####") {
        return true;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("answer is") || lower.contains("answer:") {
        return true;
    }
    let (spans, unclosed) = math_spans(text);
    let prose = prose_count(text);
    (prose >= 5 && !unclosed && !spans.is_empty()) || (prose >= 3 && conclusion(text).is_some())
}

/// `text` without what a chat model leaves after its answer: everything from the first special
/// token of a chat template after the text starts (`<|im_end|>`, `<|eot_id|>`, `</s>`...), then
/// trailing `[Note: ...]` blocks and "I hope it is correct." sentences. One scan per rule.
pub fn without_debris(text: &str) -> &str {
    let start = text.len() - text.trim_start().len();
    let mut start = start;
    // Special tokens before the text (`<|im_start|>assistant`) are skipped, not cut at.
    while let Some(length) = text.get(start..).and_then(special_token_at) {
        start += length;
        start += text
            .get(start..)
            .map_or(0, |r| r.len() - r.trim_start().len());
    }
    let mut end = text.len();
    let mut at = start;
    while let Some(k) = text.get(at..).and_then(|r| r.find(['<', '['])) {
        let position = at + k;
        if text.get(position..).and_then(special_token_at).is_some() {
            end = position;
            break;
        }
        at = position + 1;
    }
    let mut t = text.get(..end).unwrap_or(text).trim_end();
    // ASCII lower-casing keeps byte offsets, so `lower` up to `t.len()` is `t` lower-cased.
    let lower = t.to_ascii_lowercase();
    loop {
        let before = t.len();
        let low = lower.get(..t.len()).unwrap_or_default();
        if let Some(k) = low.rfind("[note") {
            if t.get(k..).is_some_and(one_bracket_group) {
                t = t.get(..k).unwrap_or(t).trim_end();
            }
        }
        let low = lower.get(..t.len()).unwrap_or_default();
        for hope in ["i hope it is correct.", "i hope it is correct"] {
            if low.ends_with(hope) {
                t = t.get(..t.len() - hope.len()).unwrap_or(t).trim_end();
                break;
            }
        }
        if t.len() == before {
            return t;
        }
    }
}

/// Whether `s` is one `[...]` group: its first bracket closes at its last character.
fn one_bracket_group(s: &str) -> bool {
    let mut depth = 0usize;
    for (k, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k + 1 == s.len();
                }
            }
            _ => {}
        }
    }
    false
}

/// The length of the special token `s` starts with: `<|name|>` (letters, digits and `_`), or
/// one of [`SPECIAL_TOKENS`] (DeepSeek's `<｜...｜>` to its closing bar).
fn special_token_at(s: &str) -> Option<usize> {
    if let Some(rest) = s.strip_prefix("<|") {
        // A name of 3 to 40 letters, digits and `_`: a bounded look, so `<|<|<|...` is linear.
        let name = rest
            .bytes()
            .take(41)
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))?;
        let closed = rest.get(name..)?.starts_with("|>");
        return (closed && name >= 3).then_some(2 + name + 2);
    }
    let token = SPECIAL_TOKENS.iter().find(|t| s.starts_with(**t))?;
    if token.starts_with("<\u{ff5c}") {
        // DeepSeek's `<｜end▁of▁sentence｜>`: its closing bar within 64 characters.
        let close = "\u{ff5c}>";
        let (k, _) = s
            .char_indices()
            .skip(1)
            .take(64)
            .find(|(k, _)| s.get(*k..).is_some_and(|r| r.starts_with(close)))?;
        return Some(k + close.len());
    }
    Some(token.len())
}

/// A prose conclusion in the last sentence: after its last conclusion word ("so", "thus",
/// "therefore"...), what follows the last "is" (or "are", "equals"...), when that is a value
/// and no prose: `..., so the number of ways is 12.` → `12`; `Thus the sum is $12$.` → `$12$`.
fn conclusion(text: &str) -> Option<&str> {
    // A text that ends inside a math span was cut off.
    if math_spans(text).1 {
        return None;
    }
    let text = text.trim_end();
    let text = text.strip_suffix('.').unwrap_or(text).trim_end();
    let start = [". ", ".\n", "\n", "! ", "? "]
        .iter()
        .filter_map(|b| text.rfind(b).map(|k| k + b.len()))
        .max()
        .unwrap_or(0);
    let sentence = text.get(start..)?;
    let all_words = words(sentence);
    let lowered = |r: &Range<usize>| sentence.get(r.clone()).map(str::to_ascii_lowercase);
    let opening = all_words
        .iter()
        .rposition(|r| lowered(r).is_some_and(|w| CONCLUSION_WORDS.contains(&w.as_str())))?;
    let linking = all_words
        .iter()
        .skip(opening + 1)
        .rev()
        .find(|r| lowered(r).is_some_and(|w| LINKING_WORDS.contains(&w.as_str())))?;
    let value = sentence.get(linking.end..)?.trim();
    let value = value.trim_matches('*').trim();
    // A number and the noun it counts: `12 apples` → `12`.
    let value = match value.split_whitespace().collect::<Vec<_>>().as_slice() {
        [number, noun]
            if number
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'))
                && noun.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            number
        }
        _ => value,
    };
    let math = inside_math(value);
    let has_value = value.chars().any(|c| c.is_ascii_digit()) || (math.len() < value.len());
    let balanced = value.chars().try_fold(0usize, |depth, c| match c {
        '(' | '[' | '{' => Some(depth + 1),
        ')' | ']' | '}' => depth.checked_sub(1),
        _ => Some(depth),
    }) == Some(0);
    (has_value && balanced && prose_count(value) == 0).then_some(math)
}

/// The inside of `value` when it is one math span, `$12$` → `12`; else `value`.
fn inside_math(value: &str) -> &str {
    match span_at(value, 0) {
        Span::Closed { inner, end } if end == value.len() => {
            value.get(inner).map_or(value, str::trim)
        }
        _ => value,
    }
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

fn boxed(text: &str) -> Option<(String, ExtractRule)> {
    let boxes = distinct_boxes(text);
    if boxes.len() >= 2 {
        let joined: Vec<String> = boxes.iter().map(|b| format!("\\boxed{{{b}}}")).collect();
        return Some((joined.join(", "), ExtractRule::Boxes));
    }
    last_box(text).map(|b| (b.to_string(), ExtractRule::Boxed))
}

/// The last box. An unclosed last box (a cut-off solution) has no answer, even when an
/// earlier box is closed, as the toy task's grader always did.
pub fn last_box(text: &str) -> Option<&str> {
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

/// The different non-empty contents of the outermost boxes, in order of first appearance
/// (`\boxed{1} ... \boxed{2} ... \boxed{1}` → `1`, `2`). Empty when a box is not closed or
/// when there are more than [`MAX_BOXES`]. One pass: each box is scanned once.
pub fn distinct_boxes(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    let mut pos = 0;
    while let Some(k) = text.get(pos..).and_then(|rest| rest.find('\\')) {
        let at = pos + k;
        let rest = text.get(at..).unwrap_or_default();
        let Some(open) = ["\\boxed{", "\\fbox{"]
            .iter()
            .find(|open| rest.starts_with(**open))
        else {
            pos = at + 1;
            continue;
        };
        let start = at + open.len();
        let Some(content) = until_closing_brace(text, start) else {
            return Vec::new();
        };
        let trimmed = content.trim();
        if !trimmed.is_empty() && !found.contains(&trimmed) {
            if found.len() == MAX_BOXES {
                return Vec::new();
            }
            found.push(trimmed);
        }
        pos = start + content.len() + 1;
    }
    found
}

fn answer_phrase(text: &str) -> Option<(String, ExtractRule)> {
    // ASCII lower-casing keeps every byte offset, so they index `text` too.
    let lower = text.to_ascii_lowercase();
    let end = ["answer is", "answer:"]
        .iter()
        .filter_map(|p| lower.rfind(p).map(|at| at + p.len()))
        .max()?;
    let rest = text
        .get(end..)?
        .trim_start_matches(|c: char| c == ':' || c.is_whitespace() || c == '*');
    if let Some(math) = leading_math(rest) {
        return Some((math, ExtractRule::AnswerPhrase));
    }
    let line = rest.lines().next().unwrap_or_default();
    // The sentence ends at a period followed by a space or the line's end (not `3.5`).
    let sentence = line
        .find(". ")
        .and_then(|k| line.get(..k))
        .unwrap_or(line)
        .trim_end();
    let sentence = sentence.strip_suffix('.').unwrap_or(sentence);
    let sentence = sentence.trim_end_matches('*');
    Some((
        value_of_sentence(sentence).into(),
        ExtractRule::AnswerPhrase,
    ))
}

/// The math span that `rest` starts with, and any more spans joined to it by commas, "and" or
/// "or" only: `$1$ and $2$.` → `1, 2`.
fn leading_math(rest: &str) -> Option<String> {
    let mut items = Vec::new();
    let mut at = 0;
    while let Span::Closed { inner, end } = span_at(rest, at) {
        items.push(rest.get(inner).unwrap_or_default().trim());
        let after = rest.get(end..).unwrap_or_default();
        let joiner = after.trim_start();
        let joiner = ["and ", "or ", ","]
            .iter()
            .find_map(|j| joiner.strip_prefix(j))
            .unwrap_or(joiner);
        let next = joiner.trim_start();
        if next.len() == after.len() || !matches!(span_at(next, 0), Span::Closed { .. }) {
            break;
        }
        at = rest.len() - next.len();
    }
    let items: Vec<&str> = items.into_iter().filter(|i| !i.is_empty()).collect();
    (!items.is_empty()).then(|| items.join(", "))
}

/// What a sentence after "answer:" states. Not prose (`3.5`, `x + 1`, `12 cm`, `yes`): all of
/// it. A value and then a reason ("5 because ...", "2x + 3, as shown"): the value. Other prose
/// ("The largest n is 34"): its last math span, else what follows its last linking word ("is",
/// "are", "equals"...) when that is not prose, else its last number, else all of it.
fn value_of_sentence(sentence: &str) -> &str {
    if prose_count(sentence) < 2 {
        return sentence;
    }
    let all_words = words(sentence);
    if let Some(first) = all_words.first() {
        let reason = sentence
            .get(first.clone())
            .is_some_and(|w| REASON_WORDS.contains(&w.to_ascii_lowercase().as_str()));
        let value = sentence
            .get(..first.start)
            .unwrap_or_default()
            .trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ';');
        let letter = value.trim().trim_matches(['(', ')']);
        let choice = letter.len() == 1 && letter.chars().all(|c| matches!(c, 'A'..='E'));
        if reason && (choice || value.chars().any(|c| c.is_ascii_digit() || c == '\\')) {
            return value.trim();
        }
    }
    // What follows the last "is" wins over an earlier math span: "the smallest $k$ is 17".
    let linking = all_words.iter().rev().find(|r| {
        sentence
            .get((*r).clone())
            .is_some_and(|w| LINKING_WORDS.contains(&w.to_ascii_lowercase().as_str()))
    });
    if let Some(after) = linking.and_then(|r| sentence.get(r.end..)).map(str::trim) {
        if !after.is_empty() && prose_count(after) == 0 {
            return inside_math(after);
        }
    }
    let (spans, _) = math_spans(sentence);
    if let Some(math) = spans
        .iter()
        .rev()
        .filter_map(|r| sentence.get(r.clone()).map(str::trim))
        .find(|m| !m.is_empty())
    {
        return math;
    }
    last_number(sentence).unwrap_or(sentence)
}

fn gsm8k(text: &str) -> Option<&str> {
    let rest = text.get(text.rfind("####")? + "####".len()..)?;
    rest.lines().next()
}

/// A math span starting at byte `at`, if one does.
enum Span {
    /// None starts there.
    None,
    /// One opens there and never closes.
    Unclosed,
    /// One opens there: its content and the byte after its closing delimiter.
    Closed { inner: Range<usize>, end: usize },
}

fn span_at(s: &str, at: usize) -> Span {
    let Some(rest) = s.get(at..) else {
        return Span::None;
    };
    for (open, close) in [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")] {
        if let Some(after) = rest.strip_prefix(open) {
            let start = at + open.len();
            return match after.find(close) {
                Some(k) => Span::Closed {
                    inner: start..start + k,
                    end: start + k + close.len(),
                },
                None => Span::Unclosed,
            };
        }
    }
    Span::None
}

/// The contents of the closed math spans of `s`, in order, and whether `s` ends inside an
/// unclosed one. `\$` is a dollar sign, not a delimiter.
fn math_spans(s: &str) -> (Vec<Range<usize>>, bool) {
    let bytes = s.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'$' && b != b'\\' {
            i += 1;
            continue;
        }
        match span_at(s, i) {
            Span::Closed { inner, end } => {
                spans.push(inner);
                i = end;
            }
            Span::Unclosed => return (spans, true),
            // An escaped character (`\$`, `\\`) is skipped with its backslash.
            Span::None => i += if b == b'\\' { 2 } else { 1 },
        }
    }
    (spans, false)
}

/// The last closed math span's content; nothing when the text ends inside an unclosed span.
fn last_math(text: &str) -> Option<&str> {
    let (spans, unclosed) = math_spans(text);
    if unclosed {
        return None;
    }
    spans
        .iter()
        .rev()
        .filter_map(|r| text.get(r.clone()).map(str::trim))
        .find(|m| !m.is_empty())
}

/// The byte ranges of the words of `s` outside its closed math spans: runs of two or more ASCII
/// letters that are not a command name (`\frac`).
fn words(s: &str) -> Vec<Range<usize>> {
    let (spans, _) = math_spans(s);
    let mut out = Vec::new();
    let mut spans = spans.into_iter().peekable();
    let mut run_start: Option<usize> = None;
    let mut command = false;
    let mut previous = ' ';
    for (i, c) in s.char_indices() {
        while spans.peek().is_some_and(|r| r.end <= i) {
            spans.next();
        }
        let in_math = spans.peek().is_some_and(|r| r.start <= i);
        let letter = c.is_ascii_alphabetic() && !in_math;
        match (letter, run_start) {
            (true, None) => {
                run_start = Some(i);
                command = previous == '\\';
            }
            (false, Some(start)) => {
                if !command && i - start >= 2 {
                    out.push(start..i);
                }
                run_start = None;
            }
            _ => {}
        }
        previous = c;
    }
    if let Some(start) = run_start {
        if !command && s.len() - start >= 2 {
            out.push(start..s.len());
        }
    }
    out
}

/// How many words of `s` are prose: not "and", "or" or a unit.
fn prose_count(s: &str) -> usize {
    words(s)
        .into_iter()
        .filter_map(|r| s.get(r))
        .filter(|w| !matches!(w.to_ascii_lowercase().as_str(), "and" | "or") && !is_unit(w))
        .count()
}

/// The last number: an optional `-`, digits with optional `,ddd` groups, an optional
/// fraction part, and an optional `/digits` denominator. Digits that continue a word (`AB2C`,
/// `x1`, `\frac12`) are not a number.
fn last_number(text: &str) -> Option<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let digit = |k: usize| chars.get(k).is_some_and(|(_, c)| c.is_ascii_digit());
    let is = |k: usize, want: char| chars.get(k).is_some_and(|(_, c)| *c == want);
    let in_word = |k: usize| {
        k > 0
            && chars
                .get(k - 1)
                .is_some_and(|(_, c)| c.is_ascii_alphabetic() || *c == '_')
    };
    let mut found = None;
    let mut k = 0;
    while k < chars.len() {
        if !digit(k) {
            k += 1;
            continue;
        }
        if in_word(k) {
            while chars
                .get(k)
                .is_some_and(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
            {
                k += 1;
            }
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
        // Several different boxes come back together, still boxed.
        assert_eq!(
            default("\\boxed{1} then \\boxed{\\frac{1}{2}}").as_deref(),
            Some("\\boxed{1}, \\boxed{\\frac{1}{2}}")
        );
        assert_eq!(default("\\fbox{7}").as_deref(), Some("7"));
        assert_eq!(
            default("\\boxed{1} \\fbox{2}").as_deref(),
            Some("\\boxed{1}, \\boxed{2}")
        );
        assert_eq!(default("\\boxed{2} so \\fbox{2}").as_deref(), Some("2"));
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

    #[test]
    fn several_boxes_come_back_together() {
        assert_eq!(
            all("so $x = \\boxed{1}$ or $x = \\boxed{-2}$"),
            Some(("\\boxed{1}, \\boxed{-2}".into(), ExtractRule::Boxes))
        );
        // Repeats count once; one distinct box is the plain last box.
        assert_eq!(
            all("\\boxed{3} and again \\boxed{3}"),
            Some(("3".into(), ExtractRule::Boxed))
        );
        assert_eq!(
            default("\\boxed{1} \\boxed{2} \\boxed{1}").as_deref(),
            Some("\\boxed{1}, \\boxed{2}")
        );
        // A box inside a box is part of its box.
        assert_eq!(
            distinct_boxes("\\boxed{\\boxed{5}} \\boxed{6}"),
            ["\\boxed{5}", "6"]
        );
        // A cut-off box after closed ones: no answer.
        assert_eq!(default("\\boxed{1} \\boxed{2} \\boxed{3"), None);
        // Too many different boxes: the last one.
        let many: String = (0..=MAX_BOXES)
            .map(|k| format!("\\boxed{{{k}}} "))
            .collect();
        assert_eq!(
            all(&many),
            Some((MAX_BOXES.to_string(), ExtractRule::Boxed))
        );
        // Extracting again gives the same boxes.
        let joined = default("\\boxed{a} \\boxed{b}").unwrap();
        assert_eq!(distinct_boxes(&joined), ["a", "b"]);
        assert_eq!(last_box(&joined), Some("b"));
    }

    #[test]
    fn the_last_math_span_answers_when_nothing_else_does() {
        let last =
            |text: &str| extract(text, &ExtractOptions::default()).map(|e| (e.answer, e.rule));
        assert_eq!(
            last("We get $x = 3$, and the sum $12$."),
            Some(("12".into(), ExtractRule::LastMath))
        );
        // A conclusion in prose comes before the last math span.
        assert_eq!(
            last("We get $x = 3$, so the sum is $12$."),
            Some(("12".into(), ExtractRule::Conclusion))
        );
        assert_eq!(
            last("Then \\(a+b\\) is \\[\\frac{7}{2}\\]"),
            Some(("\\frac{7}{2}".into(), ExtractRule::LastMath))
        );
        assert_eq!(
            last("Hence $$x^2$$ and then $ $"),
            Some(("x^2".into(), ExtractRule::LastMath))
        );
        // A price is not a delimiter.
        assert_eq!(
            last("It costs \\$5 and so $n = 4$ apples cost \\$20."),
            Some(("n = 4".into(), ExtractRule::LastMath))
        );
        // Cut off inside a span, or no math at all: no answer.
        assert_eq!(last("We get $x = 3$, so the sum is $12 +"), None);
        assert_eq!(last("We get 3 and then 12"), None);
        // Earlier rules win.
        assert_eq!(
            last("$5$ so the answer is 6."),
            Some(("6".into(), ExtractRule::AnswerPhrase))
        );
        assert_eq!(
            last("$5$ then \\boxed{7} and $8$"),
            Some(("7".into(), ExtractRule::Boxed))
        );
        let off = ExtractOptions {
            last_math: false,
            ..ExtractOptions::default()
        };
        assert_eq!(extract("so $12$", &off), None);
    }

    #[test]
    fn a_prose_sentence_after_the_answer_phrase_gives_its_value() {
        assert_eq!(
            default("Final answer: The largest n is 34.").as_deref(),
            Some("34")
        );
        assert_eq!(
            default("Final answer: the largest $n$ is $34$.").as_deref(),
            Some("34")
        );
        assert_eq!(
            default("The answer is that there are 12 ways.").as_deref(),
            Some("12")
        );
        assert_eq!(
            default("The answer is: the sum equals 2x + 1.").as_deref(),
            Some("2x + 1")
        );
        assert_eq!(
            default("The answer is 5 because there are 3 cases.").as_deref(),
            Some("5")
        );
        assert_eq!(
            default("The answer is 2x + 3, as we showed.").as_deref(),
            Some("2x + 3")
        );
        assert_eq!(
            default("The answer is $1$ and $2$.").as_deref(),
            Some("1, 2")
        );
        // Not prose: the whole sentence, as before.
        assert_eq!(default("The answer is x + 1").as_deref(), Some("x + 1"));
        assert_eq!(default("The answer is 12 cm.").as_deref(), Some("12 cm"));
        assert_eq!(default("The answer is yes.").as_deref(), Some("yes"));
        // Prose without a value stays as it is.
        assert_eq!(
            default("The answer is no real solution.").as_deref(),
            Some("no real solution")
        );
        // Digits inside a word are no number: `AB2C` is not 2.
        assert_eq!(
            default("Answer: the code we want is AB2C.").as_deref(),
            Some("the code we want is AB2C")
        );
    }

    #[test]
    fn the_last_number_never_comes_out_of_a_word() {
        assert_eq!(all("the label is AB2C"), None);
        assert_eq!(
            all("AB2C and 7 more"),
            Some(("7".into(), ExtractRule::LastNumber))
        );
        assert_eq!(
            all("3 then x_2 and v1"),
            Some(("3".into(), ExtractRule::LastNumber))
        );
        assert_eq!(
            all("the 3rd term"),
            Some(("3".into(), ExtractRule::LastNumber))
        );
        assert_eq!(all("a2b3c4"), None);
    }

    #[test]
    fn whole_solutions_are_told_from_bare_answers() {
        for solution in [
            "so \\boxed{5}",
            "The answer is 5",
            "Answer: 5",
            "#### 5",
            "We add the numbers and get $5$ at the end.",
        ] {
            assert!(is_solution(solution), "{solution:?}");
        }
        for answer in [
            "5",
            "$5$",
            "\\frac{1}{2}",
            "$1$ and $2$",
            "\\text{Monday}",
            "5 square feet",
            "no real solutions at all here",
        ] {
            assert!(!is_solution(answer), "{answer:?}");
        }
    }
}
