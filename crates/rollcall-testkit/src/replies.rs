//! Checks on WeCom replies: every error's errmsg ends in `, hint: [<secs>_<6 hex>]`.

use serde_json::Value;

/// The text of an errmsg before `, hint: [...]`, after checking the hint's shape.
pub fn errtext(reply: &Value) -> String {
    let msg = reply["errmsg"].as_str().expect("errmsg");
    let (text, hint) = msg
        .rsplit_once(", hint: [")
        .unwrap_or_else(|| panic!("no hint in {msg:?}"));
    let id = hint.strip_suffix(']').expect("hint closes");
    let (secs, hex) = id.split_once('_').expect("id shape");
    assert!(
        secs.bytes().all(|b| b.is_ascii_digit())
            && hex.len() == 6
            && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    text.to_owned()
}

/// Assert a WeCom error with this errcode; returns the text before the hint.
pub fn expect_err(reply: &Value, code: i64) -> String {
    assert_eq!(reply["errcode"], code, "{reply}");
    errtext(reply)
}
