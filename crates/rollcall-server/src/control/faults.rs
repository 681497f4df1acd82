//! Injected faults (SPEC §9): the rule table, per node (in memory), and its pure matching.
//!
//! # Layout
//! - [`FaultSpec`]: a rule as posted, checked by [`FaultSpec::validate`] (400 reasons).
//! - [`Action`]: what a matching rule does to a call.
//! - [`FaultTable`]: the rules in creation order with their hits; [`FaultTable::decide`]
//!   picks the first rule that matches and draws.
//! - [`Target`]: the call a rule is matched against (call name, corp, app).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use rollcall_wire::errcode;

/// Longest injectable delay: a fault must never hold a connection open for long.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// A rule as `POST /admin/v1/faults` takes it (and answers it back).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default = "one")]
    pub probability: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

fn one() -> f64 {
    1.0
}

/// What a rule does to a call it applies to (besides its latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// WeCom's body and headers for this errcode (on ingest: 503 with a reason).
    Errcode(i32),
    /// This HTTP status, empty body.
    HttpStatus(u16),
    /// Close the connection without answering.
    Drop,
}

/// The call a rule is matched against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    /// `gettoken`, `meeting/create`, `ingest/v1/events`, …, or `callback` (a delivery).
    pub call: &'a str,
    pub corpid: Option<&'a str>,
    pub agentid: Option<u32>,
}

impl FaultSpec {
    /// Refuse what cannot be applied, naming the problem.
    pub fn validate(&self) -> Result<(), String> {
        let callback = self.path == super::CALLBACK_CALL;
        if self.path != "*" && !callback && !super::CALLS.contains(&self.path.as_str()) {
            return Err(format!(
                "unknown path '{}': give a /cgi-bin/ call without the prefix ({}), {}, or *",
                self.path,
                super::CALLS.join(", "),
                super::CALLBACK_CALL
            ));
        }
        if callback && self.errcode.is_some() {
            return Err(
                "a callback fault stands in for the receiver, which has no errcode: give http_status, drop: true or latency_ms"
                    .into(),
            );
        }
        let actions = [
            self.errcode.is_some(),
            self.http_status.is_some(),
            self.drop,
        ];
        if actions.iter().filter(|a| **a).count() > 1 {
            return Err("give at most one of errcode, http_status, drop".into());
        }
        if !actions.contains(&true) && self.latency_ms.is_none() {
            return Err("give one of errcode, http_status, drop: true, or latency_ms".into());
        }
        if let Some(c) = self.errcode {
            if c == errcode::OK || errcode::text(c) == errcode::text(i32::MIN) {
                return Err(format!(
                    "errcode {c} is not one of WeCom's error codes rollcall knows (-1, 40001, 40013, 40014, 41001, 41002, 41004, 42001, 40058, 45009, 48002, 50100)"
                ));
            }
        }
        if self.http_status.is_some_and(|s| !(400..=599).contains(&s)) {
            return Err("http_status must be within 400..=599".into());
        }
        if self.latency_ms.is_some_and(|l| l > MAX_LATENCY_MS) {
            return Err(format!("latency_ms must be at most {MAX_LATENCY_MS}"));
        }
        if !(0.0..=1.0).contains(&self.probability) {
            return Err("probability must be within [0, 1]".into());
        }
        if self.times == Some(0) {
            return Err("times must be at least 1 (leave it out for no limit)".into());
        }
        Ok(())
    }

    pub fn action(&self) -> Option<Action> {
        match (self.errcode, self.http_status, self.drop) {
            (Some(c), _, _) => Some(Action::Errcode(c)),
            (_, Some(s), _) => Some(Action::HttpStatus(s)),
            (_, _, true) => Some(Action::Drop),
            _ => None,
        }
    }

    /// Does this rule cover the call? A rule naming a corp or an app matches only calls whose
    /// corp / app is known and the same (ingest calls have none).
    pub fn matches(&self, t: &Target<'_>) -> bool {
        let path = if self.path == "*" {
            t.call != super::CALLBACK_CALL
        } else {
            self.path == t.call
        };
        path && self.corpid.as_deref().is_none_or(|c| t.corpid == Some(c))
            && self.agentid.is_none_or(|a| t.agentid == Some(a))
    }
}

/// A rule in the table, as `GET /admin/v1/faults` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: String,
    #[serde(flatten)]
    pub spec: FaultSpec,
    pub hits: u64,
    /// Hits left before it retires; `None` without `times`.
    pub remaining: Option<u64>,
}

/// The fault a call got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub id: String,
    pub action: Option<Action>,
    pub latency_ms: u64,
}

/// The rules, in creation order.
#[derive(Debug, Default)]
pub struct FaultTable {
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    rules: Vec<Rule>,
}

impl FaultTable {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add a validated rule; its id.
    pub fn add(&self, spec: FaultSpec) -> Rule {
        let mut t = self.table();
        t.next_id += 1;
        let rule = Rule {
            id: format!("f{}", t.next_id),
            remaining: spec.times,
            spec,
            hits: 0,
        };
        t.rules.push(rule.clone());
        rule
    }

    pub fn list(&self) -> Vec<Rule> {
        self.table().rules.clone()
    }

    /// Is there any rule at all? (The layer skips all work when not.)
    pub fn is_empty(&self) -> bool {
        self.table().rules.is_empty()
    }

    /// Remove one rule; whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        let mut t = self.table();
        let before = t.rules.len();
        t.rules.retain(|r| r.id != id);
        t.rules.len() != before
    }

    /// Remove every rule (ids keep counting).
    pub fn clear(&self) {
        self.table().rules.clear();
    }

    /// The first live rule that matches `target` and whose probability draws, counted as a
    /// hit. `draw` gives a uniform number in [0, 1); it is called only for a probability
    /// strictly between 0 and 1, so certain rules leave the seeded sequence alone.
    pub fn decide(&self, target: &Target<'_>, mut draw: impl FnMut() -> f64) -> Option<Applied> {
        let mut t = self.table();
        let rule = t.rules.iter_mut().find(|r| {
            r.remaining != Some(0)
                && r.spec.matches(target)
                && match r.spec.probability {
                    p if p >= 1.0 => true,
                    p if p <= 0.0 => false,
                    p => draw() < p,
                }
        })?;
        rule.hits += 1;
        if let Some(n) = &mut rule.remaining {
            *n -= 1;
        }
        Some(Applied {
            id: rule.id.clone(),
            action: rule.spec.action(),
            latency_ms: rule.spec.latency_ms.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> FaultSpec {
        let s: FaultSpec = serde_json::from_value(v).expect("parses");
        s.validate().expect("valid");
        s
    }

    fn bad(v: serde_json::Value) -> String {
        let s: FaultSpec = serde_json::from_value(v).expect("parses");
        s.validate().expect_err("invalid")
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(bad(json!({"path": "nope", "errcode": -1})).contains("unknown path"));
        assert!(bad(json!({"path": "*", "errcode": -1, "drop": true})).contains("at most one"));
        assert!(bad(json!({"path": "*"})).contains("give one of"));
        assert!(bad(json!({"path": "*", "errcode": 12345})).contains("errcode"));
        assert!(bad(json!({"path": "*", "errcode": 0})).contains("errcode"));
        assert!(bad(json!({"path": "*", "http_status": 200})).contains("http_status"));
        assert!(
            bad(json!({"path": "*", "errcode": -1, "probability": 1.5})).contains("probability")
        );
        assert!(bad(json!({"path": "*", "errcode": -1, "times": 0})).contains("times"));
        assert!(serde_json::from_value::<FaultSpec>(json!({"path": "*", "colour": 1})).is_err());
        spec(json!({"path": "ingest/v1/events", "latency_ms": 5}));
        spec(json!({"path": "gettoken", "drop": true}));
        assert!(bad(json!({"path": "callback", "errcode": -1})).contains("no errcode"));
        spec(json!({"path": "callback", "http_status": 500, "agentid": 7}));
        spec(json!({"path": "callback", "drop": true}));
        spec(json!({"path": "callback", "latency_ms": 6000}));
    }

    #[test]
    fn matching_by_path_corp_and_app() {
        let s =
            spec(json!({"path": "meeting/create", "corpid": "c1", "agentid": 7, "errcode": -1}));
        let t = |call, corpid, agentid| Target {
            call,
            corpid,
            agentid,
        };
        assert!(s.matches(&t("meeting/create", Some("c1"), Some(7))));
        assert!(!s.matches(&t("meeting/create", Some("c1"), Some(8))));
        assert!(!s.matches(&t("meeting/create", Some("c2"), Some(7))));
        assert!(!s.matches(&t("meeting/get_info", Some("c1"), Some(7))));
        assert!(!s.matches(&t("meeting/create", None, None)));
        let any = spec(json!({"path": "*", "http_status": 502}));
        assert!(any.matches(&t("ingest/v1/events", None, None)));
        // Callbacks are named, never covered by `*`.
        assert!(!any.matches(&t("callback", Some("c1"), Some(7))));
        let cb = spec(json!({"path": "callback", "corpid": "c1", "http_status": 500}));
        assert!(cb.matches(&t("callback", Some("c1"), Some(7))));
        assert!(!cb.matches(&t("callback", Some("c2"), Some(7))));
        assert!(!cb.matches(&t("meeting/create", Some("c1"), Some(7))));
    }

    #[test]
    fn first_drawn_rule_applies_and_times_retire_it() {
        let table = FaultTable::default();
        table.add(spec(
            json!({"path": "gettoken", "errcode": 40014, "times": 2}),
        ));
        table.add(spec(json!({"path": "*", "http_status": 503})));
        let target = Target {
            call: "gettoken",
            ..Default::default()
        };
        let never = || -> f64 { panic!("certain rules do not draw") };
        let ids: Vec<_> = (0..3)
            .map(|_| table.decide(&target, never).unwrap().id)
            .collect();
        assert_eq!(ids, ["f1", "f1", "f2"]);
        let listed = table.list();
        assert_eq!((listed[0].hits, listed[0].remaining), (2, Some(0)));
        assert_eq!((listed[1].hits, listed[1].remaining), (1, None));
        assert!(table.remove("f2") && !table.remove("f2"));
        assert_eq!(table.decide(&target, never), None);
    }

    #[test]
    fn probability_draws_only_between_zero_and_one() {
        let table = FaultTable::default();
        table.add(spec(
            json!({"path": "*", "errcode": -1, "probability": 0.0}),
        ));
        table.add(spec(
            json!({"path": "*", "errcode": 45009, "probability": 0.5}),
        ));
        let target = Target {
            call: "meeting/get_info",
            ..Default::default()
        };
        assert_eq!(table.decide(&target, || 0.7), None);
        let hit = table.decide(&target, || 0.2).unwrap();
        assert_eq!(
            (hit.id.as_str(), hit.action),
            ("f2", Some(Action::Errcode(45009)))
        );
    }
}
