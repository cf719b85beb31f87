//! Model inputs: token ids with the positions a format scores, and text assembled from pieces
//! that remembers where its marked pieces (step tags, replies) end, so the tokens that carry
//! them can be found after the whole text is encoded once, the way the reference code encodes
//! it.

use super::checkpoint::encode;
use super::{PrmError, PrmFormat};
use tokenizers::Tokenizer;

/// What one forward pass reads: the tokens, and per step the position that scores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScoringInput {
    /// Token ids.
    pub ids: Vec<u32>,
    /// One position per step, increasing.
    pub positions: Vec<usize>,
}

/// A piece of a format's input text: plain text, or a tag, the text of the one token whose
/// position scores a step (Math-Shepherd's ` ки`, Qwen's `<extra_0>`, RLHFlow's `+` reply).
/// A format lays out its text as pieces once; the local PRM encodes them and finds the tags'
/// tokens, a remote verifier sends the text to a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Plain text.
    Text(String),
    /// A tag.
    Tag(String),
}

impl Piece {
    /// Plain text.
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }

    /// The piece's text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Text(s) | Self::Tag(s) => s,
        }
    }
}

/// Text built from pieces; marked pieces must each come out as one given token.
#[derive(Debug, Default)]
pub(super) struct MarkedText {
    text: String,
    /// Byte offset just past each marked piece, with the piece and the token it must become.
    marks: Vec<(usize, String, u32)>,
}

impl MarkedText {
    /// Appends unmarked text.
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends `s`, which must tokenize as the single token `id`.
    pub fn push_marked(&mut self, s: &str, id: u32) -> &mut Self {
        self.text.push_str(s);
        self.marks.push((self.text.len(), s.to_string(), id));
        self
    }

    /// The text of `pieces`, each tag marked as the token `tag`.
    pub fn from_pieces(pieces: &[Piece], tag: u32) -> Self {
        let mut t = Self::default();
        for p in pieces {
            match p {
                Piece::Text(s) => t.push(s),
                Piece::Tag(s) => t.push_marked(s, tag),
            };
        }
        t
    }

    /// Encodes the whole text (no tokens added by the post-processor) and returns the ids with
    /// the index of the token that carries each marked piece: the token covering the piece's
    /// last byte, which must be the piece's own token.
    pub fn encode(
        &self,
        tok: &Tokenizer,
        format: PrmFormat,
    ) -> Result<(Vec<u32>, Vec<usize>), PrmError> {
        let enc = encode(tok, &self.text, false)?;
        let (ids, offsets) = (enc.get_ids(), enc.get_offsets());
        let mut at = Vec::with_capacity(self.marks.len());
        for (step, (end, piece, id)) in self.marks.iter().enumerate() {
            let last = end.saturating_sub(1);
            let i = offsets
                .iter()
                .position(|&(s, e)| s <= last && last < e)
                .filter(|&i| ids[i] == *id)
                .ok_or_else(|| PrmError::TagNotAlone {
                    format,
                    step: step + 1,
                    token: piece.clone(),
                    id: *id,
                })?;
            at.push(i);
        }
        Ok((ids.to_vec(), at))
    }
}
