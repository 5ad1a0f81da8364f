//! The page flattened for scoring: one pass over the parsed tree gives every element that can
//! hold text (with its parent, its kind and its class/id hint) and every run of text between
//! block boundaries (with the element that holds it and how much of it is link text).
//!
//! The tree comes from html5ever (through `scraper`), the HTML5 tree builder browsers follow:
//! an unclosed `<head>`, `<header>` or `<div>` is closed where a browser would close it, so it
//! cannot swallow the rest of the page, as a tag-counting scanner lets it.

use ego_tree::iter::Edge;
use scraper::{ElementRef, Html, Node, Selector};

use super::hints::{Hint, hint_and_words};

/// What an element is, as far as the extractor cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `<article>`, `<main>`, `[itemprop=articleBody]`, `[role=main]`.
    Article,
    /// A paragraph-like block: `p`, `pre`, `blockquote`, `td`, `dd`, `li`…
    Paragraph,
    /// `h1`.
    Headline,
    /// `h2`–`h6`.
    Heading,
    /// `ul`, `ol`, `dl`, `table`: collections whose items may be links.
    List,
    /// `nav`, `footer`, `aside` and ARIA's navigation, banner, contentinfo and complementary
    /// roles: page furniture wherever it stands.
    Furniture,
    /// `header`, `form`, `details`: sometimes furniture, sometimes the content's own wrapper;
    /// judged by what they hold.
    Wrapper,
    /// `figure`, `figcaption`: pictures and their captions and credits, furniture unless a
    /// site wraps its text in one.
    Figure,
    /// Any other block (`div`, `section`, …).
    Block,
    /// An inline element (`span`, `a`, `em`, …): not a block boundary.
    Inline,
}

/// One element of the body.
#[derive(Debug, Clone)]
pub(crate) struct El {
    pub(crate) parent: Option<u32>,
    pub(crate) kind: Kind,
    pub(crate) hint: Hint,
    /// Which of the hints' word groups its `class` and `id` name (a bit per group).
    pub(crate) words: u16,
    /// Characters of text inside (all descendants).
    pub(crate) chars: u32,
    /// Of which inside links.
    pub(crate) link_chars: u32,
}

/// A run of text between block boundaries.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub(crate) text: String,
    /// The innermost block-level element around the text.
    pub(crate) owner: u32,
    pub(crate) chars: u32,
    pub(crate) link_chars: u32,
}

/// The flattened page: elements in document order (a parent before its children) and blocks.
#[derive(Debug, Default)]
pub(crate) struct Flat {
    pub(crate) els: Vec<El>,
    pub(crate) blocks: Vec<Block>,
}

/// Elements whose content is never text of the page.
fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "head"
            | "title"
            | "script"
            | "style"
            | "noscript"
            | "template"
            | "svg"
            | "math"
            | "iframe"
            | "object"
            | "embed"
            | "canvas"
            | "video"
            | "audio"
            | "map"
            | "select"
            | "option"
            | "button"
            | "textarea"
            | "input"
            | "datalist"
            | "dialog"
    )
}

fn kind_of(el: &scraper::node::Element) -> Kind {
    match el.name() {
        "article" | "main" => Kind::Article,
        "p" | "pre" | "blockquote" | "td" | "th" | "dd" | "dt" | "li" | "address" | "summary"
        | "caption" => Kind::Paragraph,
        "h1" => Kind::Headline,
        "h2" | "h3" | "h4" | "h5" | "h6" => Kind::Heading,
        "ul" | "ol" | "dl" | "table" | "menu" => Kind::List,
        "nav" | "footer" | "aside" => Kind::Furniture,
        "header" | "form" | "fieldset" | "details" => Kind::Wrapper,
        "figure" | "figcaption" => Kind::Figure,
        "div" | "section" | "center" | "tr" | "tbody" | "thead" | "tfoot" | "hr" | "br"
        | "body" | "html" | "hgroup" | "legend" | "picture" | "font" => match role_or_prop(el) {
            Some(kind) => kind,
            None if el.name() == "font" => Kind::Inline,
            None => Kind::Block,
        },
        _ => role_or_prop(el).unwrap_or(Kind::Inline),
    }
}

/// ARIA roles and microdata that say what a generic element is.
fn role_or_prop(el: &scraper::node::Element) -> Option<Kind> {
    if el
        .attr("itemprop")
        .is_some_and(|p| p.split_whitespace().any(|p| p == "articleBody"))
    {
        return Some(Kind::Article);
    }
    match el.attr("role")? {
        "main" | "article" => Some(Kind::Article),
        "navigation" | "banner" | "contentinfo" | "complementary" | "menu" | "menubar"
        | "search" => Some(Kind::Furniture),
        _ => None,
    }
}

/// Hidden by the page itself: never shown to a reader.
fn is_hidden(el: &scraper::node::Element) -> bool {
    if el.attr("hidden").is_some() || el.attr("aria-hidden") == Some("true") {
        return true;
    }
    el.attr("style").is_some_and(|style| {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        style.contains("display:none") || style.contains("visibility:hidden")
    })
}

struct Builder<'a> {
    flat: Flat,
    /// Open elements of the body, innermost last: (index, is block-level).
    stack: Vec<(u32, bool)>,
    current: String,
    current_link_chars: u32,
    link_depth: usize,
    skip_depth: usize,
    extra_skip: &'a [Selector],
}

impl Builder<'_> {
    fn owner(&self) -> Option<u32> {
        self.stack
            .iter()
            .rev()
            .find(|(_, block)| *block)
            .map(|(i, _)| *i)
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.current);
        let link_chars = std::mem::take(&mut self.current_link_chars);
        let Some(owner) = self.owner().filter(|_| !text.trim().is_empty()) else {
            return;
        };
        let chars =
            u32::try_from(text.chars().filter(|c| !c.is_whitespace()).count()).unwrap_or(u32::MAX);
        let link_chars = link_chars.min(chars);
        self.flat.blocks.push(Block {
            text,
            owner,
            chars,
            link_chars,
        });
    }
}

/// Flattens the body of a parsed page. `extra_skip` are the configured furniture selectors.
pub(crate) fn flatten(html: &Html, extra_skip: &[Selector]) -> Flat {
    let mut b = Builder {
        flat: Flat::default(),
        stack: Vec::new(),
        current: String::new(),
        current_link_chars: 0,
        link_depth: 0,
        skip_depth: 0,
        extra_skip,
    };
    // Which edges opened a skipped subtree, an element of ours, or a link.
    let mut opened: Vec<Opened> = Vec::new();
    for edge in html.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(el) => {
                    let skip = b.skip_depth > 0
                        || is_skipped(el.name())
                        || is_hidden(el)
                        || (!b.extra_skip.is_empty()
                            && ElementRef::wrap(node)
                                .is_some_and(|r| b.extra_skip.iter().any(|s| s.matches(&r))));
                    if skip {
                        b.skip_depth += 1;
                        opened.push(Opened::Skip);
                        continue;
                    }
                    let kind = kind_of(el);
                    let is_block = kind != Kind::Inline;
                    if is_block {
                        b.flush();
                    }
                    let index = u32::try_from(b.flat.els.len()).unwrap_or(u32::MAX);
                    // Classes on <html> and <body> describe the page (`cookies-not-set`,
                    // `single-post`), never a box in it.
                    let (hint, words) = if matches!(el.name(), "html" | "body") {
                        (Hint::None, 0)
                    } else {
                        hint_and_words(el)
                    };
                    b.flat.els.push(El {
                        parent: b.stack.last().map(|(i, _)| *i),
                        kind,
                        hint,
                        words,
                        chars: 0,
                        link_chars: 0,
                    });
                    b.stack.push((index, is_block));
                    let is_link = el.name() == "a";
                    if is_link {
                        b.link_depth += 1;
                    }
                    opened.push(Opened::El { is_block, is_link });
                }
                Node::Text(text) if b.skip_depth == 0 => {
                    if b.link_depth > 0 {
                        let n = text.chars().filter(|c| !c.is_whitespace()).count();
                        b.current_link_chars = b
                            .current_link_chars
                            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
                    }
                    b.current.push_str(text);
                }
                _ => {}
            },
            Edge::Close(node) => {
                if !node.value().is_element() {
                    continue;
                }
                match opened.pop() {
                    Some(Opened::Skip) => b.skip_depth = b.skip_depth.saturating_sub(1),
                    Some(Opened::El { is_block, is_link }) => {
                        if is_block {
                            b.flush();
                        }
                        if is_link {
                            b.link_depth = b.link_depth.saturating_sub(1);
                        }
                        b.stack.pop();
                    }
                    None => {}
                }
            }
        }
    }
    b.flush();
    let mut flat = b.flat;
    for block in &flat.blocks {
        if let Some(el) = flat.els.get_mut(block.owner as usize) {
            el.chars = el.chars.saturating_add(block.chars);
            el.link_chars = el.link_chars.saturating_add(block.link_chars);
        }
    }
    // Children come after their parents: one backward pass sums every subtree.
    for i in (0..flat.els.len()).rev() {
        let (parent, chars, link_chars) = {
            let el = &flat.els[i];
            (el.parent, el.chars, el.link_chars)
        };
        if let Some(p) = parent.and_then(|p| flat.els.get_mut(p as usize)) {
            p.chars = p.chars.saturating_add(chars);
            p.link_chars = p.link_chars.saturating_add(link_chars);
        }
    }
    flat
}

enum Opened {
    Skip,
    El { is_block: bool, is_link: bool },
}
