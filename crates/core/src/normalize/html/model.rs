//! A learned second opinion on every block of a page, after the scoring of [`super::content`].
//!
//! The scoring decides by rules (readability's container, jusText's context); where rules
//! disagree with what people call the main text, the disagreement has a shape that a small
//! model can learn from the page alone: a short block between two chosen ones, a caption in
//! the article's box, a link-free paragraph beside it, a teaser under a content-named wrapper.
//! The model is gradient-boosted trees (boilerpipe and dragnet learn the same decision from
//! block features) over [`FEATURES`] numbers per block: what the scoring chose around it, its
//! length, links, punctuation and case, its place relative to the headline, and the kinds and
//! class/id hints of its boxes. It ships as text (`html/block-model.tsv`), compiled in, fitted
//! by `crates/core/html/fit_block_model.py` on block features that
//! [`block_features`](crate::normalize::block_features) prints, so that the numbers it learns
//! from are the numbers it is given here.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::dom::{Flat, Kind};
use super::hints::{Hint, WORD_GROUPS};

/// How many numbers describe a block.
pub const FEATURES: usize = 52 + 2 * 12 + 3 + 2;

/// The model the normalizer ships.
const DEFAULT_MODEL_TSV: &str = include_str!("../../../html/block-model.tsv");

static DEFAULT_MODEL: LazyLock<Option<BlockModel>> =
    LazyLock::new(|| BlockModel::parse(DEFAULT_MODEL_TSV).ok());

/// The shipped model (`None` only if the shipped file were broken, which a unit test rules
/// out; the scoring's choice then stands).
pub(crate) fn default_model() -> Option<&'static BlockModel> {
    DEFAULT_MODEL.as_ref()
}

const KINDS: [Kind; 10] = [
    Kind::Article,
    Kind::Paragraph,
    Kind::Headline,
    Kind::Heading,
    Kind::List,
    Kind::Furniture,
    Kind::Wrapper,
    Kind::Figure,
    Kind::Block,
    Kind::Inline,
];
const HINTS: [Hint; 5] = [
    Hint::None,
    Hint::Content,
    Hint::Both,
    Hint::Furniture,
    Hint::Weak,
];
const NEAR_HINTS: [Hint; 3] = [Hint::Furniture, Hint::Weak, Hint::Content];
const NEAR_KINDS: [Kind; 5] = [
    Kind::Furniture,
    Kind::Figure,
    Kind::Article,
    Kind::List,
    Kind::Wrapper,
];

fn ratio(part: usize, whole: usize) -> f32 {
    if whole == 0 {
        0.0
    } else {
        part as f32 / whole as f32
    }
}

fn flag(b: bool) -> f32 {
    if b { 1.0 } else { 0.0 }
}

/// The numbers that describe each block of `flat`, given the blocks the scoring chose and the
/// headline's block.
pub(crate) fn features(
    flat: &Flat,
    chosen: &[usize],
    headline: Option<usize>,
) -> Vec<[f32; FEATURES]> {
    let n = flat.blocks.len();
    let mut is_in = vec![false; n];
    for &b in chosen {
        if let Some(slot) = is_in.get_mut(b) {
            *slot = true;
        }
    }
    let total: u64 = flat.blocks.iter().map(|b| u64::from(b.chars)).sum();
    let chosen_chars: u64 = chosen
        .iter()
        .filter_map(|&b| flat.blocks.get(b))
        .map(|b| u64::from(b.chars))
        .sum();
    let share = if total == 0 {
        0.0
    } else {
        chosen_chars as f32 / total as f32
    };
    // Per element: characters of chosen blocks inside it.
    let mut chosen_in = vec![0_u32; flat.els.len()];
    for &b in chosen {
        if let Some(block) = flat.blocks.get(b) {
            chosen_in[block.owner as usize] += block.chars;
        }
    }
    for e in (0..flat.els.len()).rev() {
        if let Some(p) = flat.els[e].parent {
            chosen_in[p as usize] += chosen_in[e];
        }
    }
    let first = chosen.iter().copied().min();
    let last = chosen.iter().copied().max();
    let mut ancestors: Vec<u32> = Vec::new();
    (0..n)
        .map(|i| {
            let block = &flat.blocks[i];
            ancestors.clear();
            let mut at = Some(block.owner);
            while let Some(e) = at {
                ancestors.push(e);
                at = flat.els[e as usize].parent;
            }
            let mut f = [0.0_f32; FEATURES];
            let mut k = 0;
            let mut put = |v: f32| {
                f[k] = v;
                k += 1;
            };
            put(flag(is_in[i]));
            put((block.chars as f32).ln_1p());
            put(ratio(block.link_chars as usize, block.chars as usize));
            put(flag(i > 0 && is_in[i - 1]));
            put(flag(i + 1 < n && is_in[i + 1]));
            let window = is_in[i.saturating_sub(3)..(i + 4).min(n)]
                .iter()
                .filter(|&&x| x)
                .count();
            put(window as f32 / 7.0);
            let inside = first.is_some_and(|a| a <= i) && last.is_some_and(|z| i <= z);
            put(flag(inside));
            let outside = match (first, last) {
                (Some(a), Some(z)) if !inside => (a.abs_diff(i).min(z.abs_diff(i)).min(20)) as f32,
                _ => 0.0,
            };
            put(outside / 20.0);
            put(ratio(i, n));
            put(share);
            text_features(&block.text, &mut put);
            cue_features(&block.text, &mut put);
            put(ancestors.len() as f32 / 30.0);
            match headline {
                Some(h) => {
                    put(if i > h { 1.0 } else { -1.0 });
                    put(((i as f32 - h as f32) / 50.0).clamp(-1.0, 1.0));
                }
                None => {
                    put(0.0);
                    put(0.0);
                }
            }
            let owner = &flat.els[block.owner as usize];
            for kind in KINDS {
                put(flag(owner.kind == kind));
            }
            for hint in HINTS {
                put(flag(owner.hint == hint));
            }
            for levels in [3, 8] {
                let near = &ancestors[..ancestors.len().min(levels)];
                for hint in NEAR_HINTS {
                    put(flag(
                        near.iter().any(|&e| flat.els[e as usize].hint == hint),
                    ));
                }
                for kind in NEAR_KINDS {
                    put(flag(
                        near.iter().any(|&e| flat.els[e as usize].kind == kind),
                    ));
                }
            }
            for levels in [2, 6] {
                let near = &ancestors[..ancestors.len().min(levels)];
                let words = near
                    .iter()
                    .fold(0_u16, |w, &e| w | flat.els[e as usize].words);
                for group in 0..WORD_GROUPS.len() {
                    put(flag(words & (1 << group) != 0));
                }
            }
            for level in 1..=3 {
                put(ancestors.get(level).map_or(0.0, |&e| {
                    ratio(
                        chosen_in[e as usize] as usize,
                        flat.els[e as usize].chars as usize,
                    )
                }));
            }
            match owner.parent.map(|p| &flat.els[p as usize]) {
                Some(parent) => {
                    put(ratio(parent.link_chars as usize, parent.chars as usize));
                    put((parent.chars as f32).ln_1p());
                }
                None => {
                    put(0.0);
                    put(0.0);
                }
            }
            f
        })
        .collect()
}

/// Words that ask the reader to act or name the page's furniture, in the languages of the dev
/// sets: sign-up and subscription, sharing and following, cookies, privacy and advertising,
/// comments, apps, rights, "read more" and "click here". jusText and boilerpipe read text cues
/// like these; here they are two numbers, and the trees weigh them beside the layout. Matched
/// as lower-case substrings (`abonn` is abonnieren, abonnement, abonnez), so a cue inside a
/// longer word counts too, as it did when the model was fitted.
const CUES: &[&str] = &[
    "newsletter",
    "subscribe",
    "subscription",
    "sign up",
    "signup",
    "sign in",
    "log in",
    "login",
    "register",
    "inbox",
    "abonn",
    "anmelden",
    "registrier",
    "einloggen",
    "inscri",
    "suscri",
    "iscriviti",
    "assine",
    "subskryp",
    "zapisz",
    "share",
    "teilen",
    "partager",
    "compartir",
    "condividi",
    "udostępnij",
    "follow us",
    "folgen sie",
    "folge uns",
    "suivez-nous",
    "síguenos",
    "seguici",
    "cookie",
    "privacy",
    "datenschutz",
    "advertis",
    "anzeige",
    "werbung",
    "publicidad",
    "publicité",
    "pubblicità",
    "reklam",
    "comment",
    "kommentar",
    "comentario",
    "commento",
    "komentarz",
    "download",
    "app store",
    "google play",
    "all rights reserved",
    "alle rechte",
    "tous droits",
    "todos los derechos",
    "©",
    "read more",
    "read also",
    "also read",
    "weiterlesen",
    "lesen sie auch",
    "mehr zum thema",
    "mehr lesen",
    "lire aussi",
    "lire la suite",
    "lea también",
    "leer más",
    "leia também",
    "leggi anche",
    "czytaj też",
    "czytaj także",
    "related",
    "click here",
    "klicken sie",
    "hier klicken",
    "cliquez",
];

static CUE_MATCHER: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| AhoCorasick::new(CUES).ok());

/// How many [`CUES`] the block holds (every occurrence of each), and that count per word.
fn cue_features(text: &str, put: &mut impl FnMut(f32)) {
    let count = CUE_MATCHER.as_ref().map_or(0, |matcher| {
        matcher.find_overlapping_iter(&text.to_lowercase()).count()
    });
    put(count as f32);
    put(ratio(count, text.split_whitespace().count()));
}

/// Commas per word, digits per character, how it ends, words and the share that are
/// capitalised.
fn text_features(text: &str, put: &mut impl FnMut(f32)) {
    let trimmed = text.trim();
    let words = trimmed.split_whitespace().count();
    let commas = trimmed.chars().filter(|&c| c == ',').count();
    let chars = trimmed.chars().count();
    let digits = trimmed.chars().filter(char::is_ascii_digit).count();
    let capitalised = trimmed
        .split_whitespace()
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
        .count();
    put(ratio(commas, words));
    put(ratio(digits, chars));
    put(flag(
        trimmed.ends_with(['.', '!', '?', '…', '"', '”', '»', ')']),
    ));
    put(flag(trimmed.ends_with(':')));
    put(words as f32);
    put(ratio(capitalised, words));
}

/// One node of a tree: a split (`feature`, `threshold`, children) or a leaf (`value`). Kept to
/// 20 bytes, since walking the trees is most of the model's cost.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// The largest `f32` not above the fitted threshold: the features are `f32`, so `x <= t`
    /// decides exactly as scikit-learn's `x <= threshold` in `f64`.
    threshold: f32,
    feature: u16,
    left: u32,
    right: u32,
    value: f32,
}

/// The largest `f32` that is not above `t` (`f32::next_down` is newer than our 1.85).
fn f32_at_most(t: f64) -> f32 {
    let near = t as f32;
    if f64::from(near) <= t || near.is_nan() {
        return near;
    }
    // One step toward minus infinity.
    if near == 0.0 {
        -f32::from_bits(1)
    } else if near > 0.0 {
        f32::from_bits(near.to_bits() - 1)
    } else {
        f32::from_bits(near.to_bits() + 1)
    }
}

/// Gradient-boosted regression trees on the log-odds that a block is main text.
#[derive(Debug)]
pub(crate) struct BlockModel {
    init: f64,
    rate: f64,
    threshold: f64,
    nodes: Vec<Node>,
    roots: Vec<u32>,
}

const LEAF: u32 = u32::MAX;

impl BlockModel {
    /// Reads the model's text: `init`, `rate` and `threshold` lines, then one line per node
    /// (`tree node feature threshold left right value`, `-1` children for a leaf).
    pub(crate) fn parse(tsv: &str) -> Result<Self, String> {
        let mut model = Self {
            init: 0.0,
            rate: 0.0,
            threshold: 0.5,
            nodes: Vec::new(),
            roots: Vec::new(),
        };
        let mut tree_start = 0_u32;
        let mut last_tree: Option<u32> = None;
        for (number, line) in tsv.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let bad = || format!("block model line {}: `{line}`", number + 1);
            let num = |i: usize| -> Result<f64, String> {
                fields
                    .get(i)
                    .and_then(|v| v.parse::<f64>().ok())
                    .ok_or_else(bad)
            };
            match fields.first().copied() {
                Some("init") => model.init = num(1)?,
                Some("rate") => model.rate = num(1)?,
                Some("threshold") => model.threshold = num(1)?,
                // `tree` heads the node lines; `check` rows are for the tests.
                Some("tree" | "check") => {}
                _ => {
                    let tree = num(0)? as u32;
                    if last_tree != Some(tree) {
                        tree_start = u32::try_from(model.nodes.len()).map_err(|_| bad())?;
                        model.roots.push(tree_start);
                        last_tree = Some(tree);
                    }
                    let child = |i: usize| -> Result<u32, String> {
                        let v = num(i)?;
                        Ok(if v < 0.0 { LEAF } else { tree_start + v as u32 })
                    };
                    let feature = num(2)?;
                    if !(0.0..FEATURES as f64).contains(&feature) {
                        return Err(bad());
                    }
                    model.nodes.push(Node {
                        feature: feature as u16,
                        threshold: f32_at_most(num(3)?),
                        left: child(4)?,
                        right: child(5)?,
                        value: num(6)? as f32,
                    });
                }
            }
        }
        let count = model.nodes.len() as u32;
        if model.roots.is_empty()
            || model.nodes.iter().any(|n| {
                (n.left != LEAF && n.left >= count) || (n.right != LEAF && n.right >= count)
            })
        {
            return Err("block model: no trees, or a child outside its tree".to_owned());
        }
        Ok(model)
    }

    /// The probability that a block described by `x` is main text.
    fn probability(&self, x: &[f32; FEATURES]) -> f64 {
        1.0 / (1.0 + (-self.log_odds(x)).exp())
    }

    fn log_odds(&self, x: &[f32; FEATURES]) -> f64 {
        let mut raw = self.init;
        for &root in &self.roots {
            let mut at = root as usize;
            // A tree is finite and its children point forward: the walk ends at a leaf.
            loop {
                let node = &self.nodes[at];
                if node.left == LEAF || node.right == LEAF {
                    raw += self.rate * f64::from(node.value);
                    break;
                }
                at = if x[node.feature as usize] <= node.threshold {
                    node.left as usize
                } else {
                    node.right as usize
                };
            }
        }
        raw
    }

    /// The blocks the model calls main text, in document order; the scoring's choice when the
    /// model would leave none (a page with text is never emptied by a second opinion).
    pub(crate) fn refine(
        &self,
        flat: &Flat,
        chosen: Vec<usize>,
        headline: Option<usize>,
    ) -> Vec<usize> {
        let refined: Vec<usize> = features(flat, &chosen, headline)
            .iter()
            .enumerate()
            .filter(|(b, x)| {
                flat.els[flat.blocks[*b].owner as usize].kind != Kind::Headline
                    && self.probability(x) > self.threshold
            })
            .map(|(b, _)| b)
            .collect();
        if refined.is_empty() { chosen } else { refined }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_model_parses() {
        let model = BlockModel::parse(DEFAULT_MODEL_TSV).expect("the shipped block model");
        assert!(model.roots.len() >= 10, "{} trees", model.roots.len());
        assert!(default_model().is_some());
    }

    #[test]
    fn the_shipped_file_gives_what_the_fit_gave() {
        let model = BlockModel::parse(DEFAULT_MODEL_TSV).unwrap();
        let mut checked = 0;
        for line in DEFAULT_MODEL_TSV
            .lines()
            .filter(|l| l.starts_with("check\t"))
        {
            let fields: Vec<&str> = line.split('\t').collect();
            let expected: f64 = fields[1].parse().unwrap();
            let values: Vec<f32> = fields[2].split(',').map(|v| v.parse().unwrap()).collect();
            let x: [f32; FEATURES] = values.try_into().expect("as many values as features");
            let got = model.log_odds(&x);
            assert!((got - expected).abs() < 1e-5, "{got} against {expected}");
            checked += 1;
        }
        assert!(checked >= 3, "{checked} check rows");
    }

    fn cues(text: &str) -> (f32, f32) {
        let mut got = Vec::new();
        cue_features(text, &mut |v| got.push(v));
        (got[0], got[1])
    }

    #[test]
    fn calls_to_act_are_counted_in_any_case_and_language() {
        assert_eq!(cues("Sign up for our NEWSLETTER"), (2.0, 0.4));
        assert_eq!(cues("Jetzt abonnieren und teilen!").0, 2.0);
        assert_eq!(cues("Publicité").0, 1.0);
        assert_eq!(
            cues("The minister said the talks would resume on Monday.").0,
            0.0
        );
        assert_eq!(cues(""), (0.0, 0.0));
    }

    #[test]
    fn thresholds_round_down_to_an_f32() {
        for t in [0.1_f64, 0.5, -0.3, 1e-40, 5.344_720_840_454_102, 0.0] {
            let r = f32_at_most(t);
            assert!(f64::from(r) <= t, "{r} above {t}");
            assert!(
                f64::from(f32::from_bits(r.to_bits().wrapping_add(if r >= 0.0 {
                    1
                } else {
                    u32::MAX
                }))) > t
                    || r == 0.0
            );
        }
    }

    #[test]
    fn a_broken_model_is_an_error() {
        assert!(BlockModel::parse("init\t0\nrate\t0.1\n").is_err());
        assert!(BlockModel::parse("init\t0\n0\t0\t99\t0.5\t1\t2\t0\n").is_err());
        assert!(BlockModel::parse("0\t0\t1\t0.5\t5\t6\t0\n").is_err());
    }
}
