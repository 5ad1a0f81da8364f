//! Every evidence item shows text the article really holds: the whole of `bbc-2005/` and
//! `ukraine-war/` (≈ 2,700 articles) through the tag stage with the default taxonomy, and each
//! evidence item's `matched` forms looked up in the field its `where` names.
//!
//! Articles are built as the tagger's other tests build them (`tag_common`), with the first body
//! paragraph as the lede so that all three fields are exercised. Prints how many evidence items
//! there were and on how many the canonical `term` itself is nowhere in its field (which is why
//! `matched` exists).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod tag_common;

use chrono::{DateTime, Utc};
use newsflow_core::TagStage;
use newsflow_core::event::{
    DedupInfo, DedupStatus, DeduplicatedArticle, Event, Field, NormalizedArticle,
};
use newsflow_core::stage::{Stage, StageContext};

fn field_texts(article: &NormalizedArticle, field: Field) -> Vec<&str> {
    match field {
        Field::Title => article.title.as_deref().into_iter().collect(),
        Field::Lede => article.lede.as_deref().into_iter().collect(),
        Field::Body => article.body.iter().map(String::as_str).collect(),
    }
}

#[test]
fn every_matched_form_is_in_the_field_of_the_article_it_names() {
    let corpus = newsflow_testkit::corpus_dir();
    let files: Vec<String> = tag_common::english_corpus_files(&corpus)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert!(
        files.len() > 2_600,
        "bbc-2005 and ukraine-war: {}",
        files.len()
    );
    let mut stage = TagStage::default();
    let ctx = StageContext::at(DateTime::<Utc>::UNIX_EPOCH);
    let (mut tagged, mut items, mut term_absent, mut forms) = (0, 0, 0, 0);
    let mut failures: Vec<String> = Vec::new();
    for path in &files {
        let article = tag_common::with_lede(tag_common::corpus_article(&corpus, path));
        let input = Event::Deduplicated(DeduplicatedArticle {
            article: article.clone(),
            dedup: DedupInfo {
                status: DedupStatus::Unique,
                fingerprint: "test".to_owned(),
            },
        });
        let emits = stage.process(input, &ctx).unwrap();
        let Event::Enriched(enriched) = &emits[0].event else {
            panic!("{path}: not an enriched article");
        };
        tagged += usize::from(!enriched.topics.is_empty());
        for topic in &enriched.topics {
            for evidence in &topic.evidence {
                items += 1;
                let texts = field_texts(&article, evidence.location);
                let term = evidence.term.to_lowercase();
                if !texts.iter().any(|t| t.to_lowercase().contains(&term)) {
                    term_absent += 1;
                }
                if evidence.matched.is_empty() {
                    failures.push(format!(
                        "{path}: {}: {evidence:?} has no `matched`",
                        topic.id
                    ));
                }
                for form in &evidence.matched {
                    forms += 1;
                    if !texts.iter().any(|t| t.contains(form.as_str())) {
                        failures.push(format!(
                            "{path}: {}: {form:?} (term {:?}) is not in the {:?}",
                            topic.id, evidence.term, evidence.location
                        ));
                    }
                }
            }
        }
    }
    println!(
        "{} articles, {tagged} with topics; {items} evidence items, {forms} matched forms; the \
         canonical term is not in its field on {term_absent} items ({:.1} %)",
        files.len(),
        100.0 * f64::from(term_absent) / f64::from(items.max(1))
    );
    assert!(items > 1_000, "the corpus gives evidence: {items} items");
    assert!(
        failures.is_empty(),
        "{} evidence items show text the article does not hold:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
