//! Command-line interface (clap derive). Every flag has an `NEWSFLOW_…` environment fallback.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use newsflow_core::decode::DEFAULT_MAX_CONTENT_BYTES;

use newsflow_runtime::flags::{ClientArgs, ServiceArgs};

use crate::input::{Input, ReadOptions};
use crate::pipeline::RunOptions;

#[derive(Debug, Parser)]
#[command(
    name = "newsflow",
    version,
    about = "newsflow: a streaming news-event pipeline (normalize, deduplicate, tag) on Kafka",
    long_about = "newsflow turns raw scraped news pages into clean, deduplicated, topic-tagged \
article events.\n\nRun `newsflow run` to try the whole pipeline in one process on the shipped \
samples, or point it at files, folders or JSON Lines on stdin."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline in one process: files, folders or stdin in, JSON lines out.
    #[command(
        long_about = "Run the whole pipeline in one process: files, folders or stdin in, \
JSON lines out.\n\n\
INPUT is a file, a directory (read recursively, sorted by path) or `-` (JSON Lines on stdin). \
`.txt` is read as text/plain, `.html`/`.htm` as text/html, `.jsonl`/`.ndjson` as one raw event \
per line and `.json` as one JSON Feed item (extensions match in any case); other files are \
skipped and counted. Without INPUT, the shipped sample articles are used.\n\n\
Writes one JSON line per input article that was not rejected, in input order. Rejected inputs \
go to --dlq, or are summarised on stderr. Exit status: 0 when every input was read and every \
output written, 1 on an I/O failure (unreadable input, unwritable output), 2 on bad usage."
    )]
    Run(RunArgs),

    /// Send INPUT files (same rules as `run`) to a Kafka topic as raw events.
    #[command(
        long_about = "Send INPUT files (same rules as `run`) to a Kafka topic as raw \
events, keyed by article id, with CloudEvents headers and a new traceparent each.\n\n\
--repeat N sends N articles per input: the input itself, then N-1 new stories with fresh ids \
whose bodies are sentences drawn from several inputs by a per-repeat seed (plain-text inputs \
only), so a deduplicator rightly treats them as different stories. --duplicate-ratio R adds a \
true copy of an article, under a fresh id, with probability R. A summary with the throughput \
goes to stderr."
    )]
    Produce(ProduceArgs),

    /// Manage the Kafka topics of the pipeline.
    #[command(subcommand)]
    Topics(TopicsCommand),

    /// The identity stage as a service: copy every event of one topic to another (the
    /// runner's test subject and the Kafka I/O baseline).
    Relay(RelayArgs),

    /// Exit 0 when an HTTP endpoint answers 2xx (the container health check: images have no curl).
    Probe(ProbeArgs),

    /// The dead-letter topic: list what is there, send it back after a fix.
    #[command(subcommand)]
    Dlq(DlqCommand),

    /// Tools for editors of the taxonomy: check a file, explain an article's tags.
    #[command(subcommand)]
    Taxonomy(TaxonomyCommand),

    /// Measure the pipeline against a gold standard.
    #[command(subcommand)]
    Eval(EvalCommand),

    /// Tools for stories (the story stage of `newsflow run --stories`).
    #[command(subcommand)]
    Stories(StoriesCommand),

    /// The gateway's live stream at a terminal: one line per article, or JSON lines.
    #[command(
        long_about = "The gateway's live stream at a terminal: one readable line per article \
(time, source, title, tags), or with --json the enriched articles as JSON lines for scripts. \
Reconnects with Last-Event-ID when the connection drops, so nothing is missed or repeated. \
Exit status 1 when the gateway refuses the request (a wrong token, an unknown tag)."
    )]
    Subscribe(SubscribeArgs),
}

#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// The gateway's base URL.
    #[arg(
        long,
        env = "NEWSFLOW_GATEWAY",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub gateway: String,

    /// Only articles with this tag (a taxonomy topic id; repeatable or comma-separated).
    #[arg(
        long = "tag",
        env = "NEWSFLOW_SUBSCRIBE_TAGS",
        value_name = "TOPIC_ID",
        value_delimiter = ','
    )]
    pub tags: Vec<String>,

    /// Only articles naming this entity (a Wikidata id such as Q7747; repeatable).
    #[arg(
        long = "entity",
        env = "NEWSFLOW_SUBSCRIBE_ENTITIES",
        value_name = "QID",
        value_delimiter = ','
    )]
    pub entities: Vec<String>,

    /// The gateway token.
    #[arg(
        long,
        env = "NEWSFLOW_GATEWAY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Print the articles as JSON lines (enriched.v1).
    #[arg(long, env = "NEWSFLOW_SUBSCRIBE_JSON")]
    pub json: bool,

    /// Stop after this many articles.
    #[arg(long, env = "NEWSFLOW_SUBSCRIBE_LIMIT", value_name = "N")]
    pub limit: Option<u64>,
}

impl SubscribeArgs {
    pub fn options(&self) -> crate::subscribe::SubscribeOptions {
        crate::subscribe::SubscribeOptions {
            gateway: self.gateway.clone(),
            tags: self.tags.clone(),
            entities: self.entities.clone(),
            token: self.token.clone(),
            json: self.json,
            limit: self.limit,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum StoriesCommand {
    /// Explain why two articles are, or are not, one story: the similarity, the decision at
    /// the threshold, and the evidence.
    #[command(
        long_about = "Explain why two articles are, or are not, one story: the similarity, \
the decision at the threshold, and the evidence.\n\n\
A and B follow the INPUT rules of `newsflow run` (a .txt, .html, .json file, or a .jsonl file \
or `-` holding one raw event); each is normalized and tagged as the pipeline does. B is scored \
against the story A opens in a fresh story stage (--story-config applies), exactly as \
`newsflow run --stories A B` would decide: the text cosine (title, lede and body terms, \
TF-IDF) with the shared terms that weigh most, the shared entities, dateline places and \
topics with their overlap and weight, and the time gap with its factor. --json prints one \
object with `similarity` (0..1, higher = more alike), `same_story` and the evidence."
    )]
    Explain(StoriesExplainArgs),
}

#[derive(Debug, Args)]
pub struct StoriesExplainArgs {
    /// The first article: a file, or a JSON Lines file (or `-`) holding one raw event.
    #[arg(value_name = "A")]
    pub a: String,

    /// The second article, read the same way.
    #[arg(value_name = "B")]
    pub b: String,

    /// Print one JSON object instead of the report.
    #[arg(long, env = "NEWSFLOW_STORIES_JSON")]
    pub json: bool,

    #[command(flatten)]
    pub story_config: StoryConfigArg,

    /// The taxonomy file for entities and topics; default: the built-in taxonomy.
    #[arg(long, value_name = "FILE", env = "NEWSFLOW_TAXONOMY")]
    pub taxonomy: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Score the text and metadata `newsflow run` extracts from real pages against their gold.
    #[command(
        long_about = "Score the text and metadata `newsflow run` extracts from real pages \
against their gold.\n\n\
DIR is laid out like the shared corpus's html-eval: `pages/*.html` and `gold.jsonl` (one object \
per page: `file`, `with` and `without` snippets, `title`, `author`, `date`). The pages go through \
exactly what `newsflow run DIR/pages` runs. Main text is the `lede` then the `body` paragraphs; \
a `with` snippet found in it (case-sensitive, after NFC and whitespace folding) is a true \
positive, a `without` snippet found a false positive; a dead-lettered page has no text. \
Prints precision, recall, F1 and accuracy, the `no_body` count, date, author and title \
accuracy and the pages that lost most; --json prints one object for machines. With \
--dates-only (a set laid out like html-dates: `file` and `date` only) it prints the pages, \
`no_body`, date accuracy and how the misses fall, and lists the first pages whose date was \
missed."
    )]
    Extract(EvalExtractArgs),
}

#[derive(Debug, Args)]
pub struct EvalExtractArgs {
    /// The folder: `pages/` and `gold.jsonl`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Print one JSON object instead of the report.
    #[arg(long, env = "NEWSFLOW_EVAL_JSON")]
    pub json: bool,

    /// For a set laid out like html-dates (gold with `file` and `date` only): print pages,
    /// `no_body` and date accuracy with how the misses fall, and list the first date misses
    /// (gold day, day read, `published_at_raw`) instead of the pages that lost most text.
    #[arg(long, env = "NEWSFLOW_EVAL_DATES_ONLY")]
    pub dates_only: bool,

    /// How many of the pages that lost most to list.
    #[arg(
        long,
        env = "NEWSFLOW_EVAL_WORST",
        default_value_t = 10,
        value_name = "N"
    )]
    pub worst: usize,

    /// Judge HTML blocks with this main-text block model (a file
    /// `crates/core/html/fit_block_model.py` writes) instead of the shipped one: how a refitted
    /// model is compared with it, and how the fit's cross-validation scores each held-out fold.
    #[arg(long, env = "NEWSFLOW_EVAL_BLOCK_MODEL", value_name = "FILE")]
    pub block_model: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Count the dead letters by stage and error kind (each one with --details).
    List(DlqListArgs),

    /// Send dead letters back to the topic their stage read them from, with their original key,
    /// value and headers, e.g. after deploying a fix for their error kind.
    #[command(
        long_about = "Send dead letters back to the topic their stage read them from \
(x-newsflow-source-topic, or --to), with their original key, value and headers (the \
x-newsflow-* ones dropped), e.g. after deploying a fix for their error kind.\n\n\
The whole DLQ topic as it is when the command starts is read; nothing is committed, so a second \
run sends the same records again (stages treat the same id and content as a replay). Dead \
letters cut to the DLQ topic's size limit cannot be sent back whole and are skipped."
    )]
    Replay(DlqReplayArgs),
}

/// Which dead letters.
#[derive(Debug, Args)]
pub struct DlqSelect {
    #[command(flatten)]
    pub client: ClientArgs,

    /// The dead-letter topic.
    #[arg(long, env = "NEWSFLOW_DLQ_TOPIC", default_value = newsflow_core::topics::DLQ, value_name = "TOPIC")]
    pub topic: String,

    /// Only dead letters of this stage (normalizer, deduplicator, tagger, relay).
    #[arg(long, env = "NEWSFLOW_DLQ_STAGE", value_name = "STAGE")]
    pub stage: Option<String>,

    /// Only dead letters of this error kind (e.g. too_large, malformed_json).
    #[arg(long, env = "NEWSFLOW_DLQ_ERROR_KIND", value_name = "KIND", value_parser = error_kind)]
    pub error_kind: Option<String>,
}

fn error_kind(value: &str) -> Result<String, String> {
    newsflow_core::ErrorKind::ALL
        .iter()
        .find(|k| k.as_str() == value)
        .map(|k| k.as_str().to_owned())
        .ok_or_else(|| {
            let kinds: Vec<&str> = newsflow_core::ErrorKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect();
            format!("not an error kind; one of: {}", kinds.join(", "))
        })
}

#[derive(Debug, Args)]
pub struct DlqListArgs {
    #[command(flatten)]
    pub select: DlqSelect,

    /// One line per dead letter: where it is, its key, stage, kind, origin and message.
    #[arg(long, env = "NEWSFLOW_DLQ_DETAILS")]
    pub details: bool,
}

#[derive(Debug, Args)]
pub struct DlqReplayArgs {
    #[command(flatten)]
    pub select: DlqSelect,

    /// Send to this topic instead of each dead letter's source topic.
    #[arg(long, env = "NEWSFLOW_DLQ_REPLAY_TO", value_name = "TOPIC")]
    pub to: Option<String>,

    /// Count what would be sent, send nothing.
    #[arg(long, env = "NEWSFLOW_DLQ_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum TaxonomyCommand {
    /// Validate a taxonomy file: every error with its file, line and reason; exit 1 if any.
    Check(TaxonomyCheckArgs),

    /// Explain the tags of articles: for each topic, the terms that matched (where, with their
    /// weights), the co-occurrence groups, exclusions, score and threshold.
    #[command(
        long_about = "Explain the tags of articles: for each topic, the terms that \
matched (where, with their weights), the co-occurrence groups, exclusions, score and \
threshold, and so why it was tagged or fell short.\n\n\
INPUT follows the rules of `newsflow run` (a .txt, .html, .json or .jsonl file, a folder, or `-`); \
each article is normalized first, as the pipeline does."
    )]
    Explain(TaxonomyExplainArgs),
}

#[derive(Debug, Args)]
pub struct TaxonomyCheckArgs {
    /// The taxonomy file (YAML).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct TaxonomyExplainArgs {
    /// Articles: files, directories or `-` for stdin (JSON Lines).
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,

    /// The taxonomy file; default: the built-in taxonomy.
    #[arg(long, value_name = "FILE", env = "NEWSFLOW_TAXONOMY")]
    pub taxonomy: Option<PathBuf>,

    /// Show only these topics (repeatable); default: every topic with any evidence.
    #[arg(
        long = "topic",
        value_name = "ID",
        env = "NEWSFLOW_EXPLAIN_TOPICS",
        value_delimiter = ','
    )]
    pub topics: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The URL to check (plain HTTP), e.g. http://127.0.0.1:9090/readyz.
    #[arg(
        env = "NEWSFLOW_PROBE_URL",
        default_value = "http://127.0.0.1:9090/healthz"
    )]
    pub url: String,

    /// Give up after this long.
    #[arg(long, env = "NEWSFLOW_PROBE_TIMEOUT", default_value = "2s", value_parser = newsflow_runtime::flags::parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create every topic of the architecture (idempotent: existing topics are kept as they are).
    Create(TopicsCreateArgs),
}

#[derive(Debug, Args)]
pub struct TopicsCreateArgs {
    #[command(flatten)]
    pub client: ClientArgs,

    /// Put this before every topic name (e.g. `staging.`), so environments and tests share a
    /// cluster without sharing topics.
    #[arg(
        long,
        env = "NEWSFLOW_TOPIC_PREFIX",
        default_value = "",
        value_name = "PREFIX"
    )]
    pub prefix: String,

    /// Partitions per topic.
    #[arg(long, env = "NEWSFLOW_TOPIC_PARTITIONS", default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: i32,

    /// Replicas per partition: 1 for a single development broker, 3 on a production cluster
    /// (a broker may then be lost without losing a write).
    #[arg(long, env = "NEWSFLOW_TOPIC_REPLICATION", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub replication_factor: i32,

    /// Replicas that must hold a write before the broker acknowledges it (the topics'
    /// min.insync.replicas; the producers use acks=all). Default: 2, or the replication
    /// factor when it is smaller. It cannot exceed the replication factor; equal to it, the
    /// loss of any one broker stops every write.
    #[arg(long, env = "NEWSFLOW_TOPIC_MIN_INSYNC_REPLICAS", value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub min_insync_replicas: Option<i32>,

    /// The largest record a topic accepts (max.message.bytes); keep it above the normalizer's
    /// page size limit (2 MiB) with room for base64 and headers.
    #[arg(long, env = "NEWSFLOW_TOPIC_MAX_MESSAGE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_message_bytes: u64,

    /// Also create the per-tag topic `news.topic.<ID>.v1` (repeatable).
    #[arg(long = "tag-topic", env = "NEWSFLOW_TAG_TOPICS", value_delimiter = ',', value_name = "ID", value_parser = tag_id)]
    pub tag_topics: Vec<String>,
}

fn tag_id(value: &str) -> Result<String, String> {
    if newsflow_core::topics::is_valid_topic_id(value) {
        Ok(value.to_owned())
    } else {
        Err("a topic id is lowercase letters, digits and hyphens (e.g. ukraine-war)".into())
    }
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Files, directories or `-` for stdin (JSON Lines); none: the shipped samples.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    #[command(flatten)]
    pub client: ClientArgs,

    /// The topic to send to.
    #[arg(long, env = "NEWSFLOW_TOPIC", default_value = newsflow_core::topics::RAW, value_name = "TOPIC")]
    pub topic: String,

    /// The `source` of every article; default: each INPUT's own name.
    #[arg(long, value_name = "NAME", env = "NEWSFLOW_SOURCE", value_parser = non_empty)]
    pub source: Option<String>,

    /// Records per second at most; default: as fast as the broker takes them.
    #[arg(long, env = "NEWSFLOW_RATE", value_name = "N", value_parser = positive_rate)]
    pub rate: Option<f64>,

    /// Articles per input: the input, then N-1 new stories drawn from the inputs' sentences.
    #[arg(long, env = "NEWSFLOW_REPEAT", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub repeat: u64,

    /// Probability in 0..=1 that an article is followed by a true copy under a fresh id.
    #[arg(long, env = "NEWSFLOW_DUPLICATE_RATIO", default_value_t = 0.0, value_parser = ratio)]
    pub duplicate_ratio: f64,

    /// Seed of the synthesized stories and copies (the same seed gives the same records).
    #[arg(long, env = "NEWSFLOW_SEED", default_value_t = 1)]
    pub seed: u64,

    /// Pages larger than this many bytes are skipped as `too_large`.
    #[arg(long, value_name = "BYTES", env = "NEWSFLOW_MAX_CONTENT_BYTES", default_value_t = DEFAULT_MAX_CONTENT_BYTES)]
    pub max_content_bytes: usize,
}

fn positive_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err("must be a number above 0".into()),
    }
}

fn ratio(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err("must be a number from 0 to 1".into()),
    }
}

#[derive(Debug, Args)]
pub struct RelayArgs {
    #[command(flatten)]
    pub service: ServiceArgs,

    /// Topic the relayed events go to.
    #[arg(long, env = "NEWSFLOW_OUTPUT_TOPIC", value_name = "TOPIC")]
    pub output_topic: String,

    /// The kind of event on the input topic (records that are not such events are dead-lettered).
    #[arg(long, env = "NEWSFLOW_EVENT_KIND", value_enum, default_value_t = EventKindArg::Raw)]
    pub event_kind: EventKindArg,
}

/// An event kind on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventKindArg {
    Raw,
    Normalized,
    Deduplicated,
    DuplicateNotice,
    Enriched,
}

impl From<EventKindArg> for newsflow_core::EventKind {
    fn from(value: EventKindArg) -> Self {
        use newsflow_core::EventKind as K;
        match value {
            EventKindArg::Raw => K::Raw,
            EventKindArg::Normalized => K::Normalized,
            EventKindArg::Deduplicated => K::Deduplicated,
            EventKindArg::DuplicateNotice => K::DuplicateNotice,
            EventKindArg::Enriched => K::Enriched,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Files, directories or `-` for stdin (JSON Lines); none: the shipped samples.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Write articles here instead of stdout (one JSON line each).
    #[arg(long, short, value_name = "FILE", env = "NEWSFLOW_OUTPUT")]
    pub output: Option<PathBuf>,

    /// Write rejected inputs here as JSON lines (schemas/dead-letter-line.v1.schema.json);
    /// default: a one-line summary per rejection on stderr.
    #[arg(long, value_name = "FILE", env = "NEWSFLOW_DLQ")]
    pub dlq: Option<PathBuf>,

    /// The `source` of every article read; default: each INPUT's own name (file stem or
    /// folder name; `stdin` for `-`).
    #[arg(long, value_name = "NAME", env = "NEWSFLOW_SOURCE", value_parser = non_empty)]
    pub source: Option<String>,

    /// Pages larger than this many bytes are rejected as `too_large`.
    #[arg(long, value_name = "BYTES", env = "NEWSFLOW_MAX_CONTENT_BYTES", default_value_t = DEFAULT_MAX_CONTENT_BYTES)]
    pub max_content_bytes: usize,

    /// The taxonomy file (YAML, the format of `crates/core/taxonomy/default.yaml`); default:
    /// the built-in taxonomy. Check one with `newsflow taxonomy check`.
    #[arg(long, value_name = "FILE", env = "NEWSFLOW_TAXONOMY")]
    pub taxonomy: Option<PathBuf>,

    /// Also cluster the articles into stories and write the story records here, one JSON line
    /// per change (schemas/story.v1.schema.json), in order. --output is unchanged.
    #[arg(long, value_name = "FILE", env = "NEWSFLOW_STORIES")]
    pub stories: Option<PathBuf>,

    #[command(flatten)]
    pub story_config: StoryConfigArg,

    #[command(flatten)]
    pub trace: newsflow_runtime::flags::TraceArgs,
}

/// `--story-config`, wherever the story stage runs.
#[derive(Debug, Args)]
pub struct StoryConfigArg {
    /// The story stage's settings (YAML: window, threshold, weights; see
    /// `crates/core/src/story/config.rs`); default: the built-in settings.
    #[arg(
        long = "story-config",
        value_name = "FILE",
        env = "NEWSFLOW_STORY_CONFIG"
    )]
    pub path: Option<PathBuf>,
}

fn non_empty(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(value.to_owned())
    }
}

/// Turns INPUT arguments into inputs; no INPUT means the samples.
pub fn inputs(args: &[String]) -> Vec<Input> {
    if args.is_empty() {
        vec![Input::Samples]
    } else {
        args.iter().map(|arg| Input::parse(arg)).collect()
    }
}

impl ProduceArgs {
    pub fn options(&self) -> crate::produce::ProduceOptions {
        crate::produce::ProduceOptions {
            inputs: inputs(&self.inputs),
            read: ReadOptions {
                source: self.source.clone(),
                max_content_bytes: self.max_content_bytes,
            },
            topic: self.topic.clone(),
            client: self.client.clone(),
            rate: self.rate,
            repeat: self.repeat,
            duplicate_ratio: self.duplicate_ratio,
            seed: self.seed,
        }
    }
}

impl RunArgs {
    pub fn options(&self) -> RunOptions {
        RunOptions {
            inputs: inputs(&self.inputs),
            output: self.output.clone(),
            dlq: self.dlq.clone(),
            read: ReadOptions {
                source: self.source.clone(),
                max_content_bytes: self.max_content_bytes,
            },
            taxonomy: self.taxonomy.clone(),
            stories: self.stories.clone(),
            story_config: self.story_config.path.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_has_an_env_fallback() {
        let root = Cli::command();
        let mut commands: Vec<&clap::Command> = root.get_subcommands().collect();
        let nested: Vec<&clap::Command> =
            commands.iter().flat_map(|c| c.get_subcommands()).collect();
        commands.extend(nested);
        for sub in commands {
            for arg in sub.get_arguments() {
                if arg.is_positional() || ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                assert!(
                    env.as_deref().is_some_and(|e| e.starts_with("NEWSFLOW_")),
                    "{} --{} has no NEWSFLOW_ env fallback",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}
