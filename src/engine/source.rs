//! Where a model's files are: a directory in Hugging Face layout, a GGUF file, or a Hugging
//! Face repo id found in the local Hugging Face cache.
//!
//! A repo id is looked up in the cache that `huggingface-cli download ORG/NAME` (or any
//! `huggingface_hub` program) fills. A build with the `hub` feature (`cargo build --features
//! hub`: the hf-hub crate, with TLS) downloads a missing repo's files into that cache first,
//! unless `HF_HUB_OFFLINE=1`; default builds stay offline and small.

use std::path::{Path, PathBuf};

/// The files of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A directory with `config.json`, `*.safetensors` and `tokenizer.json`.
    HfDir(PathBuf),
    /// A GGUF file (with `tokenizer.json` beside it, optionally).
    Gguf(PathBuf),
}

impl ModelSource {
    /// The path the model is loaded from.
    pub fn path(&self) -> &Path {
        match self {
            Self::HfDir(p) | Self::Gguf(p) => p,
        }
    }

    /// The directory holding the model's side files (`tokenizer.json`, `tokenizer_config.json`).
    pub fn dir(&self) -> &Path {
        match self {
            Self::HfDir(p) => p,
            Self::Gguf(p) => p.parent().unwrap_or(Path::new(".")),
        }
    }
}

/// Why a model name leads nowhere.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct SourceError {
    /// The name as given.
    pub path: String,
    /// What was looked for and not found.
    pub reason: String,
}

/// Resolves a model name: an existing file (`.gguf`) or directory (with `config.json`, or
/// holding exactly one `.gguf`), else `ORG/NAME` in the Hugging Face cache.
pub fn resolve(spec: &Path) -> Result<ModelSource, SourceError> {
    let err = |reason: String| SourceError {
        path: spec.display().to_string(),
        reason,
    };
    if spec.is_file() {
        return if has_gguf_extension(spec) || starts_with_gguf_magic(spec) {
            Ok(ModelSource::Gguf(spec.to_path_buf()))
        } else {
            Err(err(
                "not a GGUF file; a model is a .gguf file or a directory with config.json, \
                 *.safetensors and tokenizer.json"
                    .into(),
            ))
        };
    }
    if spec.is_dir() {
        return in_dir(spec).map_err(err);
    }
    let text = spec.to_string_lossy();
    if let Some((org, name)) = repo_id(&text) {
        let cache = hf_cache_dir();
        let repo = cache.join(format!("models--{org}--{name}"));
        return match snapshot(&repo) {
            Some(snap) => in_dir(&snap).map_err(err),
            None if downloads() => download(&cache, org, name)
                .and_then(|dir| in_dir(&dir))
                .map_err(err),
            None => Err(err(format!(
                "no such file or directory, and no snapshot of Hugging Face repo {org}/{name} \
                 in {} ({}; run `huggingface-cli download {org}/{name}` first)",
                cache.display(),
                if cfg!(feature = "hub") {
                    "HF_HUB_OFFLINE is set"
                } else {
                    "this build does not download: build with --features hub"
                }
            ))),
        };
    }
    Err(err("no such file or directory".into()))
}

/// Whether a missing repo is downloaded: in builds with the `hub` feature, unless
/// `HF_HUB_OFFLINE=1`.
fn downloads() -> bool {
    cfg!(feature = "hub") && std::env::var("HF_HUB_OFFLINE").map_or(true, |v| v != "1")
}

/// The files of a Hugging Face layout model that are fetched where the repo has them; shards
/// named by `model.safetensors.index.json` are added.
#[cfg(feature = "hub")]
const HUB_FILES: [&str; 7] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "model.safetensors",
    "model.safetensors.index.json",
];

/// Downloads the files of repo `org/name` that a model in Hugging Face layout needs into the
/// cache at `cache`; returns the snapshot directory.
#[cfg(feature = "hub")]
fn download(cache: &Path, org: &str, name: &str) -> Result<PathBuf, String> {
    use hf_hub::api::sync::ApiBuilder;
    let id = format!("{org}/{name}");
    let fail = |e: hf_hub::api::sync::ApiError| format!("downloading {id} from the hub: {e}");
    let api = ApiBuilder::from_cache(hf_hub::Cache::new(cache.to_path_buf()))
        .with_progress(true)
        .build()
        .map_err(fail)?;
    let repo = api.model(id.clone());
    let listed: Vec<String> = repo
        .info()
        .map_err(fail)?
        .siblings
        .into_iter()
        .map(|s| s.rfilename)
        .collect();
    if !listed.iter().any(|f| f == "config.json") {
        return Err(format!(
            "hub repo {id} has no config.json (a GGUF repo? download its .gguf file and name \
             the file)"
        ));
    }
    let mut wanted: Vec<String> = HUB_FILES
        .iter()
        .filter(|f| listed.iter().any(|l| l == *f))
        .map(|f| f.to_string())
        .collect();
    let mut dir = None;
    let mut i = 0;
    while i < wanted.len() {
        let path = repo.get(&wanted[i]).map_err(fail)?;
        if wanted[i] == "model.safetensors.index.json" {
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let index: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut shards: Vec<String> = index
                .get("weight_map")
                .and_then(|m| m.as_object())
                .map(|m| {
                    m.values()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            shards.sort();
            shards.dedup();
            shards.retain(|s| !wanted.contains(s));
            wanted.extend(shards);
        }
        dir = path.parent().map(Path::to_path_buf);
        i += 1;
    }
    dir.ok_or_else(|| format!("hub repo {id}: nothing to download"))
}

#[cfg(not(feature = "hub"))]
fn download(_cache: &Path, org: &str, name: &str) -> Result<PathBuf, String> {
    Err(format!(
        "{org}/{name}: this build does not download (build with --features hub)"
    ))
}

fn has_gguf_extension(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

fn starts_with_gguf_magic(p: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"GGUF"
}

fn in_dir(dir: &Path) -> Result<ModelSource, String> {
    if dir.join("config.json").is_file() {
        return Ok(ModelSource::HfDir(dir.to_path_buf()));
    }
    let mut ggufs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && has_gguf_extension(p))
        .collect();
    ggufs.sort();
    match ggufs.len() {
        1 => Ok(ModelSource::Gguf(ggufs.remove(0))),
        0 => Err("holds neither config.json (Hugging Face layout) nor a .gguf file".into()),
        n => Err(format!(
            "holds {n} .gguf files ({}); name one",
            ggufs
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `ORG/NAME` with plain name characters, as the hub spells repo ids.
fn repo_id(s: &str) -> Option<(&str, &str)> {
    let (org, name) = s.split_once('/')?;
    let plain = |x: &str| {
        !x.is_empty()
            && !x.starts_with('.')
            && x.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (plain(org) && plain(name)).then_some((org, name))
}

/// The hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub fn hf_cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("HF_HOME") {
        return PathBuf::from(p).join("hub");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/huggingface/hub")
}

/// The snapshot `refs/main` points at, else the only snapshot, else the newest.
fn snapshot(repo: &Path) -> Option<PathBuf> {
    let snaps = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs/main")) {
        let p = snaps.join(rev.trim());
        if p.is_dir() {
            return Some(p);
        }
    }
    std::fs::read_dir(&snaps)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// The toy policy committed with the repository, relative to the crate root.
pub const DEFAULT_POLICY: &str = "models/toy/policy";

/// Resolves the default policy directory (see [`beside_crate`]).
pub fn default_policy_dir() -> PathBuf {
    beside_crate(DEFAULT_POLICY)
}

/// Resolves a committed model directory given relative to the crate root: beside the working
/// directory if it is there, else beside the crate's source.
pub fn beside_crate(relative: &str) -> PathBuf {
    let local = PathBuf::from(relative);
    if local.join("config.json").exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_directories_files_and_cache_snapshots() {
        let tmp = tempfile::tempdir().unwrap();
        let hf = tmp.path().join("hf");
        std::fs::create_dir(&hf).unwrap();
        std::fs::write(hf.join("config.json"), "{}").unwrap();
        assert_eq!(resolve(&hf).unwrap(), ModelSource::HfDir(hf.clone()));

        let g = tmp.path().join("g");
        std::fs::create_dir(&g).unwrap();
        let file = g.join("m.Q4_0.gguf");
        std::fs::write(&file, b"GGUF").unwrap();
        assert_eq!(resolve(&g).unwrap(), ModelSource::Gguf(file.clone()));
        assert_eq!(resolve(&file).unwrap(), ModelSource::Gguf(file.clone()));
        std::fs::write(g.join("m.Q8_0.gguf"), b"GGUF").unwrap();
        let e = resolve(&g).unwrap_err().to_string();
        assert!(
            e.contains("2 .gguf files") && e.contains("m.Q8_0.gguf"),
            "{e}"
        );

        let e = resolve(&tmp.path().join("nothing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
        let text = tmp.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        assert!(resolve(&text)
            .unwrap_err()
            .to_string()
            .contains("not a GGUF"));

        assert_eq!(
            repo_id("HuggingFaceTB/SmolLM2-135M"),
            Some(("HuggingFaceTB", "SmolLM2-135M"))
        );
        assert_eq!(repo_id("./x/y"), None);
        assert_eq!(repo_id("a/b/c"), None);
    }

    #[test]
    fn snapshots_follow_refs_main() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("models--org--name");
        for rev in ["aaa", "bbb"] {
            std::fs::create_dir_all(repo.join("snapshots").join(rev)).unwrap();
        }
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "aaa\n").unwrap();
        assert_eq!(snapshot(&repo).unwrap(), repo.join("snapshots/aaa"));
    }
}
