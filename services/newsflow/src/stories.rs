//! `newsflow stories explain A B`: why two articles are, or are not, one story.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use newsflow_core::decode::DEFAULT_MAX_CONTENT_BYTES;
use newsflow_core::event::{DuplicateKind, EnrichedArticle};
use newsflow_core::story::{Explanation, StoryConfig, explain};
use newsflow_core::tag::Taxonomy;
use newsflow_core::{Chain, Event, StageContext};

use crate::cli::StoriesExplainArgs;
use crate::input::{Input, ReadOptions, ReadStats, read_inputs};
use crate::pipeline::{default_chain, load_taxonomy, story_config};

/// Reads one article by `newsflow run`'s INPUT rules and takes it through the pipeline's
/// first three stages (a fresh chain, so it is never a duplicate of the other article).
pub fn enriched_article(
    input: &str,
    taxonomy: &Arc<Taxonomy>,
    ctx: &StageContext,
) -> anyhow::Result<EnrichedArticle> {
    let mut chain = default_chain(DEFAULT_MAX_CONTENT_BYTES, Arc::clone(taxonomy))?;
    only_article(input, through(input, &mut chain, ctx)?)
}

/// The one enriched article among `input`'s events.
fn only_article(input: &str, events: Vec<Event>) -> anyhow::Result<EnrichedArticle> {
    let mut articles: Vec<EnrichedArticle> = events
        .into_iter()
        .filter_map(|event| match event {
            Event::Enriched(article) => Some(article),
            _ => None,
        })
        .collect();
    match articles.len() {
        1 => articles.pop().context("one article"),
        0 => anyhow::bail!("{input}: no article read (is the extension one `newsflow run` reads?)"),
        n => anyhow::bail!("{input}: holds {n} articles; give one article per argument"),
    }
}

/// Reads `input` by `newsflow run`'s INPUT rules and takes every raw event through `chain`:
/// the events it emits, in order.
fn through(input: &str, chain: &mut Chain, ctx: &StageContext) -> anyhow::Result<Vec<Event>> {
    let mut stats = ReadStats::default();
    let mut events = Vec::new();
    read_inputs(
        &[Input::parse(input)],
        &ReadOptions::default(),
        &mut stats,
        |record| {
            let raw = record
                .outcome
                .map_err(|rejected| anyhow::anyhow!("{input}: rejected: {}", rejected.rejection))?;
            let emits = chain
                .process(Event::Raw(raw), ctx)
                .map_err(|err| anyhow::anyhow!("{input}: rejected: {err}"))?;
            events.extend(emits.into_iter().map(|emit| emit.event));
            anyhow::Ok(())
        },
    )?;
    if let Some(failure) = stats.failures.first() {
        anyhow::bail!("cannot read {failure}");
    }
    Ok(events)
}

/// The explanation for the two inputs of `args`: B scored against the story A opens, and, as
/// `newsflow run A B` reads them (A, then B, through one chain), whether the deduplicator holds
/// B as a copy of A, which puts B in A's story whatever the similarity.
pub fn explain_pair(args: &StoriesExplainArgs) -> anyhow::Result<Explanation> {
    let config = story_config(args.story_config.path.as_deref())?;
    let taxonomy = Arc::new(match &args.taxonomy {
        Some(path) => load_taxonomy(path)?,
        None => Taxonomy::default(),
    });
    let ctx = StageContext::at(Utc::now());
    // A, then B, through one chain, as the run reads them. B's article is the one that chain
    // makes unless the deduplicator holds B as a copy of A; then it is a fresh chain's.
    let mut run = default_chain(DEFAULT_MAX_CONTENT_BYTES, Arc::clone(&taxonomy))?;
    let a = only_article(&args.a, through(&args.a, &mut run, &ctx)?)?;
    let b_in_run = through(&args.b, &mut run, &ctx)?;
    let copy = b_in_run.iter().find_map(|event| match event {
        Event::DuplicateNotice(notice) if notice.duplicate_of == a.article.id => {
            Some(notice.clone())
        }
        _ => None,
    });
    Ok(match copy {
        Some(notice) => {
            let b = enriched_article(&args.b, &taxonomy, &ctx)?;
            explain_articles(&config, &a, &b, &ctx)?.with_copy(&notice)
        }
        None => explain_articles(&config, &a, &only_article(&args.b, b_in_run)?, &ctx)?,
    })
}

/// The explanation for two enriched articles.
pub fn explain_articles(
    config: &StoryConfig,
    a: &EnrichedArticle,
    b: &EnrichedArticle,
    ctx: &StageContext,
) -> anyhow::Result<Explanation> {
    explain(config, a, b, ctx).context("story settings")
}

/// The report for people.
pub fn render(why: &Explanation) -> String {
    let mut out = String::new();
    let verdict = if why.same_story {
        "same story"
    } else {
        "different stories"
    };
    let _ = writeln!(
        out,
        "similarity {:.3} (threshold {:.3}): {verdict}",
        why.similarity, why.threshold
    );
    if let Some(copy) = &why.copy_of {
        let kind = match copy.kind {
            DuplicateKind::Exact => "an exact",
            DuplicateKind::Near => "a near",
        };
        let _ = writeln!(
            out,
            "B is {kind} copy of A (deduplicator, similarity {:.3}): the run counts it in A's story as one more outlet carrying it, whatever the similarity below",
            copy.similarity
        );
    }
    let p = &why.parts;
    let _ = writeln!(
        out,
        "text cosine {:.3} (title, lede and body terms, TF-IDF)",
        why.text
    );
    let terms: Vec<String> = why
        .shared_terms
        .iter()
        .map(|t| format!("{} {:.3}", t.term, t.weight))
        .collect();
    let _ = writeln!(
        out,
        "  shared terms: {}",
        if terms.is_empty() {
            "none".to_owned()
        } else {
            terms.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "title and lede cosine {:.3}, cross {:.3}, names {:.3}, figures {:.3} (the model weighs each part's root)",
        p.head, p.cross, p.names, p.numbers
    );
    if p.standing_words > 0 {
        let _ = writeln!(
            out,
            "standing text: {} body words in runs B shares word for word with A (a site's boilerplate) are left out",
            p.standing_words
        );
    }
    render_shared(why, &mut out);
    out
}

/// The shared entities, places and topics, and the time gap.
fn render_shared(why: &Explanation, out: &mut String) {
    for (what, shared, overlap, weight) in [
        (
            "entities",
            &why.shared_entities,
            why.entity_overlap,
            why.entity_weight,
        ),
        (
            "places",
            &why.shared_places,
            why.place_overlap,
            why.place_weight,
        ),
        (
            "topics",
            &why.shared_topics,
            why.topic_overlap,
            why.topic_weight,
        ),
    ] {
        let listed = if shared.is_empty() {
            "none".to_owned()
        } else {
            shared.join(", ")
        };
        let _ = writeln!(
            out,
            "shared {what}: {listed} (overlap {overlap:.2}, root x weight {weight:.2} = +{:.3})",
            overlap.sqrt() * weight
        );
    }
    match why.time_gap_seconds {
        Some(gap) => {
            let _ = writeln!(
                out,
                "time gap: {} (factor {:.3})",
                humanize(gap),
                why.time_factor
            );
        }
        None => {
            let _ = writeln!(
                out,
                "time gap: unknown (an article states no time; no time term)"
            );
        }
    }
}

fn humanize(seconds: i64) -> String {
    let (days, hours, minutes) = (
        seconds / 86_400,
        (seconds % 86_400) / 3600,
        (seconds % 3600) / 60,
    );
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}
