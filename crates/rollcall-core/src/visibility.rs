//! An app's visible range (SPEC §3, "Permissions").
//!
//! Members are visible when listed in `visible_users` or in a `visible_departments`
//! department *or any of its sub-departments*. External users and guests have no userid and
//! are always visible. Invisible members are omitted from listings, not blanked.

use rustc_hash::FxBuildHasher;
use std::collections::{HashMap, HashSet};

use crate::model::{App, Corp, Participant};

/// The set of members an app may see, computed once per directory version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// FxHash (rustc-hash), not SipHash: a page checks a hundred userids against the set,
    /// and SipHash was ~15% of a cached page's instructions (callgrind). Its flooding
    /// resistance is not needed: the keys are the directory's userids, which only the
    /// operator writes (admin API, config file).
    members: HashSet<String, FxBuildHasher>,
}

impl Visibility {
    pub fn compute(corp: &Corp, app: &App) -> Self {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for d in &corp.departments {
            children.entry(d.parent).or_default().push(d.id);
        }
        let mut depts: HashSet<u32> = HashSet::new();
        let mut stack: Vec<u32> = app.visible_departments.clone();
        while let Some(d) = stack.pop() {
            if depts.insert(d) {
                stack.extend(children.get(&d).into_iter().flatten().copied());
            }
        }
        let mut members: HashSet<String, FxBuildHasher> =
            app.visible_users.iter().cloned().collect();
        for u in &corp.users {
            if u.departments.iter().any(|d| depts.contains(d)) {
                members.insert(u.userid.clone());
            }
        }
        Self { members }
    }

    /// Is the member `userid` within the range? (What the meeting calls check of the userids
    /// they are given, without building a [`Participant`].)
    pub fn sees_member(&self, userid: &str) -> bool {
        self.members.contains(userid)
    }

    pub fn allows(&self, p: &Participant) -> bool {
        match p {
            Participant::Member(userid) => self.members.contains(userid),
            Participant::External(_) | Participant::Guest(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Department, User};

    fn corp() -> Corp {
        let d = |id, parent| Department {
            id,
            name: format!("d{id}"),
            parent,
        };
        let u = |id: &str, deps: Vec<u32>| User {
            userid: id.into(),
            name: String::new(),
            departments: deps,
        };
        Corp {
            corpid: "ww".into(),
            name: String::new(),
            // 1 ─ 2 ─ 3 ;  4 (separate tree)
            departments: vec![d(1, 0), d(2, 1), d(3, 2), d(4, 0)],
            users: vec![
                u("top", vec![1]),
                u("deep", vec![3]),
                u("other", vec![4]),
                u("both", vec![4, 3]),
                u("none", vec![]),
            ],
            apps: vec![],
        }
    }

    fn app(depts: Vec<u32>, users: Vec<&str>) -> App {
        App {
            agentid: 1,
            name: String::new(),
            secret_hash: [0; 32],
            meeting_api: true,
            enabled: true,
            visible_departments: depts,
            visible_users: users.into_iter().map(String::from).collect(),
            callback: None,
        }
    }

    fn sees(v: &Visibility, id: &str) -> bool {
        v.allows(&Participant::Member(id.into()))
    }

    #[test]
    fn sub_departments_are_included() {
        let v = Visibility::compute(&corp(), &app(vec![2], vec![]));
        assert!(sees(&v, "deep") && sees(&v, "both"));
        assert!(!sees(&v, "top") && !sees(&v, "other") && !sees(&v, "none"));
        let v = Visibility::compute(&corp(), &app(vec![1], vec![]));
        assert!(sees(&v, "top") && sees(&v, "deep"));
    }

    #[test]
    fn listed_users_and_non_members() {
        let v = Visibility::compute(&corp(), &app(vec![], vec!["none"]));
        assert!(sees(&v, "none") && !sees(&v, "top"));
        assert!(v.allows(&Participant::External("x".into())));
        assert!(v.allows(&Participant::Guest("g".into())));
        assert!(!sees(&v, "unknown-user"));
    }
}
