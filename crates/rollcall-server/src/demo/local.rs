//! How the demo reaches the server: its own router, called in-process.
//!
//! The demo seeds its data the way an operator and a media server would: the directory and
//! the meetings that are already history through the admin API, attendance through the
//! ingest API, each with its bearer key. [`Local`] sends those requests to
//! [`router`](crate::router) with `tower::ServiceExt::oneshot`, so they pass through the
//! real extractors, key checks, body limits and validation, and no socket is involved.
//!
//! One call does not go over HTTP: [`create_as_app`], the meetings an app makes with
//! `meeting/create`. Over HTTP it would need `gettoken` first, and both `gettoken` (the
//! token's nonce) and the `/cgi-bin` envelope (each request's id) draw from the server's
//! id generator, which also names the meetings: a seeded demo would get other meeting ids
//! and codes than it always had. So that call reads the same WeCom body with the same
//! parser and runs the same operation as the handler, on behalf of the demo app.

use axum::body::{to_bytes, Body};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Request, StatusCode};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::ServiceExt;

use rollcall_core::model::{AppRef, Meeting};

use super::{DemoError, AGENTID, CORPID};
use rollcall_core::meeting_request::CreateRequest;

use crate::ops::caller::Caller;
use crate::ops::meeting::create;
use crate::{ApiError, AppState};

/// A meeting as the demo needs it: what the admin API's reply and the store both give.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct DemoMeeting {
    pub(super) meetingid: String,
    /// Not in the admin API's reply: the demo fills in the start it asked for.
    #[serde(default)]
    pub(super) meeting_start: i64,
    #[serde(default)]
    pub(super) sub_meetings: Vec<DemoSubMeeting>,
}

/// One occurrence of a recurring [`DemoMeeting`].
#[derive(Debug, Clone, Deserialize)]
pub(super) struct DemoSubMeeting {
    pub(super) sub_meetingid: String,
    pub(super) start_time: i64,
    pub(super) end_time: i64,
}

impl From<&Meeting> for DemoMeeting {
    fn from(m: &Meeting) -> Self {
        Self {
            meetingid: m.meetingid.clone(),
            meeting_start: m.meeting_start,
            sub_meetings: m
                .sub_meetings
                .iter()
                .map(|s| DemoSubMeeting {
                    sub_meetingid: s.sub_meetingid.clone(),
                    start_time: s.start_time,
                    end_time: s.end_time,
                })
                .collect(),
        }
    }
}

/// The ingest API's reply (SPEC §5), as far as the demo reads it.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct IngestReply {
    pub(super) accepted: usize,
    pub(super) rejected: Vec<Rejection>,
}

/// One refused event of an [`IngestReply`].
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Rejection {
    pub(super) index: usize,
    pub(super) error: String,
}

/// The server's router and the two bearer keys the demo calls it with.
#[derive(Clone)]
pub(super) struct Local {
    router: Router,
    admin_key: String,
    ingest_key: String,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("admin_key", &"<redacted>")
            .field("ingest_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Local {
    /// A client of `state`'s router; the demo needs both the admin and the ingest API on.
    pub(super) fn new(state: &AppState) -> Result<Self, DemoError> {
        let config = state.config();
        let admin_key = config
            .admin_key
            .clone()
            .ok_or(DemoError::KeyMissing("admin"))?;
        let ingest_key = config
            .ingest_key
            .clone()
            .ok_or(DemoError::KeyMissing("ingest"))?;
        Ok(Self {
            router: crate::router(state.clone()),
            admin_key,
            ingest_key,
        })
    }

    /// `POST path` with a JSON body and a bearer key; a non-2xx reply is an error naming
    /// `what` and carrying the API's `error` text.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        body: &impl Serialize,
        what: &str,
    ) -> Result<T, DemoError> {
        let refused = |status: StatusCode, message: String| DemoError::Refused {
            what: what.to_owned(),
            status: status.as_u16(),
            message,
        };
        let bytes = serde_json::to_vec(body)
            .map_err(|e| refused(StatusCode::BAD_REQUEST, e.to_string()))?;
        let req = Request::post(path)
            .header(AUTHORIZATION, format!("Bearer {key}"))
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .map_err(|e| refused(StatusCode::BAD_REQUEST, e.to_string()))?;
        let resp = match self.router.clone().oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
        let status = resp.status();
        let body = to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(|e| refused(status, format!("reading the reply: {e}")))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(refused(status, message));
        }
        serde_json::from_slice(&body)
            .map_err(|e| refused(status, format!("unreadable reply ({e})")))
    }

    /// `POST /admin/v1/corps`.
    pub(super) async fn put_corp(&self, spec: &impl Serialize) -> Result<(), DemoError> {
        self.post::<Value>(
            "/admin/v1/corps",
            &self.admin_key,
            spec,
            "applying the demo corp",
        )
        .await
        .map(drop)
    }

    /// `POST /admin/v1/meetings` with an `AdminMeeting` body.
    pub(super) async fn create_meeting(
        &self,
        title: &str,
        body: &Value,
    ) -> Result<DemoMeeting, DemoError> {
        let what = format!("creating demo meeting {title:?}");
        self.post("/admin/v1/meetings", &self.admin_key, body, &what)
            .await
    }

    /// `POST /ingest/v1/events` with a JSON array of events.
    pub(super) async fn ingest(&self, items: &[Value]) -> Result<IngestReply, DemoError> {
        self.post(
            "/ingest/v1/events",
            &self.ingest_key,
            &items,
            "storing demo attendance",
        )
        .await
    }
}

/// Create a meeting the way an app does: a WeCom `meeting/create` body, read and checked by
/// the same code as the HTTP call, on behalf of the demo app (see the module docs for why
/// not over HTTP).
pub(super) async fn create_as_app(state: &AppState, body: Value) -> Result<String, DemoError> {
    let corp = state.corp(CORPID).await?.ok_or(DemoError::CorpMissing)?;
    let app = AppRef {
        corpid: CORPID.into(),
        agentid: AGENTID,
    };
    let caller = Caller::new(corp, app).ok_or(DemoError::CorpMissing)?;
    let Value::Object(map) = &body else {
        return Err(DemoError::MeetingCreate(
            "a meeting/create body is an object".into(),
        ));
    };
    let req = CreateRequest::try_from(map).map_err(|e| {
        DemoError::MeetingCreate(format!(
            "demo meeting/create body refused: {}",
            ApiError::from(e).text()
        ))
    })?;
    let created = create::create(state, &caller, &req).await.map_err(|e| {
        DemoError::MeetingCreate(format!(
            "demo meeting/create refused: {}",
            ApiError::from(e).text()
        ))
    })?;
    Ok(created.meetingid)
}
