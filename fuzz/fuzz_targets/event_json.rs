//! Payload bytes as the runner receives them, decoded as each kind of event; a raw event that
//! decodes goes through the whole chain.
#![no_main]

use std::sync::{LazyLock, Mutex};

use libfuzzer_sys::fuzz_target;
use newsflow_core::event::{Event, EventKind};
use newsflow_fuzz::Pipeline;

static PIPELINE: LazyLock<Mutex<Pipeline>> = LazyLock::new(Mutex::default);

fuzz_target!(|data: &[u8]| {
    for kind in EventKind::ALL {
        if let Ok(Event::Raw(raw)) = Event::from_json(kind, data) {
            if let Ok(mut pipeline) = PIPELINE.lock() {
                pipeline.run(raw);
            }
        }
    }
});
