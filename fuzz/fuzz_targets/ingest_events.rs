//! Ingest bodies, as the ingest API reads them: the first byte picks JSON array or NDJSON,
//! the rest is the body; every event it yields is validated. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollcall_core::ingest::{parse_event, split_events};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    if let Ok(items) = split_events(body, mode & 1 == 1) {
        for item in items.into_iter().flatten() {
            let _ = parse_event(&item);
        }
    }
});
