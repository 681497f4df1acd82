//! Cursors come back from clients: any string must decode to a verified state or an error,
//! never a panic. A valid MAC is out of a fuzzer's reach, so the decoder's checks before the
//! MAC (base64, length, label) are what this exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollcall_core::crypto::ServerSecret;
use rollcall_core::cursor::{CursorState, UserMeetingsCursor};

fuzz_target!(|data: &[u8]| {
    let secret = ServerSecret::new([7; 32]);
    let s = String::from_utf8_lossy(data);
    let _ = CursorState::decode(&s, &secret);
    let _ = UserMeetingsCursor::decode(&s, &secret);
});
