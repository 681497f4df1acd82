//! WeCom's tolerant JSON decoding of request fields.
//!
//! WeCom maps JSON onto protobuf-style messages: an integer field accepts a JSON number or a
//! string of decimal digits, `null` means "not given", and a zero integer or an empty string
//! is indistinguishable from "not given". Clients rely on all of this (many send
//! `"start_time": 0` or `"cursor": ""`), so the server decodes field by field with these
//! helpers and reports the first bad field by name.

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

    fn get(&self, name: &str) -> Option<&'a Value> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// An optional string; `""` counts as absent. A non-string is a bad field.
    pub fn opt_str(&self, name: &'static str, max_len: usize) -> Result<Option<&'a str>, BadField> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s.len() <= max_len => Ok(Some(s.as_str())),
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
}
