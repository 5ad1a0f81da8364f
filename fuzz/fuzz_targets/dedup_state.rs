//! Records of the deduplicator's compacted state topic, as another instance (or a hostile
//! producer) may have written them: restored or refused, and the stage keeps working.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsflow_core::DedupStage;
use newsflow_core::NormalizeStage;
use newsflow_core::event::NormalizedArticle;
use newsflow_core::event::{ContentType, Event};
use newsflow_core::stage::{Stage, StageContext};
use std::sync::LazyLock;

/// One article, normalized once: the normalizer's rules take a while to build.
static ARTICLE: LazyLock<Option<NormalizedArticle>> = LazyLock::new(|| {
    let ctx = StageContext::at(chrono::DateTime::UNIX_EPOCH);
    let article = newsflow_fuzz::raw(
        ContentType::TextPlain,
        "A headline\n\nA body paragraph long enough to be an article body for the test.".into(),
    );
    NormalizeStage::default().normalize(article, &ctx).ok()
});

fuzz_target!(|records: Vec<(String, Option<Vec<u8>>)>| {
    let mut stage = DedupStage::default();
    for (key, value) in &records {
        let _ = stage.restore_state(key, value.as_deref());
    }
    stage.state_restored();
    let ctx = StageContext::at(chrono::DateTime::UNIX_EPOCH);
    if let Some(normalized) = ARTICLE.as_ref() {
        let _ = stage.process(Event::Normalized(normalized.clone()), &ctx);
        let _ = stage.take_state_changes();
    }
});
