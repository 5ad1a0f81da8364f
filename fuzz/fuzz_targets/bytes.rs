//! Any bytes as `content_base64` under a charset label taken from the input: charset
//! detection and decoding, then the whole chain.
#![no_main]

use std::sync::{LazyLock, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use newsflow_core::decode::decode_bytes;
use newsflow_core::event::ContentType;
use newsflow_fuzz::{Pipeline, raw};

static PIPELINE: LazyLock<Mutex<Pipeline>> = LazyLock::new(Mutex::default);

const LABELS: [&str; 6] = [
    "utf-8",
    "windows-1252",
    "shift_jis",
    "utf-16le",
    "koi8-r",
    "nonsense",
];

fuzz_target!(|input: (u8, bool, Vec<u8>)| {
    let (label, html, bytes) = input;
    let charset = LABELS[usize::from(label) % LABELS.len()];
    let _ = decode_bytes(&bytes, Some(charset));
    let _ = decode_bytes(&bytes, None);
    let content_type = if html {
        ContentType::TextHtml
    } else {
        ContentType::TextPlain
    };
    let mut event = raw(content_type, String::new());
    event.content = None;
    event.content_base64 = Some(STANDARD.encode(&bytes));
    event.charset = Some(charset.to_owned());
    if let Ok(mut pipeline) = PIPELINE.lock() {
        pipeline.run(event);
    }
});
