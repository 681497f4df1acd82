//! The config file (settings and corps): any text parses or is refused with `file:line`,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rollcall_server::config::parse_config("fuzz.toml", text);
    }
});
