//! The taxonomy the Kubernetes base deploys (a ConfigMap the tagger reloads) is valid, and it is
//! the built-in taxonomy unless someone meant to change it.

#![allow(clippy::unwrap_used)]

use newsflow_core::tag::{DEFAULT_TAXONOMY_YAML, Taxonomy};
use newsflow_testkit::workspace_root;

#[test]
fn the_deployed_taxonomy_is_the_built_in_one() {
    let path = workspace_root().join("deploy/k8s/base/taxonomy.yaml");
    let deployed = std::fs::read_to_string(&path).unwrap();
    let taxonomy = Taxonomy::from_yaml(&deployed)
        .unwrap_or_else(|errors| panic!("{}: {errors:?}", path.display()));
    // The deployed file is the built-in one behind a header comment.
    let body: String = deployed
        .lines()
        .skip_while(|line| {
            line.starts_with("# The tagger's taxonomy as deployed")
                || line.starts_with("# a test keeps")
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        body, DEFAULT_TAXONOMY_YAML,
        "deploy/k8s/base/taxonomy.yaml differs from crates/core/taxonomy/default.yaml: copy the \
new default over it (keeping its two header lines)"
    );
    assert_eq!(taxonomy.version(), Taxonomy::default().version());
}
