//! Interop with an independent implementation of WeCom's callback crypto: wechatpy's
//! `WeChatCrypto` (`wechatpy.enterprise.crypto`, PyPI `wechatpy==1.8.18`).
//!
//! - a checked-in vector wechatpy produced is received by `CallbackReceiver` (always runs);
//! - live: wechatpy verifies and decrypts what `rollcall-callback` seals (the server's
//!   sender), and `CallbackReceiver` receives what wechatpy encrypts now.
//!
//! The live tests need python3 with wechatpy: they skip loudly without it, and fail when
//! `CI=true` (`.ci/run` installs it).

use std::io::Write;
use std::process::{Command, Stdio};

use rollcall_callback::{MsgCrypt, Sealed, UrlCheck};
use rollcall_client::callback::{
    CallbackError, CallbackQuery, CallbackReceiver, ChangeType, CryptoError, EncodingAesKey, Event,
    MeetingEvent,
};

const TOKEN: &str = "rollcallToken";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORPID: &str = "wwa1b2c3d4e5f60001";

/// Produced once by `WeChatCrypto(TOKEN, KEY, CORPID).encrypt_message(msg, "wechatpynonce",
/// 1760000000)` with wechatpy 1.8.18 (its passive-reply shape: the receiver needs only
/// `Encrypt`).
const WECHATPY_BODY: &str = "<xml>
<Encrypt><![CDATA[z7zxx7oXQlu4StMHqyfmG02ijjpJMQEBAIckXCvg25u9IitVRZORzpLFwFCWJBFAupTuGc/wpYA5vZQkY+/mgEJf8sSWUxtj4IOSH1ymEh4o5Ff4tFop4087SXolMsfQA9gJwjrE9IbWUxesjS8TC3Uc8lgrAGxhV923UsTeBqt1tVYOYBX/5ISYl5PqsTUGlVcX1m/YVZ6qWqeXbitkUmzfnpmecd49hUHWMjzDvggABi1teO5GjeNxs+ZgN1HsiGEhTHiuwXGXxYhVoneMsSIjkwQ5WYWt2CihWvv+NoZltLVcEJztD3m2YzEPw10igzHDLOqMrV21wQMGkmLLvlj4cBO0r7tbwz3vI7mVjWGln1XVqw8yXBXx3/1O9nASV8eZdOB02tuCs85lpUnYMISC60tX1ZgM7bXaWcROcLcGDclYwD53+xmgRPt8XqOJprQq1cRKQPgP/jZhI5wqDyTDZjathRcozGyqry+BSEnC7mxGS3NsnpPPnk7vAbBU]]></Encrypt>
<MsgSignature><![CDATA[7597d35c34d7b24fd00194c25333ef71136aaa34]]></MsgSignature>
<TimeStamp>1760000000</TimeStamp>
<Nonce><![CDATA[wechatpynonce]]></Nonce>
</xml>";

fn receiver() -> CallbackReceiver {
    CallbackReceiver::new(TOKEN, KEY, CORPID).unwrap()
}

fn crypt() -> MsgCrypt {
    MsgCrypt::new(TOKEN, EncodingAesKey::parse(KEY).unwrap(), CORPID)
}

fn ended(meeting_id: &str) -> MeetingEvent {
    MeetingEvent {
        to_user_name: CORPID.into(),
        from_user_name: "sys".into(),
        from_user_tmp_open_id: None,
        operated_user: None,
        create_time: 1_760_000_000,
        change_type: ChangeType::MeetingEnd,
        meeting_id: meeting_id.into(),
    }
}

fn query(signature: &str, timestamp: &str, nonce: &str) -> CallbackQuery {
    CallbackQuery {
        msg_signature: signature.into(),
        timestamp: timestamp.into(),
        nonce: nonce.into(),
        echostr: None,
    }
}

#[test]
fn receives_the_checked_in_wechatpy_vector() {
    let q = query(
        "7597d35c34d7b24fd00194c25333ef71136aaa34",
        "1760000000",
        "wechatpynonce",
    );
    let got = receiver().receive(&q, WECHATPY_BODY).unwrap();
    assert_eq!(got.event, Event::Meeting(ended("hyWECHATPYVECTOR")));
    assert_eq!(got.xml, ended("hyWECHATPYVECTOR").to_xml());
}

#[test]
fn the_vector_is_refused_when_tampered_or_for_another_corp() {
    // One hex digit of the signature changed.
    let q = query(
        "7597d35c34d7b24fd00194c25333ef71136aaa35",
        "1760000000",
        "wechatpynonce",
    );
    assert_eq!(
        receiver().receive(&q, WECHATPY_BODY).unwrap_err(),
        CallbackError::Crypto(CryptoError::Signature)
    );
    // Right signature, but this receiver belongs to another corp.
    let q = query(
        "7597d35c34d7b24fd00194c25333ef71136aaa34",
        "1760000000",
        "wechatpynonce",
    );
    let other = CallbackReceiver::new(TOKEN, KEY, "wwsomeoneelse").unwrap();
    assert!(matches!(
        other.receive(&q, WECHATPY_BODY).unwrap_err(),
        CallbackError::Crypto(CryptoError::ReceiveId { found }) if found == CORPID
    ));
    // A flipped bit in the next-to-last block flips the same bit of the last plaintext
    // byte, the padding length (the signature is recomputed so only decryption can notice).
    let mut bytes = base64_decode(WECHATPY_BODY);
    let at = bytes.len() - 17;
    bytes[at] ^= 0x01;
    let tampered = base64_encode(&bytes);
    let sig = rollcall_callback::signature(TOKEN, "1", "n", &tampered);
    let body = format!("<xml><Encrypt><![CDATA[{tampered}]]></Encrypt></xml>");
    let err = receiver()
        .receive(&query(&sig, "1", "n"), &body)
        .unwrap_err();
    assert_eq!(err, CallbackError::Crypto(CryptoError::Padding));
}

fn ciphertext_of(body: &str) -> &str {
    let start = body.find("<![CDATA[").unwrap() + 9;
    let end = body[start..].find("]]>").unwrap() + start;
    &body[start..end]
}

fn base64_decode(body: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(ciphertext_of(body))
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ---- live, against wechatpy ----

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether wechatpy can be imported; without it: skip loudly, or fail in CI.
fn wechatpy_available(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import wechatpy.enterprise.crypto"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !in_ci(),
            "{test}: python3 with wechatpy is not available, and CI=true: .ci/run must install it"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: {test}: python3 with wechatpy is not available (pip install wechatpy==1.8.18) ***\n"
        );
    }
    ok
}

/// Run a python snippet with `args` as `sys.argv[1:]`; its stdout.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const DECRYPT: &str = r#"
import sys
from wechatpy.enterprise.crypto import WeChatCrypto
token, key, corpid, body, sig, ts, nonce = sys.argv[1:]
sys.stdout.write(WeChatCrypto(token, key, corpid).decrypt_message(body, sig, ts, nonce))
"#;

const CHECK_URL: &str = r#"
import sys
from wechatpy.enterprise.crypto import WeChatCrypto
token, key, corpid, sig, ts, nonce, echostr = sys.argv[1:]
sys.stdout.write(WeChatCrypto(token, key, corpid).check_signature(sig, ts, nonce, echostr))
"#;

const ENCRYPT: &str = r#"
import sys
from wechatpy.enterprise.crypto import WeChatCrypto
token, key, corpid, msg, nonce, ts = sys.argv[1:]
sys.stdout.write(WeChatCrypto(token, key, corpid).encrypt_message(msg, nonce, int(ts)))
"#;

#[test]
fn wechatpy_decrypts_and_verifies_what_rollcall_sends() {
    if !wechatpy_available("wechatpy decrypts rollcall's callbacks") {
        return;
    }
    // A value with characters XML and CDATA care about, and non-ASCII.
    let event = ended("hy<&>]]>会议");
    let sealed = Sealed::new(&crypt(), 1_000_002, &event.to_xml(), 1_760_000_123, "n0nce");
    let q = &sealed.query;
    let plain = python(
        DECRYPT,
        &[
            TOKEN,
            KEY,
            CORPID,
            &sealed.envelope.to_xml(),
            &q.msg_signature,
            &q.timestamp,
            &q.nonce,
        ],
    );
    assert_eq!(plain, event.to_xml());
    assert_eq!(Event::from_xml(&plain).unwrap(), Event::Meeting(event));

    // wechatpy refuses the same body under a tampered signature.
    let mut bad = q.msg_signature.clone();
    let last = if bad.ends_with('0') { "1" } else { "0" };
    bad.replace_range(39.., last);
    let out = Command::new("python3")
        .arg("-c")
        .arg(DECRYPT)
        .args([
            TOKEN,
            KEY,
            CORPID,
            &sealed.envelope.to_xml(),
            &bad,
            &q.timestamp,
            &q.nonce,
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "wechatpy accepted a tampered signature"
    );
}

#[test]
fn wechatpy_answers_rollcalls_url_verification() {
    if !wechatpy_available("wechatpy answers rollcall's URL verification") {
        return;
    }
    let check = UrlCheck::new(&crypt(), 1_760_000_000, "abc");
    let q = &check.query;
    let answer = python(
        CHECK_URL,
        &[
            TOKEN,
            KEY,
            CORPID,
            &q.msg_signature,
            &q.timestamp,
            &q.nonce,
            q.echostr.as_deref().unwrap(),
        ],
    );
    assert!(check.accepts(answer.as_bytes()), "{answer:?}");
}

#[test]
fn rollcall_receives_what_wechatpy_encrypts_now() {
    if !wechatpy_available("rollcall receives wechatpy's callbacks") {
        return;
    }
    let event = ended("hyLIVE-中文");
    let body = python(
        ENCRYPT,
        &[
            TOKEN,
            KEY,
            CORPID,
            &event.to_xml(),
            "livenonce",
            "1760000456",
        ],
    );
    let sig = {
        let start = body.find("<MsgSignature><![CDATA[").unwrap() + 23;
        body[start..start + 40].to_owned()
    };
    let got = receiver()
        .receive(&query(&sig, "1760000456", "livenonce"), &body)
        .unwrap();
    assert_eq!(got.event, Event::Meeting(event));
}
