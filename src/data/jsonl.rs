//! JSONL datasets: the MATH500 schema (`problem`, `solution`, `answer`, `subject`, `level`,
//! `unique_id`), GSM8K (`question`, `answer` ending in `#### N`), or any JSONL file with a field
//! mapping. The dataset's own levels are kept as `Problem::level`; they are not difficulty bins.
//!
//! A bad line (invalid UTF-8, invalid JSON, a missing or mistyped field) is reported with its
//! line number. By default the load fails listing the first errors; with `skip_bad_lines` the
//! bad lines are skipped and reported.

use super::Problem;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How the fields of a JSONL file map onto a [`Problem`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum JsonlFormat {
    /// `problem`, `answer`, optional `subject`, `level` (`3` or `"Level 3"`), `unique_id`.
    Math500,
    /// `question`, `answer` whose final answer follows `####`.
    Gsm8k,
    /// Named fields.
    Fields {
        /// Field holding the question.
        question: String,
        /// Field holding the final answer.
        answer: String,
        /// Field holding the level, if any.
        level: Option<String>,
        /// Field holding the id, if any (else `line-N`).
        id: Option<String>,
    },
}

impl JsonlFormat {
    /// Parses `math500`, `gsm8k`, or `question=FIELD,answer=FIELD[,level=FIELD][,id=FIELD]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "math500" => return Ok(Self::Math500),
            "gsm8k" => return Ok(Self::Gsm8k),
            _ => {}
        }
        let (mut question, mut answer, mut level, mut id) = (None, None, None, None);
        for part in s.split(',') {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                format!("field mapping '{part}': expected KEY=FIELD (or math500, gsm8k)")
            })?;
            let v = Some(v.trim().to_string());
            match k.trim() {
                "question" => question = v,
                "answer" => answer = v,
                "level" => level = v,
                "id" => id = v,
                other => {
                    return Err(format!(
                        "field mapping: unknown key '{other}' (question, answer, level, id)"
                    ))
                }
            }
        }
        match (question, answer) {
            (Some(question), Some(answer)) => Ok(Self::Fields {
                question,
                answer,
                level,
                id,
            }),
            _ => Err("field mapping needs question=FIELD and answer=FIELD".into()),
        }
    }

    /// Guesses the format from one parsed line.
    fn detect(v: &serde_json::Value) -> Option<Self> {
        if v.get("problem").is_some() && v.get("answer").is_some() {
            Some(Self::Math500)
        } else if v.get("question").is_some()
            && v.get("answer")
                .and_then(|a| a.as_str())
                .is_some_and(|a| a.contains("####"))
        {
            Some(Self::Gsm8k)
        } else {
            None
        }
    }
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Problems loaded from a file, and the lines skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
    /// Lines skipped (only with `skip_bad_lines`).
    pub skipped: Vec<BadLine>,
}

/// Errors of loading a JSONL dataset.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    /// The file cannot be read.
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    /// Bad lines, without permission to skip them.
    #[error("{path}: {} bad line(s); first: {}; pass --skip-bad-lines to skip them", .lines.len(), list(.lines))]
    BadLines { path: PathBuf, lines: Vec<BadLine> },
    /// The format could not be guessed.
    #[error("{path}: cannot tell the format from line {line} (expected MATH500 fields problem/answer or GSM8K question/answer with ####); name it with --dataset-format")]
    UnknownFormat { path: PathBuf, line: usize },
    /// Nothing to run.
    #[error("{path}: no problems")]
    Empty { path: PathBuf },
}

fn list(lines: &[BadLine]) -> String {
    lines
        .iter()
        .take(5)
        .map(|b| format!("line {}: {}", b.line, b.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

fn text_field(v: &serde_json::Value, key: &str) -> Result<String, String> {
    match v.get(key) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(format!("field `{key}` is not text")),
        None => Err(format!("missing field `{key}`")),
    }
}

fn level_field(v: &serde_json::Value, key: &str) -> Result<Option<u8>, String> {
    match v.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .and_then(|l| u8::try_from(l).ok())
            .map(Some)
            .ok_or_else(|| format!("field `{key}` is not a level")),
        Some(serde_json::Value::String(s)) => {
            let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
            digits
                .parse()
                .map(Some)
                .map_err(|_| format!("field `{key}` ('{s}') is not a level"))
        }
        Some(_) => Err(format!("field `{key}` is not a level")),
    }
}

/// The final answer of a GSM8K solution: what follows the last `####`, without thousands
/// separators.
pub fn gsm8k_answer(solution: &str) -> Option<String> {
    let a = solution.rsplit_once("####")?.1.trim().replace(',', "");
    (!a.is_empty()).then_some(a)
}

fn problem_from(
    v: &serde_json::Value,
    format: &JsonlFormat,
    line: usize,
) -> Result<Problem, String> {
    let fallback_id = format!("line-{line}");
    match format {
        JsonlFormat::Math500 => Ok(Problem {
            id: v
                .get("unique_id")
                .and_then(|x| x.as_str())
                .map_or(fallback_id, String::from),
            question: text_field(v, "problem")?,
            answer: text_field(v, "answer")?,
            level: level_field(v, "level")?,
            subject: v
                .get("subject")
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string(),
        }),
        JsonlFormat::Gsm8k => {
            let solution = text_field(v, "answer")?;
            Ok(Problem {
                id: format!("gsm8k-{line}"),
                question: text_field(v, "question")?,
                answer: gsm8k_answer(&solution)
                    .ok_or("field `answer` has no final answer after ####")?,
                level: None,
                subject: String::new(),
            })
        }
        JsonlFormat::Fields {
            question,
            answer,
            level,
            id,
        } => Ok(Problem {
            id: match id {
                Some(k) => text_field(v, k)?,
                None => fallback_id,
            },
            question: text_field(v, question)?,
            answer: text_field(v, answer)?,
            level: match level {
                Some(k) => level_field(v, k)?,
                None => None,
            },
            subject: String::new(),
        }),
    }
}

/// Loads a JSONL dataset. `format` `None` guesses it from the first readable line.
pub fn load(
    path: &Path,
    format: Option<&JsonlFormat>,
    skip_bad_lines: bool,
) -> Result<Loaded, JsonlError> {
    let bytes = std::fs::read(path).map_err(|e| JsonlError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut format = format.cloned();
    let mut problems = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            bad.push(BadLine {
                line,
                reason: "invalid UTF-8".into(),
            });
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                bad.push(BadLine {
                    line,
                    reason: format!("invalid JSON: {e}"),
                });
                continue;
            }
        };
        let f = match &format {
            Some(f) => f.clone(),
            None => match JsonlFormat::detect(&v) {
                Some(f) => {
                    format = Some(f.clone());
                    f
                }
                None => {
                    return Err(JsonlError::UnknownFormat {
                        path: path.to_path_buf(),
                        line,
                    })
                }
            },
        };
        match problem_from(&v, &f, line) {
            Ok(p) => problems.push(p),
            Err(reason) => bad.push(BadLine { line, reason }),
        }
    }
    if !bad.is_empty() && !skip_bad_lines {
        return Err(JsonlError::BadLines {
            path: path.to_path_buf(),
            lines: bad,
        });
    }
    if problems.is_empty() {
        return Err(JsonlError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Loaded {
        problems,
        skipped: bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), content).unwrap();
        f
    }

    #[test]
    fn math500_lines_load_with_their_levels() {
        let f = write(
            br#"{"problem": "What is $1+1$?", "solution": "...", "answer": "2", "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"}
{"problem": "Compute $\frac{1}{2}$.", "answer": "\\frac{1}{2}", "level": "Level 5"}
"#,
        );
        let l = load(f.path(), None, false).unwrap();
        assert_eq!(l.problems.len(), 2);
        assert_eq!(l.problems[0].id, "test/algebra/1.json");
        assert_eq!(l.problems[0].level, Some(1));
        assert_eq!(l.problems[0].subject, "Algebra");
        assert_eq!(l.problems[1].id, "line-2");
        assert_eq!(l.problems[1].level, Some(5));
        assert_eq!(l.problems[1].answer, "\\frac{1}{2}");
    }

    #[test]
    fn gsm8k_answers_come_after_the_hashes() {
        let f = write(b"{\"question\": \"Q?\", \"answer\": \"steps\\n#### 1,234\"}\n");
        let l = load(f.path(), None, false).unwrap();
        assert_eq!(l.problems[0].answer, "1234");
        assert_eq!(l.problems[0].id, "gsm8k-1");
        assert_eq!(gsm8k_answer("no hashes"), None);
    }

    #[test]
    fn bad_lines_are_named_and_skipped_only_when_allowed() {
        let f = write(b"{\"problem\": \"a\", \"answer\": \"1\"}\n{not json\n\xff\xfe\n{\"problem\": \"b\"}\n{\"problem\": \"c\", \"answer\": \"3\"}\n");
        let err = load(f.path(), None, false).unwrap_err().to_string();
        assert!(err.contains("3 bad line(s)"), "{err}");
        assert!(err.contains("line 2: invalid JSON"), "{err}");
        assert!(err.contains("line 3: invalid UTF-8"), "{err}");
        assert!(err.contains("line 4: missing field `answer`"), "{err}");
        assert!(err.contains("--skip-bad-lines"), "{err}");
        let l = load(f.path(), None, true).unwrap();
        assert_eq!(
            l.problems
                .iter()
                .map(|p| p.answer.as_str())
                .collect::<Vec<_>>(),
            ["1", "3"]
        );
        assert_eq!(
            l.skipped.iter().map(|b| b.line).collect::<Vec<_>>(),
            [2, 3, 4]
        );
    }

    #[test]
    fn field_mappings_and_empty_or_unknown_files() {
        let fmt = JsonlFormat::parse("question=q,answer=a,level=difficulty,id=key").unwrap();
        let f = write(b"{\"q\": \"x\", \"a\": 5, \"difficulty\": 2, \"key\": \"k1\"}\n");
        let p = &load(f.path(), Some(&fmt), false).unwrap().problems[0];
        assert_eq!(
            (
                p.id.as_str(),
                p.question.as_str(),
                p.answer.as_str(),
                p.level
            ),
            ("k1", "x", "5", Some(2))
        );
        assert!(JsonlFormat::parse("question=q").is_err());
        assert!(JsonlFormat::parse("colour=q,answer=a").is_err());
        assert!(matches!(
            load(write(b"\n\n").path(), None, false),
            Err(JsonlError::Empty { .. })
        ));
        assert!(matches!(
            load(write(b"{\"x\": 1}\n").path(), None, false),
            Err(JsonlError::UnknownFormat { line: 1, .. })
        ));
        assert!(load(Path::new("/nonexistent.jsonl"), None, false)
            .unwrap_err()
            .to_string()
            .contains("/nonexistent.jsonl"));
    }
}
