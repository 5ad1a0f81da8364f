//! `newsflow-core` stays pure (the guide's rule, issue 20): no clock and no printing in its
//! library code. Printing is denied by the crate's lints; the clock is checked here, so that
//! profiling code (`Instant::now()` per article) cannot come back unnoticed.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_library_never_reads_the_clock_or_prints() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 10,
        "found the sources under {}",
        src.display()
    );
    let forbidden = [
        "Instant::now",
        "SystemTime::now",
        "Utc::now",
        "Local::now",
        "println!",
        "eprintln!",
        "thread_local!",
    ];
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        // Unit tests at the end of a file may do as they like.
        let library = text.split("#[cfg(test)]").next().unwrap_or(&text);
        for (n, line) in library.lines().enumerate() {
            let code = line.split("//").next().unwrap_or(line);
            for word in forbidden.iter().filter(|w| code.contains(**w)) {
                found.push(format!("{}:{}: {word}", file.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "core must stay pure:\n{}",
        found.join("\n")
    );
}
