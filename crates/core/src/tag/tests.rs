//! One or more tests per rule feature, each with a small taxonomy written inline and
//! hand-written articles; the last ones use the default gazetteer. They assert on what users
//! see: the topic ids an article gets, their scores and evidence, and its entities.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{TagStage, Tags, Taxonomy, explain};
use crate::event::{Entity, EntityType, Evidence, Field, NormalizedArticle, TopicTag};

fn taxonomy(yaml: &str) -> Arc<Taxonomy> {
    match Taxonomy::from_yaml(yaml) {
        Ok(taxonomy) => Arc::new(taxonomy),
        Err(errors) => panic!("invalid test taxonomy: {errors:?}"),
    }
}

/// An English article.
pub(super) fn article(title: Option<&str>, lede: Option<&str>, body: &[&str]) -> NormalizedArticle {
    NormalizedArticle {
        id: "test".to_owned(),
        revision: 1,
        source: "test".to_owned(),
        url: None,
        title: title.map(str::to_owned),
        section: None,
        authors: Vec::new(),
        published_at: None,
        published_at_raw: None,
        dateline: None,
        lede: lede.map(str::to_owned),
        body: body.iter().map(|p| (*p).to_owned()).collect(),
        related: Vec::new(),
        language: Some("en".to_owned()),
        word_count: 0,
        content_hash: "0".repeat(64),
        fetched_at: None,
        ingested_at: DateTime::<Utc>::UNIX_EPOCH,
        normalized_at: DateTime::<Utc>::UNIX_EPOCH,
    }
}

fn body(paragraphs: &[&str]) -> NormalizedArticle {
    article(None, None, paragraphs)
}

fn tag(taxonomy: &Arc<Taxonomy>, article: &NormalizedArticle) -> Tags {
    TagStage::new(taxonomy.clone()).tag(article)
}

fn ids(tags: &Tags) -> Vec<&str> {
    tags.topics.iter().map(|t| t.id.as_str()).collect()
}

fn topic<'t>(tags: &'t Tags, id: &str) -> &'t TopicTag {
    tags.topics
        .iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("no topic `{id}` in {:?}", ids(tags)))
}

fn evidence(term: &str, count: u32, location: Field, matched: &[&str]) -> Evidence {
    Evidence {
        term: term.to_owned(),
        count,
        location,
        matched: matched.iter().map(|m| (*m).to_owned()).collect(),
    }
}

fn entity<'t>(tags: &'t Tags, name: &str) -> &'t Entity {
    tags.entities
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entity `{name}` in {:?}", tags.entities))
}

// ---------------------------------------------------------------------------------------------
// Terms and weights.

const WEIGHTS: &str = "
entities: []
topics:
  - id: harbour
    label: Harbour
    threshold: 3
    terms:
      - {term: harbour, weight: 4}
      - {term: boat, weight: 1}
  - id: harbour-heavy
    label: Harbour, weighed more
    threshold: 3
    terms:
      - {term: harbour, weight: 8}
";

#[test]
fn a_term_weighing_less_than_the_threshold_does_not_tag_and_a_heavier_one_does() {
    let taxonomy = taxonomy(WEIGHTS);
    assert!(
        tag(&taxonomy, &body(&["The boat left at dawn."]))
            .topics
            .is_empty()
    );

    let tags = tag(&taxonomy, &body(&["The harbour was calm."]));
    assert_eq!(ids(&tags), ["harbour", "harbour-heavy"]);
    // score = raw / (raw + threshold): 4 / 7 and 8 / 11.
    assert_eq!(topic(&tags, "harbour").score, 0.571);
    assert_eq!(topic(&tags, "harbour-heavy").score, 0.727);
    assert_eq!(
        topic(&tags, "harbour").evidence,
        [evidence("harbour", 1, Field::Body, &["harbour"])]
    );
}

#[test]
fn more_evidence_scores_higher_and_the_weightier_term_comes_first() {
    let taxonomy = taxonomy(WEIGHTS);
    let one = tag(&taxonomy, &body(&["The harbour was calm."]));
    let both = tag(&taxonomy, &body(&["A boat came into the harbour."]));
    let repeated = tag(
        &taxonomy,
        &body(&["The harbour was calm.", "Later the harbour filled up."]),
    );
    let (one, both, repeated) = (
        topic(&one, "harbour").score,
        topic(&both, "harbour").score,
        topic(&repeated, "harbour").score,
    );
    assert!(both > one, "{both} > {one}");
    // Repetition counts, with diminishing returns: 4·log2(3) = 6.34, less than twice 4.
    assert!(repeated > one && repeated < 8.0 / 11.0, "{repeated}");
    let tags = tag(&taxonomy, &body(&["A boat came into the harbour."]));
    assert_eq!(
        topic(&tags, "harbour").evidence,
        [
            evidence("harbour", 1, Field::Body, &["harbour"]),
            evidence("boat", 1, Field::Body, &["boat"])
        ]
    );
}

#[test]
fn a_negative_weight_pulls_a_topic_below_its_threshold() {
    let taxonomy = taxonomy(
        "
entities: []
topics:
  - id: ukraine
    label: Ukraine
    threshold: 3
    terms:
      - {term: Ukraine, weight: 4}
      - {term: Orange Revolution, weight: -3}
",
    );
    let plain = body(&["Ukraine held a vote."]);
    assert_eq!(ids(&tag(&taxonomy, &plain)), ["ukraine"]);
    let orange = body(&["Ukraine held a vote after the Orange Revolution."]);
    assert!(tag(&taxonomy, &orange).topics.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Co-occurrence groups.

fn ties(within: &str) -> Arc<Taxonomy> {
    taxonomy(&format!(
        "
entities: []
topics:
  - id: ties
    label: Ties
    threshold: 2
    groups:
      - name: relation
        within: {within}
        weight: 2
        all: [[China, Beijing], [Russia, Moscow], [talks, trade]]
"
    ))
}

#[test]
fn a_sentence_group_needs_every_list_in_one_sentence() {
    let taxonomy = ties("sentence");
    let tags = tag(
        &taxonomy,
        &body(&["Beijing and Moscow held talks on Monday."]),
    );
    assert_eq!(ids(&tags), ["ties"]);
    // One satisfying sentence: 2 · log2(2) = 2 = the threshold.
    assert_eq!(topic(&tags, "ties").score, 0.5);
    let mut terms: Vec<&str> = topic(&tags, "ties")
        .evidence
        .iter()
        .map(|e| e.term.as_str())
        .collect();
    terms.sort_unstable();
    assert_eq!(terms, ["Beijing", "Moscow", "talks"]);

    // The same words in two sentences of one paragraph.
    let split = body(&["Beijing spoke on Monday. Moscow held talks later."]);
    assert!(tag(&taxonomy, &split).topics.is_empty());
    // Two of the three lists in one sentence.
    let partial = body(&["Beijing and Moscow exchanged notes."]);
    assert!(tag(&taxonomy, &partial).topics.is_empty());
}

#[test]
fn a_paragraph_group_matches_across_sentences_but_not_across_paragraphs() {
    let taxonomy = ties("paragraph");
    let one_paragraph = body(&["Beijing spoke on Monday. Moscow held talks later."]);
    assert_eq!(ids(&tag(&taxonomy, &one_paragraph)), ["ties"]);
    let two_paragraphs = body(&["Beijing spoke on Monday.", "Moscow held talks later."]);
    assert!(tag(&taxonomy, &two_paragraphs).topics.is_empty());
}

#[test]
fn a_required_group_must_match_however_strong_the_terms() {
    let taxonomy = taxonomy(
        "
entities: []
topics:
  - id: ties
    label: Ties
    threshold: 3
    terms:
      - {term: Beijing, weight: 5}
    groups:
      - name: relation
        required: true
        weight: 1
        all: [[Beijing, China], [Moscow, Russia]]
",
    );
    let alone = body(&["Beijing grew. Beijing built. Beijing said Moscow would wait."]);
    assert_eq!(ids(&tag(&taxonomy, &alone)), ["ties"]);
    let without = body(&["Beijing grew.", "Beijing built.", "Moscow waited."]);
    assert!(tag(&taxonomy, &without).topics.is_empty());
    // `explain` names the list the closest sentence lacked.
    let explanation = explain(&taxonomy, &without);
    let group = &explanation.topics[0].groups[0];
    assert!(group.required && group.satisfied == 0);
    assert_eq!(
        group.missing,
        [vec!["Moscow".to_owned(), "Russia".to_owned()]]
    );
}

// ---------------------------------------------------------------------------------------------
// Exclusions.

#[test]
fn an_exclusion_vetoes_the_topic() {
    let taxonomy = taxonomy(
        "
entities: []
topics:
  - id: fruit
    label: Fruit
    threshold: 3
    terms:
      - {term: orange, weight: 5}
    exclude: [Orange Revolution]
",
    );
    let fruit = body(&["Orange prices rose. Orange juice is dearer."]);
    assert_eq!(ids(&tag(&taxonomy, &fruit)), ["fruit"]);
    let politics = body(&[
        "Orange prices rose.",
        "Orange juice is dearer.",
        "It recalled the Orange Revolution.",
    ]);
    assert!(tag(&taxonomy, &politics).topics.is_empty());
    let explanation = explain(&taxonomy, &politics);
    assert!(!explanation.topics[0].tagged);
    assert_eq!(
        explanation.topics[0].exclusions[0].term,
        "Orange Revolution"
    );
}

// ---------------------------------------------------------------------------------------------
// Title and lede boosts.

const BOOSTS: &str = "
entities: []
topics:
  - id: kyiv
    label: Kyiv
    threshold: 3
    terms:
      - {term: Kyiv, weight: 2.5}
  - id: kyiv-flat
    label: Kyiv, no boosts
    threshold: 3
    title_boost: 1
    lede_boost: 1
    terms:
      - {term: Kyiv, weight: 2.5}
";

#[test]
fn a_term_in_the_title_or_lede_passes_where_in_the_body_it_does_not() {
    let taxonomy = taxonomy(BOOSTS);
    // Body: 2.5 · log2(1 + 1) = 2.5, short of 3.
    let in_body = article(Some("News"), Some("A day."), &["Kyiv was quiet."]);
    assert!(tag(&taxonomy, &in_body).topics.is_empty());
    // Lede (×1.5): 2.5 · log2(2.5) = 3.30.
    let in_lede = article(Some("News"), Some("Kyiv was quiet."), &["A day."]);
    let lede_tags = tag(&taxonomy, &in_lede);
    assert_eq!(ids(&lede_tags), ["kyiv"]);
    assert_eq!(
        topic(&lede_tags, "kyiv").evidence,
        [evidence("Kyiv", 1, Field::Lede, &["Kyiv"])]
    );
    // Title (×2): 2.5 · log2(3) = 3.96.
    let in_title = article(Some("Kyiv is quiet"), Some("A day."), &["A day."]);
    let title_tags = tag(&taxonomy, &in_title);
    assert_eq!(ids(&title_tags), ["kyiv"]);
    assert_eq!(
        topic(&title_tags, "kyiv").evidence,
        [evidence("Kyiv", 1, Field::Title, &["Kyiv"])]
    );
    assert!(topic(&title_tags, "kyiv").score > topic(&lede_tags, "kyiv").score);
}

// ---------------------------------------------------------------------------------------------
// Aliases, folding and whole words.

#[test]
fn an_alias_counts_for_its_term_and_is_reported_under_the_term() {
    let taxonomy = taxonomy(
        "
entities: []
topics:
  - id: kyiv
    label: Kyiv
    threshold: 3
    terms:
      - {term: Kyiv, weight: 4, aliases: [Kiev, Kyjiw]}
",
    );
    let tags = tag(&taxonomy, &body(&["Kiev was quiet."]));
    assert_eq!(
        topic(&tags, "kyiv").evidence,
        [evidence("Kyiv", 1, Field::Body, &["Kiev"])]
    );
    let tags = tag(&taxonomy, &body(&["Kiev, now spelt Kyiv, or Kyjiw."]));
    assert_eq!(
        topic(&tags, "kyiv").evidence,
        [evidence("Kyiv", 3, Field::Body, &["Kiev", "Kyiv", "Kyjiw"])]
    );
    assert!(
        tag(&taxonomy, &body(&["Lviv was quiet."]))
            .topics
            .is_empty()
    );
}

const PLACES: &str = "
entities: []
topics:
  - id: war
    label: War
    threshold: 3
    terms:
      - {term: Kyiv, weight: 4}
      - {term: Zelenskyy, weight: 4}
      - {term: Łódź, weight: 4}
  - id: russia
    label: Russia
    threshold: 3
    terms:
      - {term: Russia, weight: 4}
      - {term: Ukraine, weight: 4}
";

#[test]
fn diacritics_are_ignored_in_articles_and_in_rules() {
    let taxonomy = taxonomy(PLACES);
    for text in ["Kyïv was quiet.", "Zelénskyy spoke.", "Lodz was quiet."] {
        assert_eq!(ids(&tag(&taxonomy, &body(&[text]))), ["war"], "{text}");
    }
    let tags = tag(&taxonomy, &body(&["KYÏV and Zelenskyy\u{301}."]));
    let mut terms: Vec<&str> = topic(&tags, "war")
        .evidence
        .iter()
        .map(|e| e.term.as_str())
        .collect();
    terms.sort_unstable();
    assert_eq!(terms, ["Kyiv", "Zelenskyy"]);
    // The evidence shows the article's own spelling.
    let matched: Vec<&str> = topic(&tags, "war")
        .evidence
        .iter()
        .flat_map(|e| e.matched.iter().map(String::as_str))
        .collect();
    assert_eq!(matched.len(), 2, "{matched:?}");
    assert!(
        matched.contains(&"KYÏV") && matched.contains(&"Zelenskyy"),
        "{matched:?}"
    );
}

#[test]
fn evidence_shows_the_text_that_matched_in_order_of_first_occurrence() {
    let taxonomy = taxonomy(
        "
entities: []
topics:
  - id: war
    label: War
    threshold: 3
    terms:
      - {term: war in Ukraine, weight: 4, aliases: [Ukraine war]}
",
    );
    let text = "The WAR \u{2013} in\nUkraine goes on. The Ukraine-war, the war in Ukraine, \
                the Ukraine war and the UKRAINE WAR.";
    let tags = tag(&taxonomy, &body(&[text]));
    let evidence = &topic(&tags, "war").evidence;
    assert_eq!(evidence.len(), 1);
    // Five matches, three forms kept: as written, first occurrence first.
    assert_eq!(evidence[0].count, 5);
    assert_eq!(
        evidence[0].matched,
        ["WAR \u{2013} in\nUkraine", "Ukraine-war", "war in Ukraine"]
    );
    for form in &evidence[0].matched {
        assert!(text.contains(form.as_str()), "{form:?}");
    }
    // A group's phrases show their own text too, and `explain` quotes each match's sentence.
    let taxonomy = ties("sentence");
    let article = body(&["Talks ended. BEIJING and Moscow held talks on Monday."]);
    let tags = tag(&taxonomy, &article);
    let beijing = topic(&tags, "ties")
        .evidence
        .iter()
        .find(|e| e.term == "Beijing")
        .unwrap();
    assert_eq!(beijing.matched, ["BEIJING"]);
    let explanation = explain(&taxonomy, &article);
    let ties = explanation.topics.iter().find(|t| t.id == "ties").unwrap();
    assert!(
        ties.matches
            .iter()
            .any(|m| m.matched == "BEIJING"
                && m.sentence == "BEIJING and Moscow held talks on Monday."),
        "{:?}",
        ties.matches
    );
    let shown = explanation.to_string();
    assert!(
        shown.contains(
            "matched \"BEIJING\" (body \"Beijing\"): BEIJING and Moscow held talks on Monday."
        ),
        "{shown}"
    );
}

#[test]
fn matching_ignores_case_and_takes_whole_words_only() {
    let taxonomy = taxonomy(PLACES);
    for text in [
        "RUSSIA said no.",
        "russia said no.",
        "Russia-backed rebels.",
        "Russia's army.",
        "Ukraine\u{2019}s army.",
    ] {
        assert_eq!(ids(&tag(&taxonomy, &body(&[text]))), ["russia"], "{text}");
    }
    for text in [
        "The Russiagate files.",
        "Ukrainer sagen nein.",
        "Belarussian media.",
        "Prussia fell.",
    ] {
        assert!(tag(&taxonomy, &body(&[text])).topics.is_empty(), "{text}");
    }
}

#[test]
fn a_case_sensitive_term_needs_its_capitals_and_no_shouting_around_it() {
    let taxonomy = taxonomy(
        "
entities: []
topics:
  - id: us
    label: United States
    threshold: 3
    terms:
      - {term: US, weight: 4, case_sensitive: true}
",
    );
    assert_eq!(
        ids(&tag(&taxonomy, &body(&["The US sent troops."]))),
        ["us"]
    );
    for text in [
        "Tell us more.",
        "Us and them.",
        "JOIN US ON TELEGRAM",
        "The USA sent troops.",
    ] {
        assert!(tag(&taxonomy, &body(&[text])).topics.is_empty(), "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Parents.

/// `embassies` (one term) under `world` (no terms of its own).
fn world_and_embassies() -> Arc<Taxonomy> {
    taxonomy(
        "
entities: []
topics:
  - id: world
    label: World
  - id: embassies
    label: Embassies
    parent: world
    threshold: 3
    terms:
      - {term: embassy, weight: 4}
",
    )
}

#[test]
fn a_tagged_child_tags_its_parent_with_its_score_and_evidence() {
    let taxonomy = world_and_embassies();
    let tags = tag(&taxonomy, &body(&["The embassy reopened."]));
    assert_eq!(ids(&tags), ["world", "embassies"]);
    let (parent, child) = (topic(&tags, "world"), topic(&tags, "embassies"));
    assert_eq!(parent.label, "World");
    assert_eq!(parent.score, child.score);
    assert_eq!(parent.evidence, child.evidence);
    assert!(
        tag(&taxonomy, &body(&["The consulate reopened."]))
            .topics
            .is_empty()
    );
}

/// The stage's output: the enriched article once, on the primary route, with a copy route per
/// topic it got (parents included), so the runner encodes it once for every topic.
#[test]
fn the_stage_emits_the_enriched_article_once_with_a_copy_route_per_topic() {
    use crate::event::{DedupInfo, DedupStatus, DeduplicatedArticle, Event};
    use crate::stage::{Route, Stage as _, StageContext};

    let taxonomy = world_and_embassies();
    let mut stage = TagStage::new(taxonomy);
    let ctx = StageContext::at(DateTime::<Utc>::UNIX_EPOCH);
    let input = |text: &str| {
        Event::Deduplicated(DeduplicatedArticle {
            article: body(&[text]),
            dedup: DedupInfo {
                status: DedupStatus::Unique,
                fingerprint: "0".repeat(16),
            },
        })
    };
    let emits = stage.process(input("The embassy reopened."), &ctx).unwrap();
    assert_eq!(emits.len(), 1, "one output, not one per topic");
    assert_eq!(emits[0].route, Route::PRIMARY);
    assert_eq!(
        emits[0].copies,
        [
            Route::keyed(super::TOPIC_COPIES, "world"),
            Route::keyed(super::TOPIC_COPIES, "embassies")
        ]
    );
    assert!(matches!(&emits[0].event, Event::Enriched(e) if e.topics.len() == 2));

    let untagged = stage
        .process(input("The consulate reopened."), &ctx)
        .unwrap();
    assert_eq!(untagged.len(), 1);
    assert!(untagged[0].copies.is_empty(), "no topic, no copies");
}

// ---------------------------------------------------------------------------------------------
// Language.

#[test]
fn an_article_in_another_language_gets_no_topics_but_its_entities() {
    let taxonomy = taxonomy(
        "
language: en
topics:
  - id: kyiv
    label: Kyiv
    threshold: 3
    terms:
      - {term: Kyiv, weight: 4}
entities:
  - {name: Kyiv, type: place, id: Q1899, aliases: [Kiev]}
",
    );
    let mut article = body(&["Kyiv a été bombardée. Kiev, de nouveau."]);
    let english = tag(&taxonomy, &article);
    assert_eq!(ids(&english), ["kyiv"]);
    for language in ["fr", "de", "fr-FR"] {
        article.language = Some(language.to_owned());
        let tags = tag(&taxonomy, &article);
        assert!(tags.topics.is_empty(), "{language}: {:?}", ids(&tags));
        assert_eq!(
            tags.entities,
            [Entity {
                id: Some("Q1899".to_owned()),
                name: "Kyiv".to_owned(),
                entity_type: EntityType::Place,
                mentions: 2,
            }],
            "{language}"
        );
    }
    article.language = Some("en-GB".to_owned());
    assert_eq!(ids(&tag(&taxonomy, &article)), ["kyiv"]);
}

// ---------------------------------------------------------------------------------------------
// The default gazetteer.

#[test]
fn xi_jinping_president_xi_and_xi_are_one_entity_with_their_mentions_counted() {
    let mut stage = TagStage::default();
    let tags = stage.tag(&article(
        Some("Xi Jinping calls Putin"),
        Some("President Xi Jinping spoke to Russia's leader on Thursday."),
        &[
            "Xi said the two sides should deepen ties. President Xi also met envoys.",
            "A taxi took the maxim to Xinjiang. THE XI FILES. Exit polls.",
        ],
    ));
    let xi = entity(&tags, "Xi Jinping");
    assert_eq!(xi.id.as_deref(), Some("Q15031"));
    assert_eq!(xi.entity_type, EntityType::Person);
    // Title, lede (`President Xi Jinping` once), `Xi`, `President Xi`; not `taxi`,
    // `maxim`, `Xinjiang`, nor `XI` in capitals.
    assert_eq!(xi.mentions, 4);
    let people: Vec<&str> = tags
        .entities
        .iter()
        .filter(|e| e.entity_type == EntityType::Person)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(people, ["Xi Jinping", "Vladimir Putin"]);
}

#[test]
fn kyiv_and_kiev_are_one_entity() {
    let mut stage = TagStage::default();
    let tags = stage.tag(&body(&[
        "Kyiv was shelled overnight. Older maps say Kiev; some write Kyïv.",
    ]));
    let kyiv = entity(&tags, "Kyiv");
    assert_eq!(kyiv.id.as_deref(), Some("Q1899"));
    assert_eq!(kyiv.entity_type, EntityType::Place);
    assert_eq!(kyiv.mentions, 3);
    assert_eq!(
        tags.entities
            .iter()
            .filter(|e| e.id.as_deref() == Some("Q1899"))
            .count(),
        1
    );
}

#[test]
fn the_kremlin_is_the_government_of_russia() {
    let mut stage = TagStage::default();
    let tags = stage.tag(&body(&[
        "The Kremlin said the talks went well.",
        "The Russian government later confirmed it.",
    ]));
    let government = entity(&tags, "Government of Russia");
    assert_eq!(government.entity_type, EntityType::Org);
    // The gazetteer has no verified Wikidata id for it.
    assert_eq!(government.id, None);
    assert_eq!(government.mentions, 2);
    // Nothing else: not the country by way of `Russian government`.
    assert_eq!(tags.entities.len(), 1, "{:?}", tags.entities);
}

// ---------------------------------------------------------------------------------------------
// Focus.

const FOCUS: &str = "
entities: []
topics:
  - id: war
    label: War
    threshold: 3
    focus: {share: 0.5}
    terms:
      - {term: Kyiv, weight: 4}
  - id: ties
    label: Ties
    threshold: 3
    focus: {weight: 2, paragraphs: 2}
    terms:
      - {term: Sino Russian, weight: 3}
      - {term: Beijing, weight: 1}
";

#[test]
fn a_focus_share_needs_evidence_in_that_share_of_the_body_or_at_its_head() {
    let taxonomy = taxonomy(FOCUS);
    let passing = [
        "Kyiv was shelled.",
        "Rain fell.",
        "Markets rose.",
        "Fans sang.",
    ];
    assert!(tag(&taxonomy, &body(&passing)).topics.is_empty());
    let explanation = explain(&taxonomy, &body(&passing));
    let focus = explanation.topics[0]
        .focus
        .as_ref()
        .expect("a focus verdict");
    assert_eq!(
        (
            focus.met,
            focus.paragraphs,
            focus.body_paragraphs,
            focus.needed
        ),
        (false, 1, 4, 2)
    );
    assert!(
        explanation.to_string().contains("focus not met"),
        "{explanation}"
    );

    let half = [
        "Kyiv was shelled.",
        "Rain fell.",
        "Kyiv went dark.",
        "Fans sang.",
    ];
    assert_eq!(ids(&tag(&taxonomy, &body(&half))), ["war"]);
    // At the head, one mention is enough.
    let in_title = article(Some("Kyiv shelled"), None, &passing[1..]);
    assert_eq!(ids(&tag(&taxonomy, &in_title)), ["war"]);
    let in_lede = article(None, Some("Kyiv was shelled."), &passing[1..]);
    assert_eq!(ids(&tag(&taxonomy, &in_lede)), ["war"]);
}

#[test]
fn a_focus_weight_counts_only_weighty_evidence_in_enough_paragraphs() {
    let taxonomy = taxonomy(FOCUS);
    // Light evidence everywhere, weighty evidence in one paragraph: raw is ample, focus is not.
    let one = body(&[
        "Sino-Russian trade grew. Sino-Russian talks went on.",
        "Beijing agreed.",
        "Beijing signed.",
    ]);
    let explanation = explain(&taxonomy, &one);
    let ties = &explanation.topics[1];
    assert!(ties.raw >= ties.threshold, "{explanation}");
    assert!(!ties.tagged, "{explanation}");
    assert!(tag(&taxonomy, &one).topics.is_empty());

    let two = body(&[
        "Sino-Russian trade grew.",
        "Beijing agreed.",
        "Sino-Russian talks went on.",
    ]);
    assert_eq!(ids(&tag(&taxonomy, &two)), ["ties"]);
    let at_head = article(
        Some("Sino-Russian trade grows"),
        None,
        &["Beijing agreed.", "Beijing signed."],
    );
    assert_eq!(ids(&tag(&taxonomy, &at_head)), ["ties"]);
}

#[test]
fn a_body_shorter_than_the_focus_count_needs_evidence_in_all_of_it() {
    let taxonomy = taxonomy(FOCUS);
    // `paragraphs: 2` in a one-paragraph text (a page sent without breaks): that paragraph.
    let one = body(&["Sino-Russian trade grew. Sino-Russian talks went on. Beijing agreed."]);
    assert_eq!(ids(&tag(&taxonomy, &one)), ["ties"]);
    let explanation = explain(&taxonomy, &one);
    let focus = explanation.topics[1]
        .focus
        .as_ref()
        .expect("a focus verdict");
    assert_eq!((focus.met, focus.paragraphs, focus.needed), (true, 1, 1));
}

#[test]
fn a_lede_that_is_the_first_paragraph_is_read_once_as_body() {
    let taxonomy = taxonomy(BOOSTS);
    // The normalizer's lede is the body's first paragraph: no lede boost, no double count.
    let first = article(
        Some("News"),
        Some("Kyiv was quiet."),
        &["Kyiv was quiet.", "A day."],
    );
    let no_lede = article(Some("News"), None, &["Kyiv was quiet.", "A day."]);
    assert_eq!(tag(&taxonomy, &first), tag(&taxonomy, &no_lede));
    assert!(tag(&taxonomy, &first).topics.is_empty());
    // A lede apart from the body (a standfirst) keeps its boost.
    let standfirst = article(Some("News"), Some("Kyiv was quiet."), &["A day."]);
    assert_eq!(ids(&tag(&taxonomy, &standfirst)), ["kyiv"]);
}

#[test]
fn a_focus_that_can_never_be_met_is_an_error_with_its_line() {
    let errors = Taxonomy::from_yaml(
        "entities: []
topics:
  - id: ties
    label: Ties
    focus: {weight: 5, paragraphs: 0}
    terms:
      - {term: Beijing, weight: 1}
",
    )
    .expect_err("an impossible focus");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 5);
    assert_eq!(errors[0].path, "topics[0].focus.weight");
    assert!(errors[0].reason.contains("can never be met"), "{errors:?}");

    let errors = Taxonomy::from_yaml(
        "entities: []
topics:
  - id: ties
    label: Ties
    focus:
      paragraphs: 0
    terms:
      - {term: Beijing, weight: 1}
",
    )
    .expect_err("no paragraphs");
    assert_eq!(
        (errors[0].line, errors[0].path.as_str()),
        (6, "topics[0].focus.paragraphs")
    );
}

#[test]
fn a_one_word_term_that_is_a_common_word_is_warned_about_unless_pinned() {
    let taxonomy = taxonomy(
        "
entities: []
topics:
  - id: home
    label: Home
    terms:
      - {term: home, weight: 2, aliases: [Home Office, housing, Why]}
      - {term: US, case_sensitive: true}
      - {term: can, weight: -1}
    groups:
      - name: pinned
        all: [[may], [harbour]]
",
    );
    let warnings: Vec<String> = taxonomy
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("7:10:") && warnings[0].contains("topics[0].terms[0].term: `home`"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("aliases[2]: `Why` is a common word"),
        "{warnings:?}"
    );
    assert!(
        Taxonomy::default().warnings().is_empty(),
        "{:?}",
        Taxonomy::default().warnings()
    );
}
