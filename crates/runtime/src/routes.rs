//! Topics for a stage's streams. The stage declares its inputs and outputs (a name, an event
//! kind, a default topic: [`newsflow_core::Port`]); the service's flags choose topics for some of
//! them ([`TopicBinding`], `bindings.rs`); here names become topics, every name is checked alike, and each
//! route of an output finds its topic. The runner itself knows no stage's streams.

use newsflow_core::stage::DefaultTopic;
use newsflow_core::{EventKind, Route, Stage};

use crate::bindings::{TopicBinding, TopicChoice, check_topic, flag};
use crate::config::RunnerConfig;
use crate::error::RunnerError;

/// Where an output's records go.
#[derive(Debug, Clone)]
enum Target {
    One(String),
    /// A topic per route key: `prefix` + the name made from the key.
    PerKey {
        prefix: String,
        name: fn(&str) -> String,
    },
}

/// Where every stream of one stage is.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    inputs: Vec<(String, EventKind)>,
    outputs: Vec<(&'static str, Target)>,
}

impl Routes {
    /// Maps the stage's streams to topics: the flags' choices, else the stage's defaults. A
    /// choice for a stream the stage does not have is an error, as is a bad topic name.
    pub(crate) fn resolve<S: Stage + ?Sized>(
        config: &RunnerConfig,
        stage: &S,
    ) -> Result<Self, RunnerError> {
        let wiring = |message: String| RunnerError::Wiring(message);
        let chosen = |bindings: &[TopicBinding], port: &str| {
            bindings
                .iter()
                .find(|b| b.port == port)
                .map(|b| b.choice.clone())
        };
        for (bindings, ports, what) in [
            (&config.inputs, stage.inputs(), "input"),
            (&config.outputs, stage.outputs(), "output"),
        ] {
            for binding in bindings {
                binding.validate().map_err(wiring)?;
                if !ports.iter().any(|port| port.name == binding.port) {
                    return Err(wiring(format!(
                        "--{} is for the {what} {:?}, which stage {} does not have",
                        flag(binding.setting),
                        binding.port,
                        stage.name()
                    )));
                }
            }
        }
        let mut inputs = Vec::new();
        for port in stage.inputs() {
            let topic = match (chosen(&config.inputs, port.name), port.topic) {
                (Some(TopicChoice::Named(topic)), _) => topic,
                (Some(TopicChoice::Prefix(prefix)), DefaultTopic::Named(topic)) => {
                    format!("{prefix}{topic}")
                }
                (None, DefaultTopic::Named(topic)) => topic.to_owned(),
                (_, DefaultTopic::PerKey(_)) => {
                    return Err(wiring(format!(
                        "stage {} reads {:?} from a topic per key, which the runner cannot",
                        stage.name(),
                        port.name
                    )));
                }
            };
            check_topic(&format!("{}_topic", port.name), &topic).map_err(wiring)?;
            inputs.push((topic, port.kind));
        }
        let outputs = stage
            .outputs()
            .iter()
            .map(|port| {
                let target = match (chosen(&config.outputs, port.name), port.topic) {
                    (Some(TopicChoice::Named(topic)), _) => Target::One(topic),
                    (Some(TopicChoice::Prefix(prefix)), DefaultTopic::Named(topic)) => {
                        Target::One(format!("{prefix}{topic}"))
                    }
                    (Some(TopicChoice::Prefix(prefix)), DefaultTopic::PerKey(name)) => {
                        Target::PerKey { prefix, name }
                    }
                    (None, DefaultTopic::Named(topic)) => Target::One(topic.to_owned()),
                    (None, DefaultTopic::PerKey(name)) => Target::PerKey {
                        prefix: String::new(),
                        name,
                    },
                };
                (port.name, target)
            })
            .collect();
        Ok(Self { inputs, outputs })
    }

    /// The topics to subscribe to.
    pub(crate) fn input_topics(&self) -> Vec<&str> {
        self.inputs
            .iter()
            .map(|(topic, _)| topic.as_str())
            .collect()
    }

    /// The kind of event on an input topic.
    pub(crate) fn input_kind(&self, topic: &str) -> Option<EventKind> {
        self.inputs
            .iter()
            .find(|(name, _)| name == topic)
            .map(|(_, kind)| *kind)
    }

    /// The main output's topic, for the log.
    pub(crate) fn primary_topic(&self) -> Option<&str> {
        self.outputs.first().and_then(|(_, target)| match target {
            Target::One(topic) => Some(topic.as_str()),
            Target::PerKey { .. } => None,
        })
    }

    /// The topic of a route, if the stage has its output (and a key when it needs one).
    pub(crate) fn topic(&self, route: &Route) -> Option<String> {
        let (_, target) = self
            .outputs
            .iter()
            .find(|(name, _)| *name == route.output)?;
        match (target, &route.key) {
            (Target::One(topic), None) => Some(topic.clone()),
            (Target::PerKey { prefix, name }, Some(key)) => Some(format!("{prefix}{}", name(key))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use newsflow_core::dedup::DUPLICATES;
    use newsflow_core::stage::PRIMARY;
    use newsflow_core::stage::{INPUT, Port};
    use newsflow_core::tag::TOPIC_COPIES;
    use newsflow_core::{DedupStage, Emit, Event, StageContext, StageError, TagStage};

    use super::*;

    fn config(outputs: Vec<TopicBinding>) -> RunnerConfig {
        let mut config = crate::config::tests::sample();
        config.outputs = outputs;
        config
    }

    #[test]
    fn flags_choose_topics_and_the_stage_the_rest() {
        let config = config(vec![TopicBinding::named(PRIMARY, "output_topic", "out")]);
        let routes = Routes::resolve(&config, &DedupStage::default()).unwrap();
        assert_eq!(routes.input_topics(), ["in"]);
        assert_eq!(routes.input_kind("in"), Some(EventKind::Normalized));
        assert_eq!(routes.topic(&Route::PRIMARY).as_deref(), Some("out"));
        assert_eq!(
            routes.topic(&Route::to(DUPLICATES)).as_deref(),
            Some("news.duplicates.v1"),
            "the stage's default"
        );
        assert_eq!(routes.topic(&Route::to("nowhere")), None);
    }

    #[test]
    fn a_prefix_goes_before_every_topic_of_a_keyed_output() {
        let config = config(vec![TopicBinding::prefix(
            TOPIC_COPIES,
            "tag_topic_prefix",
            "staging.",
        )]);
        let routes = Routes::resolve(&config, &TagStage::default()).unwrap();
        assert_eq!(
            routes
                .topic(&Route::keyed(TOPIC_COPIES, "world"))
                .as_deref(),
            Some("staging.news.topic.world.v1")
        );
        assert_eq!(
            routes.topic(&Route::to(TOPIC_COPIES)),
            None,
            "a key is needed"
        );
        assert_eq!(
            routes.topic(&Route::PRIMARY).as_deref(),
            Some("news.enriched.v1")
        );
    }

    /// Reads articles and duplicate notices, as the story service will.
    struct TwoInputs;

    impl Stage for TwoInputs {
        fn name(&self) -> &'static str {
            "two-inputs"
        }
        fn inputs(&self) -> &'static [Port] {
            const {
                &[
                    Port::new(INPUT, EventKind::Enriched, "news.enriched.v1"),
                    Port::new(DUPLICATES, EventKind::DuplicateNotice, "news.duplicates.v1"),
                ]
            }
        }
        fn outputs(&self) -> &'static [Port] {
            const { &[Port::new(PRIMARY, EventKind::Enriched, "news.stories.v1")] }
        }
        fn process(&mut self, _: Event, _: &StageContext) -> Result<Vec<Emit>, StageError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn a_stage_reads_every_input_it_declares_each_with_its_kind() {
        let mut config = config(Vec::new());
        config.inputs.push(TopicBinding::named(
            DUPLICATES,
            "duplicates_topic",
            "staging.duplicates",
        ));
        let routes = Routes::resolve(&config, &TwoInputs).unwrap();
        assert_eq!(routes.input_topics(), ["in", "staging.duplicates"]);
        assert_eq!(
            routes.input_kind("staging.duplicates"),
            Some(EventKind::DuplicateNotice)
        );
        assert_eq!(routes.input_kind("in"), Some(EventKind::Enriched));
    }

    #[test]
    fn every_name_is_checked_alike() {
        let bad = config(vec![TopicBinding::named(
            DUPLICATES,
            "duplicates_topic",
            "a b",
        )]);
        let err = Routes::resolve(&bad, &DedupStage::default()).unwrap_err();
        assert!(
            err.to_string().contains("--duplicates-topic \"a b\""),
            "{err}"
        );
        let unknown = config(vec![TopicBinding::named(
            DUPLICATES,
            "duplicates_topic",
            "d",
        )]);
        let err = Routes::resolve(&unknown, &TagStage::default()).unwrap_err();
        assert!(err.to_string().contains("does not have"), "{err}");
        let prefix = config(vec![TopicBinding::prefix(
            TOPIC_COPIES,
            "tag_topic_prefix",
            "a/",
        )]);
        assert!(Routes::resolve(&prefix, &TagStage::default()).is_err());
    }
}
