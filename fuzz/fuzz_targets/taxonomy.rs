//! Any text as an editor's taxonomy file: a list of errors or a taxonomy that tags.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsflow_core::event::ContentType;
use newsflow_core::event::NormalizedArticle;
use newsflow_core::stage::StageContext;
use newsflow_core::{NormalizeStage, TagStage, Taxonomy};
use std::sync::{Arc, LazyLock};

/// One article to tag, normalized once.
static ARTICLE: LazyLock<Option<NormalizedArticle>> = LazyLock::new(|| {
    let article = newsflow_fuzz::raw(
        ContentType::TextPlain,
        "Kyiv, May 6 (Fuzz) - Talks on grain exports resumed on Monday.\n\n\
         Officials from both sides met in Istanbul to discuss shipping."
            .into(),
    );
    let ctx = StageContext::at(chrono::DateTime::UNIX_EPOCH);
    NormalizeStage::default().normalize(article, &ctx).ok()
});

fuzz_target!(|yaml: &str| {
    let Ok(taxonomy) = Taxonomy::from_yaml(yaml) else {
        return;
    };
    if let Some(article) = ARTICLE.as_ref() {
        let _ = TagStage::new(Arc::new(taxonomy)).tag(article);
    }
});
