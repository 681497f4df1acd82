//! The request journal (SPEC §9): a bounded ring of recent `/cgi-bin/*` and ingest requests,
//! per node (in memory), with secrets and tokens redacted before anything is stored.
//!
//! # Layout
//! - [`Journal`]: the ring (`journal_size` entries, 0 = off), record, query, clear.
//! - [`Entry`]: one request as `GET /admin/v1/requests` shows it.
//! - [`redact_body`]: the pure redaction of a request body (JSON or text).

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

/// How much of a body an entry keeps (SPEC §9: "text up to 4 KiB").
pub const MAX_BODY: usize = 4 * 1024;

/// What replaces a secret or a token.
pub const MASK: &str = "***";

/// Field names whose values are secrets or tokens wherever they appear in a body.
const SECRET_KEYS: [&str; 3] = ["corpsecret", "access_token", "secret"];

/// One journaled request.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: u64,
    pub at_ms: i64,
    pub method: String,
    /// The request's path, never its query (which may carry a token or a secret).
    pub path: String,
    pub corpid: Option<String>,
    pub agentid: Option<u32>,
    /// `None` when the connection was dropped by a fault.
    pub status: Option<u16>,
    pub errcode: Option<i32>,
    pub latency_us: u64,
    pub request_id: Option<String>,
    /// The id of the fault applied, if any.
    pub fault: Option<String>,
    pub body: Value,
}

/// Which entries a query wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub limit: usize,
    /// The call name (`meeting/create`, `gettoken`, `ingest/v1/events`).
    pub call: Option<String>,
    pub errcode: Option<i32>,
}

/// The ring. Every method takes the lock for a bounded time.
#[derive(Debug)]
pub struct Journal {
    size: usize,
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    next_id: u64,
    entries: VecDeque<Entry>,
}

impl Journal {
    /// A ring of `size` entries; 0 turns the journal off.
    pub fn new(size: usize) -> Self {
        Self {
            size,
            inner: Mutex::new(Ring::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.size > 0
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Store `entry` (its id is assigned here), evicting the oldest when full.
    pub fn record(&self, mut entry: Entry) {
        if self.size == 0 {
            return;
        }
        let mut ring = self.ring();
        ring.next_id += 1;
        entry.id = ring.next_id;
        if ring.entries.len() >= self.size {
            ring.entries.pop_front();
        }
        ring.entries.push_back(entry);
    }

    /// Matching entries, newest first.
    pub fn query(&self, filter: &Filter) -> Vec<Entry> {
        self.ring()
            .entries
            .iter()
            .rev()
            .filter(|e| filter.errcode.is_none_or(|c| e.errcode == Some(c)))
            .filter(|e| {
                filter
                    .call
                    .as_deref()
                    .is_none_or(|c| super::call_name(&e.path) == Some(c))
            })
            .take(filter.limit)
            .cloned()
            .collect()
    }

    /// Forget every entry (ids keep counting, so an id is never reused).
    pub fn clear(&self) {
        self.ring().entries.clear();
    }
}

/// A body as the journal keeps it: `null` when empty; the JSON value with every secret field
/// masked when the whole body is JSON within [`MAX_BODY`]; otherwise its first 4 KiB as text,
/// with `"<secret key>": "<value>"` pairs masked. Any of `known` (the token or secret of the
/// query) is masked wherever it appears.
pub fn redact_body(bytes: &[u8], known: &[String]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    if bytes.len() <= MAX_BODY {
        if let Ok(mut v) = serde_json::from_slice::<Value>(bytes) {
            redact_value(&mut v, known);
            return v;
        }
    }
    let cut = &bytes[..bytes.len().min(MAX_BODY)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    for key in SECRET_KEYS {
        text = mask_text_pairs(&text, key);
    }
    Value::String(mask_known(text, known))
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("secret") || k.contains("token") || k == "password"
}

fn redact_value(v: &mut Value, known: &[String]) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if is_secret_key(k) {
                    *val = Value::String(MASK.into());
                } else {
                    redact_value(val, known);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact_value(i, known)),
        Value::String(s) => *s = mask_known(std::mem::take(s), known),
        _ => {}
    }
}

/// Replace every occurrence of a known secret (non-empty) with the mask.
fn mask_known(mut s: String, known: &[String]) -> String {
    for k in known.iter().filter(|k| !k.is_empty()) {
        if s.contains(k.as_str()) {
            s = s.replace(k.as_str(), MASK);
        }
    }
    s
}

/// In JSON-looking text (perhaps cut short), mask the string value of every `"key": "…"`.
fn mask_text_pairs(text: &str, key: &str) -> String {
    let needle = format!("\"{key}\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let after_key = at + needle.len();
        out.push_str(&rest[..after_key]);
        rest = &rest[after_key..];
        let trimmed = rest.trim_start();
        let Some(after_colon) = trimmed.strip_prefix(':') else {
            continue;
        };
        let value = after_colon.trim_start();
        let Some(inner) = value.strip_prefix('"') else {
            continue;
        };
        out.push_str(&rest[..rest.len() - value.len()]);
        // The value ends at the first unescaped quote, or with the text.
        let mut end = inner.len();
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = i;
                    break;
                }
                _ => escaped = false,
            }
        }
        out.push('"');
        out.push_str(MASK);
        if end < inner.len() {
            out.push('"');
            rest = &inner[end + 1..];
        } else {
            rest = "";
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_secret_fields_are_masked_at_any_depth() {
        let body =
            br#"{"corpsecret":"s3","a":{"access_token":"t0","x":[{"secret":"q"}]},"title":"ok"}"#;
        assert_eq!(
            redact_body(body, &[]),
            json!({"corpsecret":"***","a":{"access_token":"***","x":[{"secret":"***"}]},"title":"ok"})
        );
    }

    #[test]
    fn known_values_are_masked_inside_strings() {
        let body = br#"{"title":"my token is TOK123 ok"}"#;
        assert_eq!(
            redact_body(body, &["TOK123".into()]),
            json!({"title":"my token is *** ok"})
        );
    }

    #[test]
    fn text_and_long_bodies_are_cut_and_masked() {
        let mut body = br#"{"secret" : "abc\"def", "x": ""#.to_vec();
        body.extend(std::iter::repeat_n(b'y', 2 * MAX_BODY));
        let Value::String(s) = redact_body(&body, &[]) else {
            panic!("text")
        };
        assert!(s.starts_with(r#"{"secret" : "***", "x": "yyy"#), "{s}");
        assert!(s.len() <= MAX_BODY + 4);
        assert!(!s.contains("abc"));
        // A value cut short by the limit is masked to the end.
        assert_eq!(
            mask_text_pairs(r#"{"corpsecret": "abc"#, "corpsecret"),
            r#"{"corpsecret": "***"#
        );
        assert_eq!(
            redact_body(b"plain TOK text", &["TOK".into()]),
            json!("plain *** text")
        );
        assert_eq!(redact_body(b"  ", &[]), Value::Null);
    }

    fn entry(path: &str, errcode: i32) -> Entry {
        Entry {
            id: 0,
            at_ms: 0,
            method: "POST".into(),
            path: path.into(),
            corpid: None,
            agentid: None,
            status: Some(200),
            errcode: Some(errcode),
            latency_us: 1,
            request_id: None,
            fault: None,
            body: Value::Null,
        }
    }

    #[test]
    fn ring_is_bounded_newest_first_and_filtered() {
        let j = Journal::new(3);
        for (p, c) in [
            ("/cgi-bin/gettoken", 0),
            ("/cgi-bin/meeting/create", 40014),
            ("/cgi-bin/gettoken", 40001),
            ("/cgi-bin/meeting/create", 0),
        ] {
            j.record(entry(p, c));
        }
        let all = j.query(&Filter {
            limit: 10,
            ..Default::default()
        });
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 3, 2]);
        let f = Filter {
            limit: 10,
            call: Some("meeting/create".into()),
            errcode: None,
        };
        assert_eq!(j.query(&f).iter().map(|e| e.id).collect::<Vec<_>>(), [4, 2]);
        let f = Filter {
            limit: 10,
            call: None,
            errcode: Some(40001),
        };
        assert_eq!(j.query(&f).iter().map(|e| e.id).collect::<Vec<_>>(), [3]);
        assert_eq!(
            j.query(&Filter {
                limit: 1,
                ..Default::default()
            })
            .len(),
            1
        );
        j.clear();
        assert!(j
            .query(&Filter {
                limit: 10,
                ..Default::default()
            })
            .is_empty());
        let off = Journal::new(0);
        off.record(entry("/cgi-bin/gettoken", 0));
        assert!(off
            .query(&Filter {
                limit: 10,
                ..Default::default()
            })
            .is_empty());
    }
}
