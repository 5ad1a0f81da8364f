//! The topics a service's flags choose for its stage's streams, and the one rule every topic
//! name is checked by. `config.rs` holds them; `routes.rs` maps them onto the stage.

/// A topic a flag chose for one of the stage's streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicBinding {
    /// The stream, as the stage names it (`input`, `primary`, `duplicates`, …).
    pub port: &'static str,
    /// The setting it comes from, as `--check-config` shows it (`output_topic`); the flag is
    /// the same with dashes (`--output-topic`).
    pub setting: &'static str,
    pub choice: TopicChoice,
}

/// What a flag says about a stream's topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicChoice {
    /// This topic.
    Named(String),
    /// The stream's default topic (or topics, one per key) with this put before the name, like
    /// `newsflow topics create --prefix`.
    Prefix(String),
}

impl TopicBinding {
    pub fn named(port: &'static str, setting: &'static str, topic: impl Into<String>) -> Self {
        Self {
            port,
            setting,
            choice: TopicChoice::Named(topic.into()),
        }
    }

    pub fn prefix(port: &'static str, setting: &'static str, prefix: impl Into<String>) -> Self {
        Self {
            port,
            setting,
            choice: TopicChoice::Prefix(prefix.into()),
        }
    }

    /// `--check-config`'s line.
    pub(crate) fn describe(&self) -> String {
        match &self.choice {
            TopicChoice::Named(topic) | TopicChoice::Prefix(topic) => {
                format!("{} = {topic}", self.setting)
            }
        }
    }

    /// Checks the topic name, or that of a topic made with the prefix.
    pub(crate) fn validate(&self) -> Result<(), String> {
        match &self.choice {
            TopicChoice::Named(topic) => check_topic(self.setting, topic),
            TopicChoice::Prefix(prefix) => {
                let sample = format!("{prefix}news.topic.sample.v1");
                if valid_topic_name(&sample) {
                    Ok(())
                } else {
                    Err(format!(
                        "--{} {prefix:?} makes topic names Kafka does not allow",
                        flag(self.setting)
                    ))
                }
            }
        }
    }
}

/// The flag of a setting: `output_topic` → `output-topic`.
pub(crate) fn flag(setting: &str) -> String {
    setting.replace('_', "-")
}

/// Checks a topic name the setting chose.
pub(crate) fn check_topic(setting: &str, topic: &str) -> Result<(), String> {
    if valid_topic_name(topic) {
        Ok(())
    } else {
        Err(format!(
            "--{} {topic:?} is not a valid Kafka topic name",
            flag(setting)
        ))
    }
}

/// Kafka's rule: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
