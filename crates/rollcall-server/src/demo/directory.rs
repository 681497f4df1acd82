//! The demo corp's directory: five departments, twelve members, one app.
//!
//! Small enough to read at a glance, yet it shows each visibility case the attendee list
//! has: members inside the app's visible departments, an outsider made visible by name
//! ([`VISIBLE_OUTSIDER`]), and one who attends every meeting but is never listed
//! ([`INVISIBLE_USER`]).

use rollcall_core::directory::{AppSpec, CorpSpec};
use rollcall_core::model::{Department, User};

use super::{AGENTID, CORPID};

/// The demo's departments: HQ > R&D > Platform, HQ > Sales, and Advisors outside the app's
/// visible range (to show that invisible members are omitted).
const DEPARTMENTS: &[(u32, &str, u32)] = &[
    (1, "总部", 0),
    (2, "研发中心", 1),
    (3, "平台组", 2),
    (4, "销售部", 1),
    (5, "顾问团", 0),
];

/// `(userid, name, departments)`.
pub(super) const USERS: &[(&str, &str, &[u32])] = &[
    ("zhangsan", "张三", &[1]),
    ("lisi", "李四", &[2]),
    ("wangwu", "王五", &[3]),
    ("zhaoliu", "赵六", &[3]),
    ("sunqi", "孙七", &[3]),
    ("zhouba", "周八", &[4]),
    ("wujiu", "吴九", &[4]),
    ("zhengshi", "郑十", &[2]),
    ("chenjing", "陈静", &[1]),
    ("liuyang", "刘洋", &[4]),
    // Advisors: outside the visible departments; yangfan is made visible by name.
    ("yangfan", "杨帆", &[5]),
    ("huangmin", "黄敏", &[5]),
];
/// The advisor the app sees through `visible_users`.
pub const VISIBLE_OUTSIDER: &str = "yangfan";
/// The advisor the app does not see: present in every meeting, absent from every listing.
pub const INVISIBLE_USER: &str = "huangmin";

/// The demo corp's directory, with the app secret given.
pub fn corp_spec(secret: &str) -> CorpSpec {
    CorpSpec {
        corpid: CORPID.into(),
        name: "示例科技（rollcall demo）".into(),
        departments: DEPARTMENTS
            .iter()
            .map(|&(id, name, parent)| Department {
                id,
                name: name.into(),
                parent,
            })
            .collect(),
        users: USERS
            .iter()
            .map(|&(userid, name, depts)| User {
                userid: userid.into(),
                name: name.into(),
                departments: depts.to_vec(),
            })
            .collect(),
        apps: vec![AppSpec {
            agentid: AGENTID,
            name: "会议签到".into(),
            secret: secret.into(),
            meeting_api: true,
            enabled: true,
            visible_departments: vec![1],
            visible_users: vec![VISIBLE_OUTSIDER.into()],
            callback_url: None,
            callback_token: None,
            callback_aes_key: None,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_core::directory::merge;

    #[test]
    fn the_demo_directory_is_valid() {
        let corp = merge(None, &corp_spec("s")).expect("valid");
        assert_eq!(corp.users.len(), 12);
        assert!(corp.users.iter().any(|u| u.userid == INVISIBLE_USER));
    }
}
