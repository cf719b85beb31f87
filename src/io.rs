//! Small JSON and JSON-lines file helpers shared by the run store and training: whole files
//! written through a temporary file and a rename, append-only JSON lines flushed to disk line
//! by line, and readers whose errors name the file and line.

use anyhow::Context;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Writes pretty JSON through a temporary file and a rename, so a crash never leaves half a file.
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `bytes` through a temporary file beside `path` and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a file of JSON lines (blank lines skipped); a line that does not parse is an error
/// naming the file, the line and `what` it should have been.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> anyhow::Result<Vec<T>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: {what}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

/// Reads a file of JSON lines to resume appending to it: a last line cut short by an
/// interruption (no closing newline, not parseable) is dropped; a bad line anywhere else is an
/// error naming the file, the line and `what` it should have been.
pub fn read_jsonl_resumable<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> anyhow::Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(s) => out.push(s),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => anyhow::bail!("{}:{}: {what}: {e}", path.display(), i + 1),
        }
    }
    Ok(out)
}

/// Rewrites `path` to hold exactly `items` as JSON lines (through a temporary file and a
/// rename, so the old file stays whole until the new one is).
pub fn rewrite_jsonl<T: Serialize>(path: &Path, items: &[T]) -> anyhow::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    let mut kept = String::new();
    for s in items {
        kept.push_str(&serde_json::to_string(s)?);
        kept.push('\n');
    }
    std::fs::write(&tmp, kept).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// A JSON-lines file opened for appending; every line is flushed to disk before `append`
/// returns, so a killed process loses at most the line it was writing.
#[derive(Debug)]
pub struct JsonlAppender {
    path: PathBuf,
    file: File,
}

impl JsonlAppender {
    /// Opens (creating if missing) `path` for appending.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one value as a line and flushes it to disk.
    pub fn append(&mut self, value: &impl Serialize) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(value)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
            .with_context(|| format!("cannot append to {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_appends_read_back_and_a_torn_last_line_is_dropped_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut w = JsonlAppender::open(&path).unwrap();
        w.append(&1u32).unwrap();
        w.append(&2u32).unwrap();
        assert_eq!(read_jsonl::<u32>(&path, "a number").unwrap(), vec![1, 2]);
        std::fs::write(&path, "1\n2\n{\"tor").unwrap();
        assert_eq!(
            read_jsonl_resumable::<u32>(&path, "a number").unwrap(),
            vec![1, 2]
        );
        let err = read_jsonl::<u32>(&path, "a number").unwrap_err();
        assert!(
            format!("{err:#}").contains("x.jsonl:3: a number"),
            "{err:#}"
        );
        std::fs::write(&path, "1\nx\n3\n").unwrap();
        let err = read_jsonl_resumable::<u32>(&path, "a number").unwrap_err();
        assert!(err.to_string().contains("x.jsonl:2: a number"), "{err}");
        rewrite_jsonl(&path, &[7u32]).unwrap();
        assert_eq!(read_jsonl::<u32>(&path, "a number").unwrap(), vec![7]);
        let p = dir.path().join("c.json");
        write_json(&p, &vec![1, 2]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "[\n  1,\n  2\n]\n");
    }
}
