//! The deduplicator's settings, with defaults that suit a news stream on one machine.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Settings of [`DedupStage`](super::DedupStage). Every field has a default, so `{}` is a valid
/// configuration; unknown fields are refused so a typo cannot pass silently.
///
/// The defaults are tuned on the evaluation in `crates/core/tests/dedup_eval.rs`: 128 one-byte
/// MinHash values over word 5-shingles, 12 bands of 3 rows (a candidate is found with
/// probability 0.99 at Jaccard 0.7 and 0.8 at 0.5), confirmed at an estimated Jaccard of 0.65,
/// 3.4 standard deviations above 0.5, so pairs below 0.5 are not merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DedupConfig {
    /// How long a fingerprint is kept, in event time (`published_at`, else `fetched_at`, else
    /// `ingested_at`), behind the newest event time seen. Written as `"7d"`, `"36h"`.
    #[serde(with = "humantime_text")]
    pub window: Duration,
    /// Words per shingle.
    pub shingle_size: usize,
    /// MinHash values per signature (one byte each).
    pub num_hashes: usize,
    /// LSH bands: a retained article is a candidate when all rows of one band agree.
    pub bands: usize,
    /// Signature values per band; `bands * rows_per_band` must not exceed `num_hashes`.
    pub rows_per_band: usize,
    /// The estimated Jaccard similarity at which a candidate is confirmed as a near copy.
    pub threshold: f64,
    /// How far an event time may lie ahead of the stage's clock; later times count as the
    /// clock plus this, so one article with a wrong date cannot flush the window.
    #[serde(with = "humantime_text")]
    pub max_future_skew: Duration,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(7 * 24 * 3600),
            shingle_size: 5,
            num_hashes: 128,
            bands: 12,
            rows_per_band: 3,
            threshold: 0.65,
            max_future_skew: Duration::from_secs(24 * 3600),
        }
    }
}

/// A configuration the stage cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DedupConfigError {
    #[error("shingle_size must be between 1 and {max}, not {0}", max = MAX_SHINGLE)]
    ShingleSize(usize),
    #[error("num_hashes must be between 16 and {max}, not {0}", max = MAX_HASHES)]
    NumHashes(usize),
    #[error("rows_per_band must be between 1 and 8, not {0}")]
    Rows(usize),
    #[error("bands must be at least 1 and bands * rows_per_band ({0}) at most num_hashes ({1})")]
    Bands(usize, usize),
    #[error("threshold must be in (0, 1], not {0}")]
    Threshold(String),
    #[error("window must be at least one second")]
    Window,
}

pub(crate) const MAX_SHINGLE: usize = 16;
pub(crate) const MAX_HASHES: usize = 1024;

impl DedupConfig {
    /// Checks the settings together.
    pub fn validate(&self) -> Result<(), DedupConfigError> {
        if !(1..=MAX_SHINGLE).contains(&self.shingle_size) {
            return Err(DedupConfigError::ShingleSize(self.shingle_size));
        }
        if !(16..=MAX_HASHES).contains(&self.num_hashes) {
            return Err(DedupConfigError::NumHashes(self.num_hashes));
        }
        if !(1..=8).contains(&self.rows_per_band) {
            return Err(DedupConfigError::Rows(self.rows_per_band));
        }
        let banded = self.bands.saturating_mul(self.rows_per_band);
        if self.bands == 0 || banded > self.num_hashes {
            return Err(DedupConfigError::Bands(banded, self.num_hashes));
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(DedupConfigError::Threshold(self.threshold.to_string()));
        }
        if self.window.as_secs() == 0 {
            return Err(DedupConfigError::Window);
        }
        Ok(())
    }
}

/// Durations as humantime text (`"7d"`, `"1h 30m"`); the story stage's config uses it too.
pub(crate) mod humantime_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_config_gets_the_defaults() {
        let config: DedupConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, DedupConfig::default());
        config.validate().unwrap();
    }

    #[test]
    fn durations_are_read_as_text_and_typos_refused() {
        let config: DedupConfig =
            serde_json::from_str(r#"{"window": "36h", "threshold": 0.7}"#).unwrap();
        assert_eq!(config.window, Duration::from_secs(36 * 3600));
        assert_eq!(config.threshold, 0.7);
        let back: DedupConfig =
            serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back, config);
        assert!(serde_json::from_str::<DedupConfig>(r#"{"windw": "1d"}"#).is_err());
        assert!(serde_json::from_str::<DedupConfig>(r#"{"window": "soon"}"#).is_err());
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let bad = |edit: fn(&mut DedupConfig)| {
            let mut config = DedupConfig::default();
            edit(&mut config);
            config.validate().unwrap_err()
        };
        assert_eq!(
            bad(|c| c.shingle_size = 0),
            DedupConfigError::ShingleSize(0)
        );
        assert_eq!(bad(|c| c.bands = 100), DedupConfigError::Bands(300, 128));
        assert_eq!(bad(|c| c.rows_per_band = 9), DedupConfigError::Rows(9));
        assert!(matches!(
            bad(|c| c.threshold = f64::NAN),
            DedupConfigError::Threshold(_)
        ));
        assert_eq!(bad(|c| c.window = Duration::ZERO), DedupConfigError::Window);
    }
}
