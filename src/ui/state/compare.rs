//! Compare: pin the finished search on screen, then run (or show a stored) other search of the
//! same problem: the two trees side by side, each with its header, compute and chosen answer,
//! on the one colour scale of verifier scores, and the difference in tokens and FLOPs.

use super::TreeInfo;
use crate::search::{NodeId, SearchTree};
use crate::store::Record;
use crate::ui::layout::{Camera, TreeLayout};

/// A finished search kept beside the one on screen.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// Its tree and layout.
    pub tree: SearchTree,
    /// The tree's layout.
    pub layout: TreeLayout,
    /// How its tree is looked at.
    pub camera: Camera,
    /// Which search drew it.
    pub info: Option<TreeInfo>,
    /// Its record.
    pub record: Record,
    /// The leaf of its chosen answer.
    pub chosen: Option<NodeId>,
}
