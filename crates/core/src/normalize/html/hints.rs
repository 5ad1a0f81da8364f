//! What an element's `class` and `id` say about it, read as whole words.
//!
//! Names are split into words at every character that is not a letter or digit and at
//! lower-to-upper case changes (`entry-content`, `articleBody`, `post_text` → `entry content`,
//! `article body`, `post text`); a hint is a whole word, never a substring, so
//! `wp-featherlight-captions` is not a caption and `cookies-not-set` on `<body>` says nothing
//! about the article inside. The words are those readability and trafilatura weigh, in the
//! CMS vocabularies (WordPress, Drupal, Joomla, schema.org) that most sites share.

/// The sign of an element's class/id words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Hint {
    #[default]
    None,
    /// The main text's container (`article-body`, `entry-content`, `story`).
    Content,
    /// Furniture (`share`, `related`, `comments`, `newsletter`, `sidebar`).
    Furniture,
    /// Both: `entry-content no-share`. Content words win where it matters.
    Both,
    /// Words that are furniture on most sites but the text's own box on some (`share`,
    /// `tags`, `widget`): furniture unless the box is mostly prose.
    Weak,
}

/// Words that mark the article's own text.
const CONTENT: &[&str] = &[
    "article",
    "articlebody",
    "articletext",
    "articlecontent",
    "body",
    "content",
    "entry",
    "hentry",
    "main",
    "post",
    "story",
    "storybody",
    "storycontent",
    "blog",
    "blogpost",
    "postbody",
    "postcontent",
    "posttext",
    "entrycontent",
    "richtext",
    "prose",
    "paragraph",
];

/// Words that mark furniture whatever else the names say (`comment-body`, `widget_text`).
const FURNITURE: &[&str] = &[
    "ad",
    "ads",
    "adv",
    "advert",
    "advertisement",
    "advertising",
    "anzeige",
    "banner",
    "breadcrumb",
    "breadcrumbs",
    "comment",
    "comments",
    "commentlist",
    "community",
    "consent",
    "cookie",
    "cookies",
    "copyright",
    "disqus",
    "footer",
    "gdpr",
    "login",
    "masthead",
    "menu",
    "modal",
    "navbar",
    "navigation",
    "nav",
    "newsletter",
    "outbrain",
    "pagination",
    "pager",
    "paywall",
    "popular",
    "popup",
    "promo",
    "recommend",
    "recommendations",
    "recommended",
    "related",
    "reply",
    "respond",
    "shoutbox",
    "sidebar",
    "signup",
    "sponsor",
    "sponsored",
    "subscribe",
    "subscription",
    "taboola",
    "teaser",
    "teasers",
    "topbar",
    "trending",
];

/// Words that mark furniture unless a content word stands beside them
/// (`entry-content no-share`).
const WEAK_FURNITURE: &[&str] = &[
    "byline", "caption", "contact", "dropdown", "footnote", "hidden", "infobox", "keywords",
    "meta", "more", "print", "rating", "share", "sharing", "sharebar", "skip", "social",
    "tagcloud", "tags", "toolbar", "tools", "widget", "widgets",
];

/// Groups of class/id words the main-text model sees one by one (a bit each in
/// [`hint_and_words`]'s mask): what a box says it is, finer than its [`Hint`].
pub(crate) const WORD_GROUPS: &[&[&str]] = &[
    &[
        "comment",
        "comments",
        "commentlist",
        "reply",
        "respond",
        "disqus",
        "discussion",
    ],
    &[
        "related",
        "recommend",
        "recommended",
        "recommendations",
        "popular",
        "trending",
        "teaser",
        "teasers",
        "outbrain",
        "taboola",
        "more",
        "read",
        "next",
        "prev",
        "previous",
    ],
    &[
        "share", "sharing", "sharebar", "social", "print", "tools", "toolbar", "follow",
    ],
    &[
        "byline",
        "meta",
        "author",
        "date",
        "time",
        "info",
        "details",
        "published",
        "dateline",
    ],
    &[
        "caption", "credit", "credits", "figure", "image", "img", "photo", "media", "gallery", "wp",
    ],
    &[
        "newsletter",
        "subscribe",
        "subscription",
        "signup",
        "paywall",
        "promo",
        "sponsor",
        "sponsored",
        "ad",
        "ads",
        "advert",
        "advertisement",
        "anzeige",
        "banner",
    ],
    &[
        "nav",
        "navbar",
        "navigation",
        "menu",
        "breadcrumb",
        "breadcrumbs",
        "pagination",
        "pager",
        "footer",
        "header",
        "masthead",
        "topbar",
    ],
    &[
        "tags",
        "tag",
        "tagcloud",
        "keywords",
        "category",
        "categories",
        "topics",
    ],
    &[
        "sidebar", "widget", "widgets", "aside", "box", "card", "list", "item", "grid", "col",
        "column",
    ],
    &[
        "article",
        "articlebody",
        "articletext",
        "body",
        "content",
        "entry",
        "main",
        "post",
        "story",
        "text",
        "prose",
        "richtext",
        "single",
    ],
    &[
        "title",
        "headline",
        "heading",
        "lead",
        "lede",
        "intro",
        "summary",
        "excerpt",
        "teaser",
        "description",
        "subtitle",
    ],
    &[
        "bio",
        "about",
        "profile",
        "contact",
        "copyright",
        "legal",
        "disclaimer",
        "note",
        "footnote",
    ],
];

/// Each word of [`WORD_GROUPS`] with the bits of the groups it is in.
static GROUP_BITS: std::sync::LazyLock<std::collections::HashMap<&'static str, u16>> =
    std::sync::LazyLock::new(|| {
        let mut bits = std::collections::HashMap::new();
        for (i, group) in WORD_GROUPS.iter().enumerate() {
            for &word in *group {
                *bits.entry(word).or_insert(0) |= 1 << i;
            }
        }
        bits
    });

/// The hint of an element and which of [`WORD_GROUPS`] its `class` and `id` name (bit `i`
/// for group `i`).
pub(crate) fn hint_and_words(el: &scraper::node::Element) -> (Hint, u16) {
    let mut content = false;
    let mut furniture = false;
    let mut weak = false;
    let mut groups = 0_u16;
    let classes = el
        .attr("class")
        .into_iter()
        .flat_map(str::split_whitespace)
        .filter(|class| !is_taxonomy_class(class));
    for name in classes.chain(el.attr("id")) {
        for_words(name, |word| {
            groups |= GROUP_BITS.get(word).copied().unwrap_or(0);
            if CONTENT.contains(&word) {
                content = true;
            } else if FURNITURE.contains(&word) {
                furniture = true;
            } else if WEAK_FURNITURE.contains(&word) {
                weak = true;
            }
        });
    }
    let hint = match (content, furniture, weak) {
        (_, true, _) => Hint::Furniture,
        (false, false, true) => Hint::Weak,
        (true, false, true) => Hint::Both,
        (true, false, false) => Hint::Content,
        (false, false, false) => Hint::None,
    };
    (hint, groups)
}

/// Classes that CMSs derive from the article's categories and tags (WordPress's
/// `category-no-newsletter`, `tag-social-media`, Drupal's `taxonomy-term-…`): they name
/// what the article is about, not what the box is.
fn is_taxonomy_class(class: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "category-",
        "tag-",
        "tags-",
        "status-",
        "format-",
        "type-",
        "term-",
        "taxonomy-",
    ];
    let lower = class.to_ascii_lowercase();
    let numbered = |prefix: &str| {
        lower
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    };
    PREFIXES.iter().any(|p| lower.starts_with(p)) || numbered("post-") || numbered("postid-")
}

/// Calls `f` with each word of a class or id list, lowercased.
fn for_words(names: &str, mut f: impl FnMut(&str)) {
    let mut word = String::with_capacity(24);
    let mut prev_lower = false;
    for c in names.chars() {
        if c.is_alphanumeric() {
            if c.is_uppercase() && prev_lower && !word.is_empty() {
                f(&word);
                word.clear();
            }
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                f(&word);
                word.clear();
            }
            prev_lower = false;
        }
    }
    if !word.is_empty() {
        f(&word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(names: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_words(names, |w| out.push(w.to_owned()));
        out
    }

    #[test]
    fn names_split_into_whole_words() {
        assert_eq!(
            words("entry-content no-share"),
            ["entry", "content", "no", "share"]
        );
        assert_eq!(
            words("articleBody post_text"),
            ["article", "body", "post", "text"]
        );
        assert_eq!(
            words("wp-featherlight-captions"),
            ["wp", "featherlight", "captions"]
        );
    }

    fn hint(html: &str) -> Hint {
        let doc = scraper::Html::parse_fragment(html);
        let el = doc
            .root_element()
            .first_child()
            .and_then(|n| n.value().as_element().map(|el| hint_and_words(el).0));
        el.unwrap_or_default()
    }

    #[test]
    fn hints_are_whole_words_and_content_words_win_together() {
        assert_eq!(
            hint(r#"<div class="wp-featherlight-captions">x</div>"#),
            Hint::None
        );
        assert_eq!(hint(r#"<div class="share-tools">x</div>"#), Hint::Weak);
        assert_eq!(
            hint(r#"<div class="entry-content no-share">x</div>"#),
            Hint::Both
        );
        assert_eq!(hint(r#"<div id="articleBody">x</div>"#), Hint::Content);
        assert_eq!(
            hint(r#"<div class="js-dynamic-advertorial">x</div>"#),
            Hint::None
        );
    }
}
