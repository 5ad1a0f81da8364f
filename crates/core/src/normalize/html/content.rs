//! Which blocks of a page are its main text, decided by scoring the page rather than by a
//! list of selectors.
//!
//! The method is readability's, with trafilatura's and jusText's pruning:
//! 1. Every block of prose (at least [`MIN_PROSE_CHARS`] characters, mostly not links, not
//!    inside furniture) scores `1 + commas + min(chars / 100, 3)`, given to its container in
//!    full, to the container's parent by half and to ancestors further up by a third of their
//!    distance.
//! 2. A container's score grows with its kind, its class/id words and its nearness to the
//!    headline, and shrinks with its link density. The best one wins; it moves up to an
//!    ancestor that holds several of the next best, to a parent that scores higher, and to a
//!    parent that adds far more prose than links and furniture (an article split over boxes);
//!    siblings that score nearly as well join it.
//! 3. Inside the winners, furniture is cut: navigation, footers, asides and figures, boxes
//!    whose class or id words mark comments, sharing, related stories or newsletters (unless
//!    they hold most of the text), link lists, and link-dense blocks. Outside them, clean
//!    paragraphs of prose join, and so do clean blocks right after a chosen one.
//! 4. At the edges, jusText's context: a heading whose section was cut, a short line between
//!    cut blocks, short lines before the first and after the last paragraph go.
//! 5. When all that leaves too little, furniture's text is scored too (a paywalled page's
//!    teaser), then the whole body is taken with the same cuts; a page is only without a
//!    body when no block of it survives them.

use super::dom::{Flat, Kind};
use super::hints::Hint;

/// Shorter blocks are not scored as prose.
const MIN_PROSE_CHARS: u32 = 25;
/// Ancestors that receive a block's score.
const SCORE_LEVELS: usize = 5;
/// Link density from which a block or a box is link furniture.
const MAX_LINK_DENSITY: f32 = 0.4;
/// A furniture-hinted box holding at least this share of its root's prose is kept.
const PROTECTED_SHARE: f32 = 0.5;
/// A parent replaces the main box when it adds at least this much prose per character of
/// anything else.
const CLIMB_PROSE_PER_FURNITURE: f32 = 4.0;
/// Score for a box near the headline (the text follows its headline).
const HEADLINE_BONUS: f32 = 5.0;
/// How far up from the headline "near" reaches.
const HEADLINE_LEVELS: usize = 4;
/// A link-dense box with more prose than this is a wrapper, not a link list.
const LINK_LIST_MAX_PROSE: u32 = 300;
/// A block this long is prose when trimming the tail.
const TAIL_PROSE_CHARS: u32 = 100;
/// Lines after the last prose shorter than this, not ending a sentence, are dropped.
const TAIL_SHORT_CHARS: u32 = 40;
/// A paragraph outside the main box this long, without links or furniture around it, is
/// text of the article that the page laid out elsewhere.
const OUTSIDE_PROSE_CHARS: u32 = 120;
/// Lines before the first prose shorter than this, not ending a sentence, are dropped.
const HEAD_SHORT_CHARS: u32 = 40;
/// A main text shorter than this (characters) is retried on the whole body.
const MIN_MAIN_CHARS: u32 = 250;

fn density(link_chars: u32, chars: u32) -> f32 {
    if chars == 0 {
        0.0
    } else {
        link_chars as f32 / chars as f32
    }
}

fn prose(link_chars: u32, chars: u32) -> u32 {
    chars.saturating_sub(link_chars)
}

fn base_score(kind: Kind, hint: Hint) -> f32 {
    let kind = match kind {
        Kind::Article => 10.0,
        Kind::Block => 5.0,
        Kind::Paragraph => 3.0,
        Kind::Wrapper | Kind::Inline => 0.0,
        Kind::List => -3.0,
        Kind::Headline | Kind::Heading => -5.0,
        Kind::Furniture | Kind::Figure => -25.0,
    };
    let hint = match hint {
        Hint::None => 0.0,
        Hint::Content => 8.0,
        Hint::Both => 3.0,
        Hint::Furniture => -25.0,
        Hint::Weak => -10.0,
    };
    kind + hint
}

/// The blocks of the main text, by index, in document order.
pub(crate) fn main_blocks(flat: &Flat, headline: Option<u32>) -> Vec<usize> {
    let mass = Mass::of(flat);
    let mut chosen = choose(flat, &mass, headline);
    trim(flat, &mut chosen);
    chosen
}

/// jusText's context rule, at the edges: a heading whose next block was cut introduces
/// furniture ("Related posts", "Comments"), and short lines after the last paragraph of
/// prose are credits, sources and prompts.
fn trim(flat: &Flat, chosen: &mut Vec<usize>) {
    if chosen.len() < 2 {
        // A page of one block: there is no context to judge it by.
        return;
    }
    let is_heading = |b: usize| {
        matches!(
            flat.els[flat.blocks[b].owner as usize].kind,
            Kind::Heading | Kind::Headline
        )
    };
    let kept: std::collections::HashSet<usize> = chosen.iter().copied().collect();
    chosen.retain(|&b| !is_heading(b) || kept.contains(&(b + 1)));
    // A short line between two cut blocks is furniture that escaped its box (a page's first
    // or last block has a side where nothing was cut).
    let kept: std::collections::HashSet<usize> = chosen.iter().copied().collect();
    let last = flat.blocks.len().saturating_sub(1);
    chosen.retain(|&b| {
        let block = &flat.blocks[b];
        block.chars >= TAIL_SHORT_CHARS
            || is_heading(b)
            || b == 0
            || b == last
            || kept.contains(&(b - 1))
            || kept.contains(&(b + 1))
    });
    let last_prose = chosen
        .iter()
        .rposition(|&b| flat.blocks[b].chars >= TAIL_PROSE_CHARS && !is_heading(b));
    if let Some(last) = last_prose {
        let tail_start = last + 1;
        let mut keep = tail_start;
        for (i, &b) in chosen.iter().enumerate().skip(tail_start) {
            if flat.blocks[b].chars >= TAIL_SHORT_CHARS || ends_sentence(&flat.blocks[b].text) {
                keep = i + 1;
            }
        }
        chosen.truncate(keep);
    }
    // Likewise before the first prose: bylines, dates, "share" and "print" lines (a line that
    // ends in a colon introduces what follows).
    if let Some(first) = chosen
        .iter()
        .position(|&b| flat.blocks[b].chars >= TAIL_PROSE_CHARS && !is_heading(b))
    {
        let mut index = 0;
        chosen.retain(|&b| {
            index += 1;
            index > first
                || is_heading(b)
                || flat.blocks[b].chars >= HEAD_SHORT_CHARS
                || ends_sentence(&flat.blocks[b].text)
                || flat.blocks[b].text.trim_end().ends_with(':')
        });
    }
}

/// Whether a line ends as a sentence or a quotation does.
fn ends_sentence(text: &str) -> bool {
    text.trim_end()
        .ends_with(['.', '!', '?', '…', '"', '”', '»', ')'])
}

fn choose(flat: &Flat, mass: &Mass, headline: Option<u32>) -> Vec<usize> {
    // First without furniture's text; when that finds too little (a paywalled page whose only
    // text is its teaser box), with it.
    let scores = candidate_scores(flat, headline, Some(&mass.furniture));
    if let Some(roots) = best_roots(flat, mass, &scores) {
        let chosen = select(flat, mass, &roots);
        if chosen.iter().map(|&b| flat.blocks[b].chars).sum::<u32>() >= MIN_MAIN_CHARS {
            return chosen;
        }
    }
    let scores = candidate_scores(flat, headline, None);
    if let Some(roots) = best_roots(flat, mass, &scores) {
        let chosen = select(flat, mass, &roots);
        let chars: u32 = chosen.iter().map(|&b| flat.blocks[b].chars).sum();
        if chars >= MIN_MAIN_CHARS {
            return chosen;
        }
        let whole = whole_body(flat, mass);
        let whole_chars: u32 = whole.iter().map(|&b| flat.blocks[b].chars).sum();
        // The whole body only when it adds real prose, not just more furniture.
        if whole_chars > chars.saturating_mul(3) && prose_blocks(flat, &whole) > 0 {
            return whole;
        }
        if !chosen.is_empty() {
            return chosen;
        }
        return whole;
    }
    whole_body(flat, mass)
}

fn prose_blocks(flat: &Flat, blocks: &[usize]) -> usize {
    blocks
        .iter()
        .filter(|&&b| {
            let block = &flat.blocks[b];
            block.chars >= MIN_PROSE_CHARS
                && density(block.link_chars, block.chars) < MAX_LINK_DENSITY
        })
        .count()
}

/// Readability's scores: prose given to its containers (prose inside furniture too unless
/// its `furniture` mask is given, as readability first removes its "unlikely candidates").
fn candidate_scores(flat: &Flat, headline: Option<u32>, furniture: Option<&[bool]>) -> Vec<f32> {
    let mut propagated = vec![0.0_f32; flat.els.len()];
    let mut is_candidate = vec![false; flat.els.len()];
    for block in &flat.blocks {
        if furniture.is_some_and(|mask| mask[block.owner as usize])
            || block.chars < MIN_PROSE_CHARS
            || density(block.link_chars, block.chars) >= MAX_LINK_DENSITY
        {
            continue;
        }
        let owner = &flat.els[block.owner as usize];
        if matches!(owner.kind, Kind::Headline | Kind::Heading) {
            continue;
        }
        let commas = block
            .text
            .chars()
            .filter(|c| matches!(c, ',' | '،' | '、' | '，'))
            .count() as f32;
        let score = 1.0 + commas + (block.chars as f32 / 100.0).min(3.0);
        // A paragraph's score goes to the box around it (a box holding one run of text is a
        // paragraph too); text standing directly in a box among other things scores for it.
        let mut at = if owner.kind == Kind::Paragraph
            || (owner.kind == Kind::Block && owner.chars == block.chars)
        {
            owner.parent
        } else {
            Some(block.owner)
        };
        let mut level = 0;
        while let Some(i) = at {
            if level >= SCORE_LEVELS {
                break;
            }
            let share = match level {
                0 => 1.0,
                1 => 0.5,
                n => 1.0 / (n as f32 * 3.0),
            };
            propagated[i as usize] += score * share;
            is_candidate[i as usize] = true;
            at = flat.els[i as usize].parent;
            level += 1;
        }
    }
    flat.els
        .iter()
        .enumerate()
        .map(|(i, el)| {
            if !is_candidate[i] {
                return f32::NEG_INFINITY;
            }
            let near = headline.is_some_and(|h| near_headline(flat, i as u32, h));
            let bonus = if near { HEADLINE_BONUS } else { 0.0 };
            (base_score(el.kind, el.hint) + bonus + propagated[i])
                * (1.0 - density(el.link_chars, el.chars))
        })
        .collect()
}

/// Is a box where the article's text stands beside its headline: inside the headline's
/// nearest ancestors, or holding the headline?
fn near_headline(flat: &Flat, el: u32, headline: u32) -> bool {
    let mut at = flat.els[headline as usize].parent;
    for _ in 0..HEADLINE_LEVELS {
        let Some(a) = at else { return false };
        if is_within(flat, el, a) {
            return true;
        }
        at = flat.els[a as usize].parent;
    }
    false
}

/// The winning container and the siblings that join it.
fn best_roots(flat: &Flat, mass: &Mass, scores: &[f32]) -> Option<Vec<u32>> {
    let mut ranked: Vec<u32> = (0..scores.len())
        .filter(|&i| scores[i].is_finite())
        .map(|i| i as u32)
        .collect();
    ranked.sort_by(|&a, &b| scores[b as usize].total_cmp(&scores[a as usize]));
    let mut top = *ranked.first()?;
    let top_score = scores[top as usize];

    // Readability: when several of the best candidates share an ancestor, the article is
    // split over them and the ancestor is the container.
    let alternatives: Vec<u32> = ranked
        .iter()
        .skip(1)
        .take(4)
        .copied()
        .filter(|&c| scores[c as usize] >= top_score * 0.75)
        .collect();
    if alternatives.len() >= 2 {
        let mut at = flat.els[top as usize].parent;
        while let Some(p) = at {
            let holds = alternatives
                .iter()
                .filter(|&&c| is_within(flat, c, p))
                .count();
            if holds >= 2 {
                top = p;
                break;
            }
            at = flat.els[p as usize].parent;
        }
    }
    // Move up while the parent scores higher (it holds more of the same text).
    let mut last = scores[top as usize];
    let threshold = last / 3.0;
    let mut at = flat.els[top as usize].parent;
    while let Some(p) = at {
        let score = scores[p as usize];
        if !score.is_finite() {
            at = flat.els[p as usize].parent;
            continue;
        }
        if score < threshold {
            break;
        }
        if score > last {
            top = p;
            break;
        }
        last = score;
        at = flat.els[p as usize].parent;
    }

    // Further up while a parent adds more prose than furniture: the article's parts, split
    // over boxes readability scores apart (intro, body, lists).
    let (good, bad) = (&mass.good, &mass.bad);
    while let Some(p) = flat.els[top as usize].parent {
        let gain = good[p as usize].saturating_sub(good[top as usize]);
        let cost = bad[p as usize].saturating_sub(bad[top as usize]);
        if gain == 0 || (gain as f32) < (cost as f32) * CLIMB_PROSE_PER_FURNITURE {
            break;
        }
        top = p;
    }

    let top_score = scores[top as usize];
    let mut roots = vec![top];
    if let Some(parent) = flat.els[top as usize].parent {
        let join = (top_score * 0.2).max(10.0);
        for (i, el) in flat.els.iter().enumerate().skip(top as usize + 1) {
            if el.parent == Some(parent) && joins(flat, i, scores[i], join) {
                roots.push(i as u32);
            }
        }
        for i in (0..top as usize).rev() {
            if flat.els[i].parent == Some(parent) && joins(flat, i, scores[i], join) {
                roots.push(i as u32);
            }
        }
    }
    Some(roots)
}

/// What the page's boxes hold, worked out once per page.
struct Mass {
    /// Which elements are furniture or inside furniture: marked by their kind or a strong
    /// furniture word, unless the box holds half the page (a site wrapper with an unlucky
    /// name).
    furniture: Vec<bool>,
    /// Per element: characters of prose (blocks of at least [`MIN_PROSE_CHARS`], mostly not
    /// links, outside furniture).
    good: Vec<u32>,
    /// Per element: characters of links or furniture.
    bad: Vec<u32>,
}

impl Mass {
    fn of(flat: &Flat) -> Self {
        let page = flat.els.first().map_or(0, |el| el.chars);
        let mut furniture = vec![false; flat.els.len()];
        for (i, el) in flat.els.iter().enumerate() {
            let marked = (matches!(el.kind, Kind::Furniture | Kind::Figure)
                || el.hint == Hint::Furniture)
                && el.chars.saturating_mul(2) < page;
            furniture[i] = marked || el.parent.is_some_and(|p| furniture[p as usize]);
        }
        let mut good = vec![0_u32; flat.els.len()];
        let mut bad = vec![0_u32; flat.els.len()];
        for block in &flat.blocks {
            let owner = block.owner as usize;
            if furniture[owner] {
                bad[owner] += block.chars;
                continue;
            }
            bad[owner] += block.link_chars;
            if block.chars >= MIN_PROSE_CHARS
                && density(block.link_chars, block.chars) < MAX_LINK_DENSITY
                && flat.els[owner].kind != Kind::Headline
            {
                good[owner] += block.chars;
            }
        }
        for i in (0..flat.els.len()).rev() {
            if let Some(p) = flat.els[i].parent {
                good[p as usize] += good[i];
                bad[p as usize] += bad[i];
            }
        }
        Self {
            furniture,
            good,
            bad,
        }
    }
}

fn joins(flat: &Flat, i: usize, score: f32, threshold: f32) -> bool {
    let el = &flat.els[i];
    if matches!(el.kind, Kind::Furniture | Kind::Figure)
        || matches!(el.hint, Hint::Furniture | Hint::Weak)
    {
        return false;
    }
    if score.is_finite() && score >= threshold {
        return true;
    }
    el.kind == Kind::Paragraph && el.chars >= 80 && density(el.link_chars, el.chars) < 0.25
}

fn is_within(flat: &Flat, mut el: u32, ancestor: u32) -> bool {
    loop {
        if el == ancestor {
            return true;
        }
        match flat.els[el as usize].parent {
            Some(p) => el = p,
            None => return false,
        }
    }
}

/// The blocks inside the roots that survive the cuts.
fn select(flat: &Flat, mass: &Mass, roots: &[u32]) -> Vec<usize> {
    let (good, mask) = (&mass.good, &mass.furniture);
    let mut is_root = vec![false; flat.els.len()];
    for &r in roots {
        is_root[r as usize] = true;
    }
    let mut out = Vec::new();
    // Blocks outside the main box that may join it when a neighbour is in.
    let mut may_grow = vec![false; flat.blocks.len()];
    'blocks: for (b, block) in flat.blocks.iter().enumerate() {
        if flat.els[block.owner as usize].kind == Kind::Headline {
            continue;
        }
        // Find the root above the block, checking every box on the way.
        let mut at = Some(block.owner);
        let mut root = None;
        let mut path_junk = false;
        while let Some(i) = at {
            if is_root[i as usize] {
                root = Some(i);
                break;
            }
            if !path_junk && is_junk(flat, good, i, None) {
                path_junk = true;
            }
            at = flat.els[i as usize].parent;
        }
        let Some(root) = root else {
            let clean = block.link_chars == 0 && !mask[block.owner as usize] && !path_junk;
            if clean && block.chars >= OUTSIDE_PROSE_CHARS {
                out.push(b);
            } else if clean {
                may_grow[b] = true;
            }
            continue;
        };
        if path_junk {
            // Junk judged against the root's prose: a furniture-hinted box that holds most of
            // the article is the article.
            let mut at = Some(block.owner);
            while let Some(i) = at {
                if i == root {
                    break;
                }
                if is_junk(flat, good, i, Some(root)) {
                    continue 'blocks;
                }
                at = flat.els[i as usize].parent;
            }
        }
        if block.chars > 0 && density(block.link_chars, block.chars) >= MAX_LINK_DENSITY {
            continue;
        }
        out.push(b);
    }
    grow(&mut out, &may_grow);
    out
}

/// jusText's context: a clean block right after a chosen one is chosen too (a list of
/// ingredients after its heading, a short paragraph between two long ones), until something
/// that is not clean stands between. (Growing backwards too gained as much recall as it
/// lost precision on html-eval.)
fn grow(out: &mut Vec<usize>, may_grow: &[bool]) {
    let mut chosen = vec![false; may_grow.len()];
    for &b in out.iter() {
        chosen[b] = true;
    }
    for b in 1..chosen.len() {
        if !chosen[b] && may_grow[b] && chosen[b - 1] {
            chosen[b] = true;
        }
    }
    *out = (0..chosen.len()).filter(|&b| chosen[b]).collect();
}

/// Is a box inside the main text furniture? Without a root, the protection by share is not
/// checked (a quick first look that only ever says yes too often).
fn is_junk(flat: &Flat, good: &[u32], i: u32, root: Option<u32>) -> bool {
    let el = &flat.els[i as usize];
    let own_good = good[i as usize];
    // Links with little prose: menus, tag lists, "read more" teasers. A wrapper full of links
    // around a long text is not one.
    let link_list = !matches!(
        el.kind,
        Kind::Paragraph | Kind::Headline | Kind::Heading | Kind::Article
    ) && el.chars > 0
        && density(el.link_chars, el.chars) >= MAX_LINK_DENSITY
        && own_good < LINK_LIST_MAX_PROSE;
    if link_list {
        return true;
    }
    if el.hint == Hint::Weak {
        // Mostly prose: the text's own box under a furniture-ish name.
        return (own_good as f32) < el.chars as f32 * 0.5;
    }
    if !matches!(el.kind, Kind::Furniture | Kind::Figure) && el.hint != Hint::Furniture {
        return false;
    }
    let Some(root) = root else { return true };
    // A furniture-marked box that holds most of the prose is the article's own wrapper
    // (an `<aside>` used as the text column).
    let r = &flat.els[root as usize];
    let root_prose = prose(r.link_chars, r.chars) as f32;
    let own = prose(el.link_chars, el.chars);
    // A furniture element (`nav`, `figure`) needs a real text's length on top of the share.
    let min_own = if matches!(el.kind, Kind::Furniture | Kind::Figure) {
        MIN_MAIN_CHARS
    } else {
        MIN_PROSE_CHARS
    };
    (own as f32) < root_prose * PROTECTED_SHARE || own < min_own
}

/// Every block of the page that survives the cuts.
fn whole_body(flat: &Flat, mass: &Mass) -> Vec<usize> {
    if flat.els.is_empty() {
        return Vec::new();
    }
    select(flat, mass, &[0])
}
