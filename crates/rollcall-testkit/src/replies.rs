//! Checks on WeCom replies: every error's errmsg is in WeCom's real shape,
//! `<text>, hint: [<secs>_<6 hex>], from ip: <ip>, more info at
//! https://open.work.weixin.qq.com/devtool/query?e=<errcode>`.

use serde_json::Value;

/// What follows `from ip: <ip>` in every error's errmsg.
pub const MORE_INFO: &str = ", more info at https://open.work.weixin.qq.com/devtool/query?e=";

/// The text of an errmsg before `, hint: [...]`, after checking the rest of WeCom's shape: the
/// request id's form, a parseable caller address, and the query link naming the reply's own
/// errcode.
pub fn errtext(reply: &Value) -> String {
    let msg = reply["errmsg"].as_str().expect("errmsg");
    let (text, tail) = msg
        .split_once(", hint: [")
        .unwrap_or_else(|| panic!("no hint in {msg:?}"));
    let (id, tail) = tail
        .split_once("], from ip: ")
        .unwrap_or_else(|| panic!("no caller ip in {msg:?}"));
    let (secs, hex) = id.split_once('_').expect("id shape");
    assert!(
        secs.bytes().all(|b| b.is_ascii_digit())
            && hex.len() == 6
            && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let (ip, code) = tail
        .split_once(MORE_INFO)
        .unwrap_or_else(|| panic!("no query link in {msg:?}"));
    ip.parse::<std::net::IpAddr>()
        .unwrap_or_else(|_| panic!("caller ip {ip:?} in {msg:?}"));
    assert_eq!(
        code,
        reply["errcode"].to_string(),
        "the link's code: {msg:?}"
    );
    text.to_owned()
}

/// The caller address an error's errmsg names.
pub fn errmsg_ip(reply: &Value) -> String {
    let msg = reply["errmsg"].as_str().expect("errmsg");
    let tail = msg.split_once("], from ip: ").expect("caller ip").1;
    tail.split_once(MORE_INFO).expect("query link").0.to_owned()
}

/// Assert a WeCom error with this errcode; returns the text before the hint.
pub fn expect_err(reply: &Value, code: i64) -> String {
    assert_eq!(reply["errcode"], code, "{reply}");
    errtext(reply)
}
