//! WeCom's tolerant JSON decoding of request fields.
//!
//! WeCom maps JSON onto protobuf-style messages: an integer field accepts a JSON number or a
//! string of decimal digits, `null` means "not given", and a zero integer or an empty string
//! is indistinguishable from "not given". Clients rely on all of this (many send
//! `"start_time": 0` or `"cursor": ""`), so the server decodes field by field with these
//! helpers and reports the first bad field by name.
//!
//! A field of a nested object is named by its path (`"reminders.repeat_type"`): read the
//! nested object with [`Fields::object`], then ask for `"reminders.repeat_type"`; the lookup
//! uses the last segment and the error carries the whole path, so a client learns exactly
//! which field to fix.

use serde_json::{Map, Value};

/// A request field that is malformed, out of range or missing; carries the field's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadField(pub &'static str);

/// A JSON object body, read field by field.
#[derive(Debug)]
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        Self { obj }
    }

    /// The value of `name`, looked up by its last `.`-separated segment.
    fn get(&self, name: &str) -> Option<&'a Value> {
        let key = name.rsplit('.').next().unwrap_or(name);
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// An optional string; `""` counts as absent. A non-string is a bad field, and so is a
    /// string with a NUL character: no id, name or text of WeCom's holds one, and PostgreSQL
    /// cannot store or even compare one, so letting it through made the same request a
    /// clean "not found" on SQLite and a -1 on PostgreSQL.
    pub fn opt_str(&self, name: &'static str, max_len: usize) -> Result<Option<&'a str>, BadField> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s.len() <= max_len && !s.contains('\0') => {
                Ok(Some(s.as_str()))
            }
            Some(_) => Err(BadField(name)),
        }
    }

    /// A required, non-empty string.
    pub fn req_str(&self, name: &'static str, max_len: usize) -> Result<&'a str, BadField> {
        self.opt_str(name, max_len)?.ok_or(BadField(name))
    }

    /// An optional unsigned integer no larger than `max`; `0` is returned as `Some(0)` so
    /// the caller decides whether zero means "default".
    pub fn opt_uint(&self, name: &'static str, max: u64) -> Result<Option<u64>, BadField> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n = parse_uint(v).ok_or(BadField(name))?;
        if n > max {
            return Err(BadField(name));
        }
        Ok(Some(n))
    }

    /// An optional `uint32` field.
    pub fn opt_u32(&self, name: &'static str) -> Result<Option<u32>, BadField> {
        Ok(self.opt_uint(name, u64::from(u32::MAX))?.map(|n| n as u32))
    }

    /// An optional boolean (`true`/`false` only).
    pub fn opt_bool(&self, name: &'static str) -> Result<Option<bool>, BadField> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(BadField(name)),
        }
    }

    /// The raw value of a field, `null` folded into absent.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.get(name)
    }

    /// An optional nested object, to read with its own [`Fields`]; anything else is a bad field.
    pub fn object(&self, name: &'static str) -> Result<Option<Fields<'a>>, BadField> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Fields::new(m))),
            Some(_) => Err(BadField(name)),
        }
    }

    /// An optional array of unsigned integers (each a number or a digit string) no larger
    /// than `max`, at most `max_items` long. Any bad element makes the whole field bad.
    pub fn opt_uint_list(
        &self,
        name: &'static str,
        max: u64,
        max_items: usize,
    ) -> Result<Option<Vec<u64>>, BadField> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) if items.len() <= max_items => items
                .iter()
                .map(|v| parse_uint(v).filter(|&n| n <= max).ok_or(BadField(name)))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(BadField(name)),
        }
    }

    /// An optional array of non-empty strings of at most `max_len` bytes each, at most
    /// `max_items` long.
    pub fn opt_str_list(
        &self,
        name: &'static str,
        max_len: usize,
        max_items: usize,
    ) -> Result<Option<Vec<&'a str>>, BadField> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) if items.len() <= max_items => items
                .iter()
                .map(|v| match v {
                    Value::String(s)
                        if !s.is_empty() && s.len() <= max_len && !s.contains('\0') =>
                    {
                        Ok(s.as_str())
                    }
                    _ => Err(BadField(name)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(BadField(name)),
        }
    }
}

/// Serde for integers that travel as JSON numbers but may arrive as digit strings
/// (`null` and `""` read as 0): how a client decodes WeCom's replies, which are not consistent
/// about it. Always written as a number.
pub mod serde_uint {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(0),
            Value::String(s) if s.is_empty() => Ok(0),
            v => super::parse_uint(&v)
                .ok_or_else(|| D::Error::custom(format!("expected an unsigned integer, got {v}"))),
        }
    }
}

/// A non-negative integer from a JSON number or a string of ASCII decimal digits.
/// Fractions, signs, exponents, blanks and overflow are all refused.
pub fn parse_uint(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse::<u64>().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_string_with_a_nul_is_a_bad_field() {
        let body = json!({"meetingid": "m\0", "ids": ["a", "\0"], "ok": "fine"});
        let f = Fields::new(body.as_object().unwrap());
        assert_eq!(f.opt_str("meetingid", 64), Err(BadField("meetingid")));
        assert_eq!(f.opt_str_list("ids", 64, 10), Err(BadField("ids")));
        assert_eq!(f.opt_str("ok", 64), Ok(Some("fine")));
    }

    #[test]
    fn uint_accepts_numbers_and_digit_strings_only() {
        assert_eq!(parse_uint(&json!(168888888)), Some(168888888));
        assert_eq!(parse_uint(&json!("168888888")), Some(168888888));
        assert_eq!(parse_uint(&json!("0")), Some(0));
        for bad in [
            json!(-1),
            json!(1.5),
            json!("1.5"),
            json!("-1"),
            json!("+1"),
            json!(" 1"),
            json!(""),
            json!("1e3"),
            json!(true),
            json!([1]),
            json!({}),
            json!("99999999999999999999999"),
        ] {
            assert_eq!(parse_uint(&bad), None, "{bad}");
        }
    }

    #[test]
    fn fields_name_the_bad_one_and_fold_null_and_empty() {
        let body =
            json!({"a": null, "b": "", "c": 5, "d": "x", "e": 4294967296u64, "f": "4294967295"});
        let f = Fields::new(body.as_object().unwrap());
        assert_eq!(f.opt_str("a", 10), Ok(None));
        assert_eq!(f.opt_str("b", 10), Ok(None));
        assert_eq!(f.opt_str("c", 10), Err(BadField("c")));
        assert_eq!(f.req_str("b", 10), Err(BadField("b")));
        assert_eq!(f.req_str("d", 0), Err(BadField("d")));
        assert_eq!(f.opt_u32("c"), Ok(Some(5)));
        assert_eq!(f.opt_u32("d"), Err(BadField("d")));
        assert_eq!(f.opt_u32("e"), Err(BadField("e")));
        assert_eq!(f.opt_u32("f"), Ok(Some(u32::MAX)));
        assert_eq!(f.opt_u32("missing"), Ok(None));
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let body = json!({"reminders": {"repeat_type": "x", "repeat_interval": "2",
                          "days": [1, "2"], "bad_days": [1, -2], "ids": ["a", ""]},
                          "scalar": 3});
        let f = Fields::new(body.as_object().unwrap());
        let r = f.object("reminders").unwrap().unwrap();
        assert_eq!(
            r.opt_u32("reminders.repeat_type"),
            Err(BadField("reminders.repeat_type"))
        );
        assert_eq!(r.opt_u32("reminders.repeat_interval"), Ok(Some(2)));
        assert_eq!(
            r.opt_uint_list("reminders.days", 7, 7),
            Ok(Some(vec![1, 2]))
        );
        assert_eq!(
            r.opt_uint_list("reminders.days", 1, 7),
            Err(BadField("reminders.days"))
        );
        assert_eq!(
            r.opt_uint_list("reminders.days", 7, 1),
            Err(BadField("reminders.days"))
        );
        assert_eq!(
            r.opt_uint_list("reminders.bad_days", 7, 7),
            Err(BadField("reminders.bad_days"))
        );
        assert_eq!(
            r.opt_str_list("reminders.ids", 8, 8),
            Err(BadField("reminders.ids"))
        );
        assert_eq!(f.object("scalar").err(), Some(BadField("scalar")));
        assert!(f.object("missing").unwrap().is_none());
    }
}
