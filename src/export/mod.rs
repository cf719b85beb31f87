//! Figures and data for papers, drawn from a sweep directory's records: accuracy against
//! generation budget, compute-optimal against weighted best-of-N, the difficulty bins and the
//! verifier's score distributions ([`Figure`]).
//!
//! Every figure `FILE.svg` or `FILE.png` comes with `FILE.csv` and `FILE.json`, which hold
//! exactly the numbers drawn (the JSON also the figure's name, its preset and the sweep's
//! manifest), and carries the sweep's configuration inside itself: an SVG in a `<metadata>`
//! element after its opening tag, a PNG in text chunks (`Software`, `thinkscale:figure`,
//! `thinkscale:sweep`). Nothing depends on the clock or the machine (the font is compiled in),
//! so rendering twice gives the same bytes.
//!
//! PDF is not written: the one well-kept route (svg2pdf with usvg) cost about 8 minutes of
//! extra compile on two cores, for what `rsvg-convert -f pdf FILE.svg` or Inkscape does from
//! the SVG.
//!
//! A figure is a [`Figure`] variant and a builder of its [`FigureData`] (in [`figures`]); the
//! one drawing ([`draw`]) and the CSV/JSON writers take any `FigureData`.

pub mod data;
pub mod draw;
pub mod figures;
pub mod looks;
pub mod palette;
pub mod preset;

pub use data::FigureData;
pub use figures::{Figure, NoData};
pub use preset::Preset;

use crate::analysis::sweep::SweepCurves;
use crate::runner::sweep::{SweepManifest, SweepRecord};
use anyhow::{bail, Context};
use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An image format, chosen by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Vector, 72 units per inch; text as text in DejaVu Sans.
    #[default]
    Svg,
    /// Bitmap at 300 dots per inch.
    Png,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 2] = [Self::Svg, Self::Png];

    /// The name, which is also the file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Svg => "svg",
            Self::Png => "png",
        }
    }

    /// Parses `svg` or `png`.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s.trim())
            .ok_or_else(|| format!("unknown figure format '{s}': use svg or png"))
    }

    /// The format of an output file, from its extension; an error naming the file and the
    /// supported extensions otherwise.
    pub fn of_path(path: &Path) -> anyhow::Result<Self> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => Ok(Self::Svg),
            Some("png") => Ok(Self::Png),
            Some("pdf") => bail!(
                "{}: PDF is not supported; the supported extensions are .svg and .png (a PDF \
                 comes from the SVG, e.g. `rsvg-convert -f pdf -o FILE.pdf FILE.svg`)",
                path.display()
            ),
            Some(other) => bail!(
                "{}: unknown figure format '.{other}'; the supported extensions are .svg and .png",
                path.display()
            ),
            None => bail!(
                "{}: no extension; the supported extensions are .svg and .png",
                path.display()
            ),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the JSON beside a figure holds.
#[derive(Serialize)]
struct FigureFile<'a, S: Serialize + ?Sized> {
    figure: Figure,
    preset: Preset,
    width_inches: f64,
    thinkscale_version: &'static str,
    #[serde(flatten)]
    data: &'a FigureData,
    /// The sweep's manifest (the search zoo's figure: each of its sweeps').
    sweep: &'a S,
}

/// What an SVG's `<metadata>` holds.
#[derive(Serialize)]
struct Metadata<'a, S: Serialize + ?Sized> {
    software: String,
    figure: Figure,
    preset: Preset,
    sweep: &'a S,
}

/// The `Software` value of a figure's metadata.
fn software() -> String {
    format!("thinkscale {}", env!("CARGO_PKG_VERSION"))
}

/// Escapes text for an XML element's content.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Puts `<metadata>` right after the opening `<svg ...>` tag.
fn with_metadata(svg: &str, json: &str) -> anyhow::Result<String> {
    let close = svg
        .find("<svg")
        .and_then(|start| svg[start..].find('>').map(|end| start + end + 1))
        .context("the SVG backend wrote no <svg> tag")?;
    Ok(format!(
        "{}\n<metadata>{}</metadata>{}",
        &svg[..close],
        xml_escape(json),
        &svg[close..]
    ))
}

/// Draws `data` as `format` and returns the file's bytes, with the sweep in its metadata.
pub fn render<S: Serialize + ?Sized>(
    figure: Figure,
    data: &FigureData,
    manifest: &S,
    preset: Preset,
    format: Format,
) -> anyhow::Result<Vec<u8>> {
    let sizes = preset.sizes();
    let layout = draw::layout(data, &sizes)?;
    let canvas = match format {
        Format::Svg => draw::Canvas::svg()?,
        Format::Png => draw::Canvas::png()?,
    };
    let w = (layout.width * canvas.per_pt).round() as u32;
    let h = (layout.height * canvas.per_pt).round() as u32;
    match format {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                draw::render(&root, data, &sizes, &layout, &canvas)?;
                root.present().map_err(draw_error)?;
            }
            let meta = serde_json::to_string(&Metadata {
                software: software(),
                figure,
                preset,
                sweep: manifest,
            })?;
            Ok(with_metadata(&svg, &meta)?.into_bytes())
        }
        Format::Png => {
            let mut pixels = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
                draw::render(&root, data, &sizes, &layout, &canvas)?;
                root.present().map_err(draw_error)?;
            }
            let chunks = [
                ("Software", software()),
                ("Title", data.title.clone()),
                ("thinkscale:figure", figure.as_str().to_string()),
                ("thinkscale:sweep", serde_json::to_string(manifest)?),
            ];
            encode_png(&pixels, w, h, &chunks)
        }
    }
}

fn draw_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the figure failed: {e}")
}

/// Encodes 8-bit RGB pixels as a PNG at [`preset::PNG_DPI`] with `chunks` as text: tEXt where
/// the text is ASCII, else iTXt (UTF-8).
fn encode_png(pixels: &[u8], w: u32, h: u32, chunks: &[(&str, String)]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let per_metre = (preset::PNG_DPI / 0.0254).round() as u32;
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: per_metre,
            yppu: per_metre,
            unit: png::Unit::Meter,
        }));
        for (key, text) in chunks {
            if text.is_ascii() {
                enc.add_text_chunk(key.to_string(), text.clone())?;
            } else {
                enc.add_itxt_chunk(key.to_string(), text.clone())?;
            }
        }
        let mut writer = enc.write_header()?;
        writer.write_image_data(pixels)?;
        writer.finish()?;
    }
    Ok(out)
}

/// Refuses an output whose directory is missing, naming both.
fn check_directory(out: &Path) -> anyhow::Result<()> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!(
            "cannot write {}: directory {} does not exist",
            out.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Writes `data` as `out` (its extension gives the format) with `.csv` and `.json` beside it.
fn write_data<S: Serialize + ?Sized>(
    figure: Figure,
    data: &FigureData,
    manifest: &S,
    preset: Preset,
    out: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let format = Format::of_path(out)?;
    check_directory(out)?;
    let paths = vec![
        out.to_path_buf(),
        out.with_extension("csv"),
        out.with_extension("json"),
    ];
    // Open every file before drawing: a directory that cannot be written fails here.
    let mut files = Vec::with_capacity(paths.len());
    for p in &paths {
        match std::fs::File::create(p) {
            Ok(f) => files.push(f),
            Err(e) => {
                remove(&paths[..files.len()]);
                return Err(anyhow::Error::new(e).context(format!("cannot write {}", p.display())));
            }
        }
    }
    let written = (|| -> anyhow::Result<()> {
        let json = serde_json::to_string_pretty(&FigureFile {
            figure,
            preset,
            width_inches: preset.width_inches(),
            thinkscale_version: env!("CARGO_PKG_VERSION"),
            data,
            sweep: manifest,
        })? + "\n";
        let bytes = [
            render(figure, data, manifest, preset, format)?,
            data.csv().into_bytes(),
            json.into_bytes(),
        ];
        for ((file, p), b) in files.iter_mut().zip(&paths).zip(&bytes) {
            file.write_all(b)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        remove(&paths);
        return Err(e.context(format!("figure {figure} not written")));
    }
    Ok(paths)
}

/// Removes the files of a figure that failed half-way, so none is left empty. The failure
/// itself is what gets reported; a file that cannot be removed was never written either.
fn remove(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// Draws one figure of a sweep to `out` (`FILE.svg` or `FILE.png`) and writes `FILE.csv` and
/// `FILE.json` beside it; returns the three paths. A missing directory, an unsupported
/// extension, or a sweep without the figure's data is an error, found before any drawing.
pub fn write_figure(
    figure: Figure,
    manifest: &SweepManifest,
    curves: &SweepCurves,
    records: &[SweepRecord],
    preset: Preset,
    out: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    Format::of_path(out)?;
    check_directory(out)?;
    let data = figure.data(manifest, curves, records)?;
    write_data(figure, &data, manifest, preset, out)
}

/// Writes every figure that has data into `dir` (created if missing) as `NAME.FORMAT` with its
/// CSV and JSON; a figure without data (no bank: no scores) is skipped. Returns the files
/// written.
pub fn write_figures(
    dir: &Path,
    manifest: &SweepManifest,
    curves: &SweepCurves,
    records: &[SweepRecord],
    preset: Preset,
    format: Format,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for figure in Figure::ALL {
        let Ok(data) = figure.data(manifest, curves, records) else {
            continue;
        };
        let out = dir.join(format!("{figure}.{format}"));
        written.extend(write_data(figure, &data, manifest, preset, &out)?);
    }
    Ok(written)
}

/// Writes every figure that has data as `DIR/figures/NAME.FORMAT` (with CSV and JSON), `DIR`
/// being the sweep's directory. Returns the files written.
pub fn write_figure_set(
    dir: &Path,
    manifest: &SweepManifest,
    curves: &SweepCurves,
    records: &[SweepRecord],
    preset: Preset,
    format: Format,
) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!("cannot write figures: {} is not a directory", dir.display());
    }
    write_figures(
        &dir.join("figures"),
        manifest,
        curves,
        records,
        preset,
        format,
    )
}

#[cfg(test)]
mod tests;

/// The search zoo's figure (accuracy against tokens generated per problem, one panel per
/// verifier: [`figures::search_zoo`]) as `dir/search-zoo.FORMAT` for both formats, each with
/// its CSV and JSON, every sweep's manifest in the metadata. Returns the files written.
pub fn write_search_zoo(
    dir: &Path,
    parts: &[(String, &SweepManifest, &SweepCurves)],
    preset: Preset,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let panels: Vec<(String, &SweepCurves)> =
        parts.iter().map(|(v, _, c)| (v.clone(), *c)).collect();
    let data = figures::search_zoo(&panels).map_err(|reason| NoData {
        figure: Figure::SearchZoo.as_str(),
        reason,
    })?;
    let manifests: Vec<&SweepManifest> = parts.iter().map(|(_, m, _)| *m).collect();
    let mut written = Vec::new();
    for format in Format::ALL {
        let out = dir.join(format!("{}.{format}", Figure::SearchZoo));
        written.extend(write_data(
            Figure::SearchZoo,
            &data,
            &manifests,
            preset,
            &out,
        )?);
    }
    Ok(written)
}

/// Every figure of the sweep in `dir` that has data, as SVG and as PNG at `preset`, into
/// `dir/figures` (each with its CSV and JSON): what `thinkscale plot DIR --figure all` and the
/// window's "Export figures" write.
pub fn export_sweep(dir: &Path, preset: Preset) -> anyhow::Result<Vec<PathBuf>> {
    let (manifest, records) = crate::runner::sweep::load(dir)?;
    let curves = crate::analysis::sweep::curves(&manifest, &records);
    let mut written = Vec::new();
    for format in Format::ALL {
        written.extend(write_figure_set(
            dir, &manifest, &curves, &records, preset, format,
        )?);
    }
    Ok(written)
}
