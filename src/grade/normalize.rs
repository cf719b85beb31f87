//! Text normalisation of answers, after the MATH grader (Hendrycks et al., `strip_string`) and
//! PRM800K's `grader.py`: the rewrites that make equal answers look alike before they are
//! split into structure ([`super::answer`]) and parsed as math ([`super::expr`]).
//!
//! Everything here is linear in the input (a few passes over its characters) and works on
//! `char`s or on byte offsets that `str` itself returned, so no input can panic it.

/// Commands whose argument is plain text: `\text{...}` and its relatives.
const TEXT_COMMANDS: &[&str] = &[
    "text",
    "textbf",
    "textit",
    "textrm",
    "textsf",
    "texttt",
    "textup",
    "mbox",
    "mathrm",
    "mathbf",
    "mathit",
    "mathsf",
    "mathtt",
    "mathnormal",
    "textnormal",
    "textsl",
    "textsc",
    "operatorname",
];

/// Unit words removed from the end of an answer (`5 cm` → `5`), singular; plurals in `s` and
/// `es` match too. After PRM800K's list, with common abbreviations.
const UNITS: &[&str] = &[
    "degree",
    "radian",
    "cm",
    "mm",
    "km",
    "meter",
    "metre",
    "centimeter",
    "centimetre",
    "millimeter",
    "kilometer",
    "inch",
    "foot",
    "feet",
    "ft",
    "yard",
    "yd",
    "mile",
    "second",
    "sec",
    "minute",
    "min",
    "hour",
    "hr",
    "day",
    "week",
    "month",
    "year",
    "unit",
    "square",
    "sq",
    "cubic",
    "dollar",
    "cent",
    "gram",
    "kg",
    "kilogram",
    "pound",
    "lb",
    "ounce",
    "oz",
    "liter",
    "litre",
    "ml",
    "mph",
    "percent",
    "percentage",
    "pct",
];

/// Commands recognised after a doubled backslash (`\\frac`): the common ones of final answers.
const DOUBLED_COMMANDS: &[&str] = &[
    "frac",
    "dfrac",
    "tfrac",
    "cfrac",
    "sqrt",
    "text",
    "textbf",
    "mbox",
    "mathrm",
    "pi",
    "infty",
    "cdot",
    "times",
    "div",
    "left",
    "right",
    "boxed",
    "binom",
    "dbinom",
    "circ",
    "pm",
    "cup",
    "in",
    "begin",
    "end",
    "sin",
    "cos",
    "tan",
    "log",
    "ln",
    "le",
    "leq",
    "ge",
    "geq",
    "ne",
    "neq",
    "lt",
    "gt",
    "emptyset",
    "varnothing",
    "textnormal",
];

/// Unicode symbols that models write for LaTeX commands. Each replacement ends in a space so a
/// following letter does not run into the command name (`πr` → `\pi r`).
const UNICODE: &[(char, &str)] = &[
    ('\u{2212}', "-"),
    ('\u{2013}', "-"),
    ('π', "\\pi "),
    ('∞', "\\infty "),
    ('×', "\\times "),
    ('÷', "\\div "),
    ('·', "\\cdot "),
    ('⋅', "\\cdot "),
    ('√', "\\sqrt "),
    ('°', ""),
    ('≤', "\\le "),
    ('⩽', "\\le "),
    ('≥', "\\ge "),
    ('⩾', "\\ge "),
    ('≠', "\\ne "),
    ('∅', "\\emptyset "),
    ('∈', "\\in "),
    ('∪', "\\cup "),
    ('≈', "\\approx "),
    ('²', "^2"),
    ('³', "^3"),
];

/// Signs that go from an answer, with any backslashes before them: percent, dollar and the
/// other currency signs (`4,50 €` is `4,50`).
const SIGNS: [char; 6] = ['%', '$', '€', '£', '¥', '¢'];

/// Unit symbols of one or two letters, dropped from the end only after a number and a space
/// (`12 m` → `12`, `12 m²` → `12`), since `2m` and `x g` are products.
const SYMBOL_UNITS: &[&str] = &[
    "m", "g", "s", "h", "l", "L", "mL", "cm", "km", "kg", "mg", "ms", "kW", "W", "V",
];

/// Number words: `seven` = 7, `twenty-one` = 21, `one hundred and five` = 105.
const SMALL_NUMBERS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [(&str, i128); 4] = [
    ("thousand", 1_000),
    ("million", 1_000_000),
    ("billion", 1_000_000_000),
    ("trillion", 1_000_000_000_000),
];

/// The rewrites that apply to a whole answer before it is split into items: math delimiters,
/// sizing and spacing commands, `\dfrac`, degrees, percent and dollar signs, `and`/`or` between
/// items, thousands separators, mixed numbers `2 1/2`, a trailing period, trailing units.
pub fn normalize_whole(answer: &str) -> String {
    if let Some(n) = number_in_words(answer) {
        return n.to_string();
    }
    let mut s = String::with_capacity(answer.len());
    for c in answer.trim().chars() {
        match UNICODE.iter().find(|(u, _)| *u == c) {
            Some((_, latex)) => s.push_str(latex),
            None if c.is_whitespace() => s.push(' '),
            None => s.push(c),
        }
    }
    for degree in ["^{\\circ}", "^\\circ", "^{ \\circ }", "^ \\circ"] {
        s = s.replace(degree, "");
    }
    // ASCII relations; `!=` only after a space, since `5!=120` is a factorial.
    let s = s
        .replace("<=", "\\le ")
        .replace(">=", "\\ge ")
        .replace(" !=", " \\ne ");
    let s = rewrite_commands(&s).replace(SIGNS, "");
    let s = strip_trailing_period(&s);
    let s = unwrap_command(s, &["boxed", "fbox"])
        .unwrap_or(s)
        .replace("{,}", ",");
    let s = conjunctions_to_commas(&s);
    let s = drop_thousands_separators(&s);
    let s = mixed_numbers_to_fracs(&s);
    strip_units(strip_trailing_period(&s)).to_string()
}

/// The value of an answer written in number words, with optional `\text{}`, `$`, a sign word
/// and trailing units: `seven` = 7, `\text{Twelve}` = 12, `twenty-one` = 21,
/// `one hundred and five` = 105, `two thousand` = 2000, `negative five` = -5,
/// `fifty percent` = 50. Words in the wrong order (`one two`, `hundred`) are not a number.
fn number_in_words(answer: &str) -> Option<i128> {
    if answer.len() > 200 || !answer.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let plain = unwrap_text_commands(answer)
        .replace(['$', '.', ','], " ")
        .to_ascii_lowercase();
    let mut words: Vec<&str> = plain
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
        .collect();
    if !words
        .iter()
        .all(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
    {
        return None;
    }
    while words.len() > 1 && words.last().is_some_and(|w| is_unit(w)) {
        words.pop();
    }
    let negative = matches!(words.first(), Some(&("negative" | "minus")));
    let words = words.get(usize::from(negative)..)?;
    let (mut total, mut group, mut smallest_scale) = (0i128, 0i128, i128::MAX);
    for (k, w) in words.iter().enumerate() {
        if let Some(n) = SMALL_NUMBERS.iter().position(|s| s == w) {
            let n = i128::try_from(n).ok()?;
            // `twenty one` but not `one two`, `twenty eleven` or `one zero`.
            if group % 10 != 0 || (n >= 10 && group % 100 != 0) || (n == 0 && k > 0) {
                return None;
            }
            group += n;
        } else if let Some(t) = TENS.iter().position(|s| s == w) {
            if group % 100 != 0 {
                return None;
            }
            group += 10 * (i128::try_from(t).ok()? + 2);
        } else if *w == "hundred" {
            if group == 0 || group >= 100 {
                return None;
            }
            group *= 100;
        } else if let Some(&(_, scale)) = SCALES.iter().find(|(s, _)| s == w) {
            if group == 0 || scale >= smallest_scale {
                return None;
            }
            total += group * scale;
            group = 0;
            smallest_scale = scale;
        } else if *w != "and" || k == 0 {
            return None;
        }
    }
    if words.is_empty() || words.last() == Some(&"and") {
        return None;
    }
    let value = total + group;
    Some(if negative { -value } else { value })
}

/// One item of an answer, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafText {
    /// The normal form: text commands unwrapped, units dropped, `\frac12` braced, spaces
    /// removed; lower case when `is_text`.
    pub text: String,
    /// Whether the item is words rather than math: a `\text{...}` of two or more letters in a
    /// row, or bare letters with a word of three or more (`monday`).
    pub is_text: bool,
}

/// Normalises one item of an answer (an element of a tuple, set or matrix, or the whole answer).
pub fn normalize_leaf(item: &str) -> LeafText {
    let item = item.trim();
    if let Some(n) = number_in_words(item) {
        return LeafText {
            text: n.to_string(),
            is_text: false,
        };
    }
    let text_origin = unwrap_command(item, TEXT_COMMANDS).is_some();
    let unwrapped = unwrap_text_commands(item).replace("\\\\", "\\");
    let stripped = strip_trailing_period(strip_units(&unwrapped)).trim();
    let braced = brace_arguments(stripped);
    let text = squash_spaces(strip_outer_braces(&braced));
    let bare_words = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphabetic() || c == ' ')
        && longest_letter_run(&text) >= 3;
    let is_text = (text_origin && longest_letter_run(&text) >= 2) || bare_words;
    LeafText {
        text: if is_text { text.to_lowercase() } else { text },
        is_text,
    }
}

/// Bracket depth change of one character: `([{` open, `)]}` close. Intervals mix the kinds
/// (`(1,2]`), so any closer closes any opener.
pub fn depth_step(c: char) -> i64 {
    match c {
        '(' | '[' | '{' => 1,
        ')' | ']' | '}' => -1,
        _ => 0,
    }
}

/// Whether `s` is balanced and never closes more than it opened.
fn balanced(s: &str) -> bool {
    let mut depth = 0i64;
    for c in s.chars() {
        depth += depth_step(c);
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// The inside of `s` when it is `open ... close` and the opener's match is the final closer:
/// `wrapped("(1,2]", "(", "]")` is `1,2`, but `(1)+(2)` is not wrapped by `(` and `)`.
pub fn wrapped<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let inner = s.strip_prefix(open)?.strip_suffix(close)?;
    balanced(inner).then_some(inner)
}

/// The inside of `s` when it is one brace group `{...}`. Only braces count, as for a LaTeX
/// argument: `{(1,2}` is a group, `{a}{b}` is not.
fn braced(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?;
    let mut depth = 0i64;
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    (depth == 0).then_some(inner)
}

/// The pieces of `s` between occurrences of `separator` outside all brackets. A command
/// separator such as `\cup` does not match the start of a longer name (`\cupcake`).
pub fn split_top<'a>(s: &'a str, separator: &str) -> Vec<&'a str> {
    let is_command = separator.starts_with('\\')
        && separator
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphabetic());
    let mut parts = Vec::new();
    let mut depth = 0i64;
    let mut start = 0;
    let mut skip_until = 0;
    for (i, c) in s.char_indices() {
        if i < skip_until {
            continue;
        }
        if depth == 0 {
            if let Some(rest) = s.get(i..).and_then(|r| r.strip_prefix(separator)) {
                let ends_name = is_command && rest.starts_with(|c: char| c.is_ascii_alphabetic());
                if !separator.is_empty() && !ends_name {
                    parts.push(s.get(start..i).unwrap_or_default());
                    start = i + separator.len();
                    skip_until = start;
                    continue;
                }
            }
        }
        depth += depth_step(c);
    }
    parts.push(s.get(start..).unwrap_or_default());
    parts
}

/// The argument of `s` when `s` is exactly one text command: `\text{Area}` → `Area`.
pub fn text_argument(s: &str) -> Option<&str> {
    unwrap_command(s.trim(), TEXT_COMMANDS)
}

/// The argument of `s` when `s` is exactly one `\name{...}` with `name` among `names`.
fn unwrap_command<'a>(s: &'a str, names: &[&str]) -> Option<&'a str> {
    let rest = s.strip_prefix('\\')?;
    names.iter().find_map(|name| {
        let inner = rest.strip_prefix(name)?.trim_start();
        braced(inner)
    })
}

/// Rewrites commands in one left-to-right pass: drops sizing (`\left`, `\right`, `\big`...),
/// style (`\displaystyle`), thin spaces `\!`, degree signs `\circ`, `\$` and `\%`, and the
/// delimiters `\(`, `\)`, `\[`, `\]`; turns `\,` `\;` `\:` `\ ` `\quad` into spaces and
/// `\dfrac`/`\tfrac`/`\cfrac` into `\frac`, `\dbinom`/`\tbinom` into `\binom`; spells every
/// relation one way (`\leq`, `\leqslant` → `\le`; `\geq` → `\ge`; `\neq`, `\not=` → `\ne`;
/// `\lt` → `<`; `\gt` → `>`) and `\varnothing` as `\emptyset`. `\\` stays
/// (a matrix row ends with it), except before a common command name, where it is a backslash
/// doubled by JSON escaping: `\\frac` is `\frac`.
fn rewrite_commands(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        // Stray backslashes before a percent or dollar sign: `50\\%` is `50\%`.
        let run_starts = c == '\\' && (i == 0 || chars.get(i - 1) != Some(&'\\'));
        let backslashes = if run_starts {
            chars.iter().skip(i).take_while(|c| **c == '\\').count()
        } else {
            0
        };
        if backslashes > 0
            && chars
                .get(i + backslashes)
                .is_some_and(|c| SIGNS.contains(c))
        {
            i += backslashes;
            continue;
        }
        if c == '\\' && chars.get(i + 1) == Some(&'\\') {
            let name: String = chars
                .iter()
                .skip(i + 2)
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            if DOUBLED_COMMANDS.contains(&name.as_str()) {
                i += 1;
                continue;
            }
        }
        if c == '~' {
            out.push(' ');
            i += 1;
            continue;
        }
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&next) = chars.get(i + 1) else {
            out.push(c);
            break;
        };
        if !next.is_ascii_alphabetic() {
            i += 2;
            match next {
                '\\' => out.push_str("\\\\"),
                '!' | '$' | '%' | '(' | ')' | '[' | ']' => {}
                ',' | ';' | ':' | ' ' => out.push(' '),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            continue;
        }
        let name: String = chars
            .iter()
            .skip(i + 1)
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        i += 1 + name.len();
        match name.as_str() {
            "left" | "right" => {
                // `\left.` is an invisible delimiter.
                if chars.get(i) == Some(&'.') {
                    i += 1;
                }
            }
            "big" | "Big" | "bigg" | "Bigg" | "bigl" | "bigr" | "Bigl" | "Bigr" | "biggl"
            | "biggr" | "Biggl" | "Biggr" | "displaystyle" | "textstyle" | "circ" | "degree" => {}
            "dfrac" | "tfrac" | "cfrac" => out.push_str("\\frac"),
            "dbinom" | "tbinom" => out.push_str("\\binom"),
            "quad" | "qquad" => out.push(' '),
            "infin" | "infinity" => out.push_str("\\infty"),
            "le" | "leq" | "leqslant" | "leqq" => out.push_str("\\le"),
            "ge" | "geq" | "geqslant" | "geqq" => out.push_str("\\ge"),
            "ne" | "neq" => out.push_str("\\ne"),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "varnothing" => out.push_str("\\emptyset"),
            "approx" | "thickapprox" | "simeq" | "doteq" | "approxeq" => out.push_str("\\approx"),
            "euro" | "pounds" | "textdollar" | "textsterling" | "texteuro" => {}
            "not" if chars.get(i) == Some(&'=') => {
                i += 1;
                out.push_str("\\ne ");
            }
            _ => {
                out.push('\\');
                out.push_str(&name);
            }
        }
    }
    out
}

/// `1 \text{ and } 2`, `1 and 2`, `1 or 2` → `1,2`: PRM800K reads these as lists.
fn conjunctions_to_commas(s: &str) -> String {
    let mut out = s.to_string();
    for command in TEXT_COMMANDS {
        for word in ["and", "or"] {
            for pad in ["", " "] {
                out = out.replace(&format!("\\{command}{{{pad}{word}{pad}}}"), ",");
            }
        }
    }
    out.replace(" and ", ",").replace(" or ", ",")
}

/// Removes commas and spaces that separate thousands: `1,000,000` → `1000000`, `12,345.5` →
/// `12345.5`, `12 345` → `12345`. A number counts as grouped when it is one to three digits,
/// then groups of one separator and exactly three digits, outside all brackets: `(1,100)` and
/// `\{1,000\}` are lists, and so are `1, 000` and `1,0000`; `2 1/2` and `x^2 100` are not
/// grouped. (PRM800K strips such commas inside brackets too, which breaks `[0,100]`.)
fn drop_thousands_separators(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut drop = vec![false; chars.len()];
    let mut depth = 0i64;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let before = i.checked_sub(1).and_then(|k| chars.get(k));
        let starts_number = c.is_ascii_digit()
            && !before.is_some_and(|p| p.is_ascii_digit() || matches!(p, '.' | ','));
        if depth == 0 && starts_number {
            let lead = (i..).take_while(|&k| digit(k)).count();
            let mut end = i + lead;
            let separator = match chars.get(end) {
                Some(' ') if !before.is_some_and(|p| matches!(p, '^' | '_')) => ' ',
                _ => ',',
            };
            let mut separators = Vec::new();
            while chars.get(end) == Some(&separator)
                && (1..=3).all(|k| digit(end + k))
                && !digit(end + 4)
                && (separator == ',' || chars.get(end + 4) != Some(&'/'))
            {
                separators.push(end);
                end += 4;
            }
            let list_follows = chars.get(end) == Some(&',') && digit(end + 1);
            if lead <= 3 && !separators.is_empty() && !list_follows {
                for k in separators {
                    if let Some(d) = drop.get_mut(k) {
                        *d = true;
                    }
                }
            }
            i = end.max(i + 1);
            continue;
        }
        depth += depth_step(c);
        i += 1;
    }
    chars
        .iter()
        .zip(drop)
        .filter(|(_, dropped)| !dropped)
        .map(|(&c, _)| c)
        .collect()
}

/// The decimal-comma reading of a normalised answer that is one number with one comma that
/// cannot separate thousands (not followed by exactly three digits): `3,75` → `3.75`,
/// `-0,5` → `-0.5`. `None` for `1,250` (thousands: the reading English-language sources mean),
/// `1, 2` (a space after the comma: a list), `(1,2)` and anything else.
pub fn decimal_comma(s: &str) -> Option<String> {
    let s = s.trim();
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s),
    };
    let (whole, fraction) = body.split_once(',')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && digits(fraction) && fraction.len() != 3)
        .then(|| format!("{sign}{whole}.{fraction}"))
}

/// Whether an answer is one number with a percent sign or word: `15\%`, `15%`,
/// `15 percent`, `12.5\text{ percent}`.
pub fn is_percent(answer: &str) -> bool {
    if answer.len() > 200 {
        return false;
    }
    let plain: String = unwrap_text_commands(answer)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\\' | '$' | '{' | '}'))
        .collect::<String>()
        .to_ascii_lowercase();
    let plain = plain.strip_suffix('.').unwrap_or(&plain);
    let number = ["%", "percentage", "percent", "pct"]
        .iter()
        .find_map(|p| plain.strip_suffix(p));
    number.is_some_and(|n| {
        let n = n.strip_prefix('-').unwrap_or(n);
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
            && n.starts_with(|c: char| c.is_ascii_digit() || c == '.')
    })
}

/// `2 1/2` → `2\frac{1}{2}` (a whole number, spaces, then a fraction of whole numbers), which
/// the expression parser reads as a mixed number.
fn mixed_numbers_to_fracs(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let digits_from = |i: usize| {
        chars
            .iter()
            .skip(i)
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let starts_number = c.is_ascii_digit()
            && (i == 0
                || chars
                    .get(i - 1)
                    .is_some_and(|p| matches!(p, ' ' | '(' | '[' | '{' | ',' | '-' | '+' | '=')));
        if starts_number {
            let whole = digits_from(i);
            let spaces = chars
                .iter()
                .skip(i + whole)
                .take_while(|c| **c == ' ')
                .count();
            let num_at = i + whole + spaces;
            let num = digits_from(num_at);
            let den_at = num_at + num + 1;
            let den = digits_from(den_at);
            let after = chars.get(den_at + den);
            if spaces > 0
                && num > 0
                && chars.get(num_at + num) == Some(&'/')
                && den > 0
                && !after.is_some_and(|c| c.is_ascii_digit() || *c == '.' || *c == '/')
            {
                let text = |from: usize, len: usize| -> String {
                    chars.iter().skip(from).take(len).collect()
                };
                out.push_str(&format!(
                    "{}\\frac{{{}}}{{{}}}",
                    text(i, whole),
                    text(num_at, num),
                    text(den_at, den)
                ));
                i = den_at + den;
                continue;
            }
            let whole_text: String = chars.iter().skip(i).take(whole).collect();
            out.push_str(&whole_text);
            i += whole;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn strip_trailing_period(s: &str) -> &str {
    let s = s.trim();
    s.strip_suffix('.').unwrap_or(s).trim_end()
}

/// Removes unit words from the end while something remains: `5 cm` → `5`, `12 square feet` →
/// `12`, `3\text{ cm}^2` → `3`, `\$4 dollars` → `4`. A word that is the whole answer stays
/// (`\text{second}`), and `\sec`/`\min` are commands, not units.
fn strip_units(s: &str) -> &str {
    let mut s = s.trim_end();
    loop {
        let body = ["^2", "^3", "^{2}", "^{3}"]
            .iter()
            .find_map(|p| s.strip_suffix(p))
            .unwrap_or(s)
            .trim_end();
        let rest = strip_unit_group(body).or_else(|| strip_unit_word(body));
        match rest.map(str::trim_end) {
            Some(rest) if !rest.is_empty() => s = rest,
            _ => return s,
        }
    }
}

/// Whether `word` (any case, singular or plural) is a unit word that trailing units drop.
pub fn is_unit(word: &str) -> bool {
    let word = word.to_ascii_lowercase();
    let forms = [
        Some(word.as_str()),
        word.strip_suffix('s'),
        word.strip_suffix("es"),
    ];
    forms.iter().flatten().any(|w| UNITS.contains(w))
}

/// `s` without its final word when that word is a unit.
fn strip_unit_word(s: &str) -> Option<&str> {
    let start = s
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphabetic())
        .last()
        .map(|(i, _)| i)?;
    let (rest, word) = (s.get(..start)?, s.get(start..)?);
    (!rest.ends_with('\\') && (is_unit(word) || is_symbol_unit_after_number(rest, word)))
        .then_some(rest)
}

/// Whether `word` is a unit symbol (`m`, `kg`) standing after a number and a space: `12 m`.
fn is_symbol_unit_after_number(before: &str, word: &str) -> bool {
    SYMBOL_UNITS.contains(&word)
        && before.ends_with(char::is_whitespace)
        && before.trim_end().ends_with(|c: char| c.is_ascii_digit())
}

/// `s` without a final `\text{...}` whose words are all units (`5\text{ square cm}`).
fn strip_unit_group(s: &str) -> Option<&str> {
    let inner_end = s.strip_suffix('}')?;
    // Find the opening brace of the final group.
    let mut depth = 0i64;
    let mut open = None;
    for (i, c) in inner_end.char_indices().rev() {
        depth -= depth_step(c);
        if depth < 0 {
            open = Some(i);
            break;
        }
    }
    let open = open?;
    let before = s.get(..open)?;
    let content = inner_end.get(open + 1..)?;
    let command = TEXT_COMMANDS
        .iter()
        .find_map(|c| before.trim_end().strip_suffix(&format!("\\{c}")))?;
    let words: Vec<&str> = content.split_whitespace().collect();
    let after_number = command.trim_end().ends_with(|c: char| c.is_ascii_digit());
    let unit = |w: &&str| is_unit(w) || (after_number && SYMBOL_UNITS.contains(w));
    (!words.is_empty() && words.iter().all(unit)).then_some(command)
}

/// Removes every text command but keeps its argument: `\text{(A)}` → `(A)`,
/// `5\mbox{ cm}` → `5 cm`. One pass with a stack of open braces, so nesting costs nothing.
fn unwrap_text_commands(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    // For each open brace: whether it belongs to a text command (and is dropped with its match).
    let mut stack: Vec<bool> = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == '\\' {
            let name: String = chars
                .iter()
                .skip(i + 1)
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let after = i + 1 + name.len();
            let brace = chars
                .iter()
                .skip(after)
                .position(|c| !c.is_whitespace())
                .map(|k| after + k);
            if TEXT_COMMANDS.contains(&name.as_str())
                && brace.is_some_and(|b| chars.get(b) == Some(&'{'))
            {
                stack.push(true);
                i = brace.map_or(after, |b| b + 1);
                continue;
            }
        }
        match c {
            '{' => stack.push(false),
            '}' if stack.pop() == Some(true) => {
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Braces the unbraced arguments of `\frac` and `\sqrt`, as the MATH grader does:
/// `\frac12` → `\frac{1}{2}`, `\frac1{72}` → `\frac{1}{72}`, `\sqrt3` → `\sqrt{3}`.
fn brace_arguments(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        out.push(c);
        i += 1;
        if c != '\\' {
            continue;
        }
        let name: String = chars
            .iter()
            .skip(i)
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let arguments = match name.as_str() {
            "frac" => 2,
            "sqrt" => 1,
            _ => continue,
        };
        out.push_str(&name);
        i += name.len();
        for _ in 0..arguments {
            match chars.get(i) {
                Some(&a) if a.is_ascii_alphanumeric() => {
                    out.push('{');
                    out.push(a);
                    out.push('}');
                    i += 1;
                }
                // A braced (or missing) argument: leave it and what follows as written.
                _ => break,
            }
        }
    }
    out
}

/// `s` without braces that wrap all of it: `{{5}}` → `5`.
fn strip_outer_braces(s: &str) -> &str {
    let mut s = s.trim();
    while let Some(inner) = braced(s) {
        s = inner.trim();
    }
    s
}

/// Removes white space, except one space between a command name and a letter (`\pi r`) and
/// one between two digits (`1 2` is not `12`; thousands groups `12 345` were joined before).
pub fn squash_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_command = false;
    let mut spaced = false;
    let mut last = ' ';
    for c in s.chars() {
        if c.is_whitespace() {
            spaced = true;
            continue;
        }
        let keep = (in_command && c.is_ascii_alphabetic())
            || (last.is_ascii_digit() && c.is_ascii_digit());
        if spaced && keep {
            out.push(' ');
        }
        spaced = false;
        in_command = if c == '\\' {
            true
        } else {
            in_command && c.is_ascii_alphabetic()
        };
        out.push(c);
        last = c;
    }
    out
}

fn longest_letter_run(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    let mut after_backslash = false;
    for c in s.chars() {
        if c.is_ascii_alphabetic() && !after_backslash {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
        after_backslash = c == '\\' || (after_backslash && c.is_ascii_alphabetic());
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_answers_lose_their_decoration() {
        let n = normalize_whole;
        assert_eq!(n("$\\dfrac{1}{2}$"), "\\frac{1}{2}");
        assert_eq!(n("\\left( 1, 2 \\right]"), "( 1, 2 ]");
        assert_eq!(n("\\left.x\\right|"), "x|");
        assert_eq!(n("90^\\circ"), "90");
        assert_eq!(n("90^{\\circ}"), "90");
        assert_eq!(n("10\\%"), "10");
        assert_eq!(n("\\$5"), "5");
        assert_eq!(n("1,000,000"), "1000000");
        assert_eq!(n("1, 000"), "1, 000");
        assert_eq!(n("(1,2)"), "(1,2)");
        assert_eq!(n("[0,100]"), "[0,100]");
        assert_eq!(n("1,000, 2,000"), "1000, 2000");
        assert_eq!(n("12,345.5"), "12345.5");
        assert_eq!(n("1,000,00"), "1,000,00");
        assert_eq!(n("1{,}000"), "1000");
        assert_eq!(n("12,\\!345"), "12345");
        assert_eq!(n("2 1/2"), "2\\frac{1}{2}");
        assert_eq!(n("-2 1/2"), "-2\\frac{1}{2}");
        assert_eq!(n("x^2 1/2"), "x^2 1/2");
        assert_eq!(n("1 \\text{ and } 2"), "1 , 2");
        assert_eq!(n("3 or 4"), "3,4");
        assert_eq!(n("42."), "42");
        assert_eq!(n("5\\text{ cm}"), "5");
        assert_eq!(n("5 square feet"), "5");
        assert_eq!(n("\\boxed{7}"), "7");
        assert_eq!(n("$\\boxed{7}$."), "7");
        assert_eq!(n("πr^2"), "\\pi r^2");
        assert_eq!(n("a\\\\b"), "a\\\\b");
        assert_eq!(n("\\\\dfrac{1}{2}"), "\\frac{1}{2}");
        assert_eq!(n("\\leftarrow"), "\\leftarrow");
    }

    #[test]
    fn leaves_unwrap_text_and_units() {
        let leaf = |s: &str| normalize_leaf(s);
        assert_eq!(leaf("\\text{(A)}").text, "(A)");
        assert!(!leaf("\\text{(A)}").is_text);
        let monday = leaf("\\text{Monday}");
        assert_eq!(monday.text, "monday");
        assert!(monday.is_text);
        assert!(leaf("monday").is_text);
        assert!(!leaf("xy").is_text);
        assert!(!leaf("abc+2ab").is_text);
        assert!(leaf("\\text{no}").is_text);
        assert_eq!(leaf("5\\text{ cm}^2").text, "5");
        assert_eq!(leaf("\\text{5 inches}").text, "5");
        assert_eq!(leaf("\\text{second}").text, "second");
        assert_eq!(leaf("2\\sec").text, "2\\sec");
        assert_eq!(leaf("\\frac12").text, "\\frac{1}{2}");
        assert_eq!(leaf("\\frac1{72}").text, "\\frac{1}{72}");
        assert_eq!(leaf("\\sqrt3").text, "\\sqrt{3}");
        assert_eq!(leaf("{{5}}").text, "5");
        assert_eq!(leaf("2 \\pi r").text, "2\\pi r");
        assert_eq!(leaf("\\text{\\textbf{x}}").text, "x");
        assert_eq!(leaf("\\\\frac{1}{2}").text, "\\frac{1}{2}");
    }

    #[test]
    fn splitting_respects_brackets() {
        assert_eq!(
            split_top("1,(2,3),\\{4,5\\}", ","),
            ["1", "(2,3)", "\\{4,5\\}"]
        );
        assert_eq!(split_top("(1,2]\\cup[3,4)", "\\cup"), ["(1,2]", "[3,4)"]);
        assert_eq!(split_top("\\cupcake", "\\cup"), ["\\cupcake"]);
        assert_eq!(split_top("x\\in(0,1)", "\\in"), ["x", "(0,1)"]);
        assert_eq!(split_top("a", ""), ["a"]);
        assert_eq!(wrapped("(1,2]", "(", "]"), Some("1,2"));
        assert_eq!(wrapped("(1)+(2)", "(", ")"), None);
        assert_eq!(wrapped("\\{1\\}", "\\{", "\\}"), Some("1"));
        assert_eq!(braced("{(1,2}"), Some("(1,2"));
        assert_eq!(braced("{a}{b}"), None);
    }

    #[test]
    fn odd_text_does_not_panic() {
        for s in [
            "", "\\", "}", "{", "\\text{", "é,ü", "1,", ",123", "2 1/", "\\frac", "5 ^2",
        ] {
            let _ = normalize_whole(s);
            let _ = normalize_leaf(s);
            let _ = split_top(s, ",");
        }
    }

    #[test]
    fn relations_thousands_and_number_words() {
        let n = normalize_whole;
        assert_eq!(n("x \\leq 3"), "x \\le 3");
        assert_eq!(n("x <= 3"), "x \\le  3");
        assert_eq!(n("x≥y"), "x\\ge y");
        assert_eq!(n("x \\neq 3"), "x \\ne 3");
        assert_eq!(n("x \\not= 3"), "x \\ne  3");
        assert_eq!(n("x \\lt 3 \\gt y"), "x < 3 > y");
        assert_eq!(n("5!=120"), "5!=120");
        assert_eq!(n("\\varnothing"), "\\emptyset");
        assert_eq!(n("50\\\\%"), "50");
        assert_eq!(n("\\\\\\$5"), "5");
        assert_eq!(n("12 345"), "12345");
        assert_eq!(n("1 000 000.5"), "1000000.5");
        assert_eq!(n("1 2"), "1 2");
        assert_eq!(n("1234 567"), "1234 567");
        assert_eq!(n("x^2 100"), "x^2 100");
        assert_eq!(n("seven"), "7");
        assert_eq!(n("$\\text{Seventy-Two}$."), "72");
        assert_eq!(n("one thousand and one"), "1001");
        assert_eq!(n("three hundred million"), "300000000");
        assert_eq!(n("minus twelve"), "-12");
        assert_eq!(n("two thousand two thousand"), "two thousand two thousand");
        assert_eq!(n("and one"), "and one");
        assert_eq!(n("one and"), "one and");
        assert_eq!(n("twenty twelve"), "twenty twelve");
        assert_eq!(n("no one"), "no one");
        assert_eq!(normalize_leaf("three").text, "3");
        assert!(!normalize_leaf("three").is_text);
        assert_eq!(squash_spaces("1 2 + x  y"), "1 2+xy");
        assert_eq!(squash_spaces("\\pi r"), "\\pi r");
    }
}
