//! Who calls an operation: the app, its corp's directory, and the members the app may see.
//!
//! The HTTP layer resolves it from the access token ([`crate::auth::AppToken`]); operations
//! take a `&Caller` and never see HTTP, so the demo (or a test) can call them as any app.

use std::sync::Arc;

use rollcall_core::model::{App, AppRef};
use rollcall_core::visibility::Visibility;

use crate::state::CorpView;

/// The calling app, resolved.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The app's corp, as cached (directory and every app's visible range).
    pub corp: Arc<CorpView>,
    /// The app itself.
    pub app: AppRef,
    /// The members this app may see (its 可见范围).
    pub visibility: Arc<Visibility>,
}

impl Caller {
    /// The caller `app` of `corp`; `None` if the corp has no such app.
    pub fn new(corp: Arc<CorpView>, app: AppRef) -> Option<Self> {
        corp.app(app.agentid)?;
        let visibility = corp.visibility_of(app.agentid);
        Some(Self {
            corp,
            app,
            visibility,
        })
    }

    /// The stored app (present: checked by [`Caller::new`]).
    pub fn app_record(&self) -> &App {
        self.corp
            .app(self.app.agentid)
            .expect("checked by Caller::new")
    }

    /// Is `userid` a member of the caller's corp?
    pub fn is_member(&self, userid: &str) -> bool {
        self.corp.directory.users.iter().any(|u| u.userid == userid)
    }

    /// Is `userid` a member of the caller's corp *within the app's visible range*? WeCom's
    /// meeting pages: "发起人和企业内部参与人必须在应用可见范围内" and, for invitees, "任何userid
    /// 不合法或者不在应用可见范围，直接报错" (path/99104, 98148, 99047, 98154).
    pub fn in_range(&self, userid: &str) -> bool {
        self.visibility.sees_member(userid) && self.is_member(userid)
    }

    /// The first department of member `userid`, if any (WeCom's `main_department`).
    pub fn main_department(&self, userid: &str) -> Option<u64> {
        let user = self
            .corp
            .directory
            .users
            .iter()
            .find(|u| u.userid == userid)?;
        user.departments.first().map(|&d| u64::from(d))
    }
}
