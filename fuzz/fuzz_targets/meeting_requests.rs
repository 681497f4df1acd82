//! WeCom request bodies: any bytes that parse as a JSON object go through every meeting
//! call's parser (and so through `rollcall_wire::lenient`'s field decoding). None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollcall_core::meeting_request::calls::{
    AttendeeRequest, CancelRequest, CreateRequest, InfoRequest, UpdateRequest,
    UserMeetingsRequest,
};
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    let _ = AttendeeRequest::try_from(&body);
    let _ = CreateRequest::try_from(&body);
    let _ = UpdateRequest::try_from(&body);
    let _ = CancelRequest::try_from(&body);
    let _ = InfoRequest::try_from(&body);
    let _ = UserMeetingsRequest::try_from(&body);
});
