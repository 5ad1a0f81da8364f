//! The tagger's taxonomy file: loaded and checked in one place (the tagger service and the
//! `newsflow` CLI both use it), and watched for changes while a service runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use newsflow_core::tag::Taxonomy;
use sha2::{Digest as _, Sha256};
use tokio_util::sync::CancellationToken;

/// Reads and validates a taxonomy file; the error lists every problem with its line.
pub fn load(path: &Path) -> anyhow::Result<Taxonomy> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the taxonomy {}", path.display()))?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> anyhow::Result<Taxonomy> {
    Taxonomy::from_yaml(text).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| format!("{}:{e}", path.display()))
            .collect();
        anyhow::anyhow!("invalid taxonomy:\n{}", lines.join("\n"))
    })
}

/// A taxonomy file watched for changes: polled, and each new content parsed.
#[derive(Debug)]
pub struct TaxonomyFile {
    path: PathBuf,
    poll: Duration,
    /// SHA-256 of the content last acted on.
    digest: [u8; 32],
}

impl TaxonomyFile {
    /// Loads the file, which is then watched from that content on.
    pub fn open(path: &Path, poll: Duration) -> anyhow::Result<(Self, Taxonomy)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the taxonomy {}", path.display()))?;
        let taxonomy = parse(path, &text)?;
        let file = Self {
            path: path.to_owned(),
            poll,
            digest: Sha256::digest(text.as_bytes()).into(),
        };
        Ok((file, taxonomy))
    }

    /// Waits for the next change of the file: the new taxonomy, or why it is not valid; `None`
    /// once `shutdown` is cancelled. An unreadable file (e.g. while it is replaced) is no
    /// change.
    pub async fn changed(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Option<anyhow::Result<Taxonomy>> {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return None,
                () = tokio::time::sleep(self.poll) => {}
            }
            let Ok(bytes) = std::fs::read(&self.path) else {
                continue;
            };
            let digest: [u8; 32] = Sha256::digest(&bytes).into();
            if digest != self.digest {
                self.digest = digest;
                let path = &self.path;
                return Some(match String::from_utf8(bytes) {
                    Ok(text) => parse(path, &text),
                    Err(err) => Err(anyhow::anyhow!(
                        "cannot read the taxonomy {}: {err}",
                        path.display()
                    )),
                });
            }
        }
    }

    /// Takes the content last seen as not acted on: it is offered again at the next poll.
    pub fn retry(&mut self) {
        self.digest = [0; 32];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_change_is_offered_once_an_invalid_one_with_its_errors() {
        let dir = tempfile_dir();
        let path = dir.join("taxonomy.yaml");
        let default = include_str!("../../core/taxonomy/default.yaml");
        std::fs::write(&path, default).unwrap();
        let (mut file, taxonomy) = TaxonomyFile::open(&path, Duration::from_secs(2)).unwrap();
        assert!(!taxonomy.topic_ids().is_empty());
        std::fs::write(&path, "topics: [").unwrap();
        let stop = CancellationToken::new();
        let err = file.changed(&stop).await.unwrap().unwrap_err();
        assert!(format!("{err:#}").contains("invalid taxonomy"), "{err:#}");
        std::fs::write(&path, default).unwrap();
        assert!(file.changed(&stop).await.unwrap().is_ok());
        stop.cancel();
        assert!(file.changed(&stop).await.is_none(), "shut down");
        assert!(format!("{:#}", load(&dir.join("none.yaml")).unwrap_err()).contains("cannot read"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("newsflow-taxonomy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
