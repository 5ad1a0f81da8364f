//! Any text as an HTML page, through the whole chain.
#![no_main]

use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use newsflow_core::event::ContentType;
use newsflow_fuzz::{Pipeline, raw};

static PIPELINE: LazyLock<Mutex<Pipeline>> = LazyLock::new(Mutex::default);

fuzz_target!(|page: String| {
    if let Ok(mut pipeline) = PIPELINE.lock() {
        pipeline.run(raw(ContentType::TextHtml, page));
    }
});
