//! `settings` of `meeting/create` and `meeting/update`: checked and normalized.

use serde_json::{Map, Value};

use rollcall_wire::lenient::{BadField, Fields};
use rollcall_wire::meeting::MeetingSettings;

use super::{small, user_ids, MAX_HOSTS, MAX_USER_LIST};

/// `settings`, checked and normalized: the fields rollcall knows have their types checked
/// (integers may come as digit strings and are stored as numbers), the others are kept as
/// they are. `hosts` / `ring_users` are returned too, for the membership check.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsSpec {
    /// What is stored and shown by `meeting/get_info`.
    pub value: MeetingSettings,
    /// The userids of `settings.hosts` and `settings.ring_users`, by field path.
    pub members: Vec<(&'static str, Vec<String>)>,
}

/// Read `settings` from a request body (`None`: not given).
pub(super) fn settings(f: &Fields<'_>) -> Result<Option<SettingsSpec>, BadField> {
    let Some(raw) = f.raw("settings") else {
        return Ok(None);
    };
    let Value::Object(obj) = raw else {
        return Err(BadField("settings"));
    };
    let s = Fields::new(obj);
    let mut out: Map<String, Value> = obj.clone();
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            out.insert(key.to_owned(), v);
        }
    };
    if let Some(p) = s.opt_str("settings.password", 6)? {
        if !(4..=6).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadField("settings.password"));
        }
    }
    match small(&s, "settings.remind_scope", 4)? {
        Some(0) => return Err(BadField("settings.remind_scope")),
        v => set("remind_scope", v.map(Value::from)),
    }
    set(
        "enable_enter_mute",
        small(&s, "settings.enable_enter_mute", 2)?.map(Value::from),
    );
    set(
        "watermark_type",
        s.opt_u32("settings.watermark_type")?.map(Value::from),
    );
    for name in [
        "settings.enable_waiting_room",
        "settings.allow_enter_before_host",
        "settings.allow_unmute_self",
        "settings.allow_external_user",
        "settings.enable_screen_watermark",
        "settings.enable_host_key",
    ] {
        s.opt_bool(name)?;
    }
    if let Some(t) = s.opt_str("settings.auto_record_type", 16)? {
        if !matches!(t, "none" | "local" | "cloud") {
            return Err(BadField("settings.auto_record_type"));
        }
    }
    if let Some(k) = s.opt_str("settings.host_key", 6)? {
        if !(6..=6).contains(&k.len()) || !k.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadField("settings.host_key"));
        }
    }
    let mut members = Vec::new();
    // `hosts`: at most 10 (WeCom); `ring_users`: no documented count, bounded for memory.
    for (name, max) in [
        ("settings.hosts", MAX_HOSTS),
        ("settings.ring_users", MAX_USER_LIST),
    ] {
        if let Some(ids) = user_ids(&s, name, max)? {
            let key = name.rsplit('.').next().unwrap_or(name);
            out.insert(key.to_owned(), serde_json::json!({ "userid": ids }));
            members.push((name, ids));
        }
    }
    // Every field typed in `MeetingSettings` was checked (or normalized) above, so this
    // reads the object get_info used to decode from the stored JSON; it cannot fail.
    let value = serde_json::from_value(Value::Object(out)).map_err(|_| BadField("settings"))?;
    Ok(Some(SettingsSpec { value, members }))
}
