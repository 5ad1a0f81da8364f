//! The clusterer's flags, and the runner configuration they make.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use newsflow_core::dedup::DUPLICATES;
use newsflow_core::stage::PRIMARY;
use newsflow_core::story::StoryConfig;
use newsflow_core::topics::{ENRICHED, STORIES, STORY_STATE};
use newsflow_runtime::{RunnerConfig, ServiceArgs, ServiceDefaults, TopicBinding};

#[derive(Debug, Parser)]
#[command(
    name = "newsflow-clusterer",
    version,
    about = "Cluster news articles into stories on Kafka",
    long_about = "Consumes enriched articles (news.enriched.v1) and duplicate notices \
(news.duplicates.v1). Each article joins the open story it is most similar to, or opens a new \
one; a copy counts toward its original's story; stories merge when an article ties alike \
stories, and expire after a window of event time without a new article. Every change is a \
story record on news.stories.v1, keyed by story id. The open stories and the term counts live \
in the compacted state topic, which every instance restores before taking input and follows \
afterwards."
)]
pub struct Args {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Topic of duplicate notices (their copies count toward the original's story).
    #[arg(long, env = "NEWSFLOW_DUPLICATES_TOPIC", default_value = DUPLICATES_TOPIC, value_name = "TOPIC")]
    duplicates_topic: String,

    /// Topic for the story records.
    #[arg(long, env = "NEWSFLOW_STORIES_TOPIC", default_value = STORIES, value_name = "TOPIC")]
    stories_topic: String,

    /// Compacted topic of the open stories and learned term counts.
    #[arg(long, env = "NEWSFLOW_STATE_TOPIC", default_value = STORY_STATE, value_name = "TOPIC")]
    state_topic: String,

    /// The story stage's settings (YAML: window, threshold, weights; see
    /// `crates/core/src/story/config.rs`); default: the built-in settings.
    #[arg(long, env = "NEWSFLOW_STORY_CONFIG", value_name = "FILE")]
    story_config: Option<PathBuf>,
}

const DUPLICATES_TOPIC: &str = newsflow_core::topics::DUPLICATES;

impl Args {
    /// The runner's configuration: the shared flags, the second input, the output's topic,
    /// the state topic.
    pub fn runner_config(&self) -> RunnerConfig {
        let defaults = ServiceDefaults {
            service: "clusterer",
            input_topic: ENRICHED,
        };
        let mut config = RunnerConfig::new(&self.service, &defaults).output(TopicBinding::named(
            PRIMARY,
            "stories_topic",
            &self.stories_topic,
        ));
        config.inputs.push(TopicBinding::named(
            DUPLICATES,
            "duplicates_topic",
            &self.duplicates_topic,
        ));
        config.state_topic = Some(self.state_topic.clone());
        let shown = self
            .story_config
            .as_ref()
            .map_or("-".to_owned(), |p| p.display().to_string());
        config.extra.push(("story_config", shown));
        config
    }

    /// The stage's settings: the file's, or the defaults.
    pub fn story_config(&self) -> anyhow::Result<StoryConfig> {
        let Some(path) = &self.story_config else {
            return Ok(StoryConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --story-config {}", path.display()))?;
        StoryConfig::from_yaml(&text)
            .map_err(|err| anyhow::anyhow!("invalid --story-config {}: {err}", path.display()))
    }
}
