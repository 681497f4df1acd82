//! `rollcall serve --demo`: a corp, an app and meetings with realistic attendance, ready to
//! query.
//!
//! It lives in the server library, not the binary, because it is a client of the server:
//! it seeds everything through the public HTTP surface, in-process (`local`), exactly as
//! an operator and a media server would — the directory and the meetings whose attendance
//! is already history through the admin API (SPEC §6), attendance through the ingest API
//! (SPEC §5), with events shaped exactly as SPEC §5 shows. So the demo exercises the real
//! paths end to end and doubles as a worked example of both APIs. The binary keeps only the
//! glue: call [`seed`], print `banner`, run [`run_live`] until shutdown.
//!
//! Which meetings come from where: `meeting/create` only accepts a start in the future (as
//! WeCom's does), so the meetings that are still ahead — the upcoming recurring meeting and
//! a pending one-off — are created as an app would, from a WeCom request body (see
//! `local` for why that one call is not made over HTTP). The meetings whose attendance is
//! already history (and the live one, which started minutes ago) cannot be made that way, so
//! they come from the admin API's `POST /admin/v1/meetings`, which is there for that; the
//! alternative, rewinding the clock to create them, would only work on a virtual clock.
//!
//! Randomness comes from one generator drawn from the server's [`IdGen`], so `--seed N`
//! (with `--clock virtual:T`) reproduces the same demo: the same secret, meeting ids and
//! codes, events and banner. The order of every draw is part of that contract.
//!
//! Data directory: the binary runs the demo in a fresh temporary directory unless one is
//! named. With an explicit directory the demo is idempotent: meetings already there (found
//! by title through `Store::meetings_of`) are reused, not duplicated; only the live meeting
//! is created anew on every start, since the old one's hour has passed.
//!
//! # Layout
//! - `directory`: the corp spec (departments, members, the app and its visible range).
//! - `events`: devices, participants and the per-meeting event builder.
//! - `attendance`: the ended meetings' events (one-off, weekly, webinar, all-hands).
//! - `live`: the live meeting's feed and the task that keeps it going.
//! - `local`: the in-process client of the server's router.
//! - `banner`: the start-up text, with commands to paste.
//!
//! [`IdGen`]: rollcall_core::ids::IdGen

use rand::distributions::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use rollcall_core::model::AppRef;
use rollcall_core::DAY;
use rollcall_store::StoreError;

use crate::AppState;

mod attendance;
mod banner;
mod directory;
mod events;
mod live;
mod local;

pub use attendance::big_session_count;
pub use banner::banner;
pub use directory::{corp_spec, INVISIBLE_USER, VISIBLE_OUTSIDER};
pub use live::{run_live, LiveFeed};

use attendance::{big_events, oneoff_events, recurring_events, webinar_events};
use local::{create_as_app, DemoMeeting, Local};

/// The demo corp.
pub const CORPID: &str = "wwdemo0000000001";
/// The demo app (自建应用), enabled for the meeting API.
pub const AGENTID: u32 = 1000002;

const TITLE_ONEOFF: &str = "Q3 产品评审会";
const TITLE_RECURRING: &str = "平台组周例会";
const TITLE_WEBINAR: &str = "rollcall 发布会（网络研讨会）";
const TITLE_BIG: &str = "全员大会";
const TITLE_LIVE: &str = "研发日站会（进行中）";
const TITLE_UPCOMING: &str = "架构评审双周会";
const TITLE_PENDING: &str = "客户回访准备会";
/// Occurrences of the upcoming recurring meeting.
const UPCOMING_COUNT: u32 = 6;

/// Events per ingest request while seeding (the ingest API's recommended batch).
const BATCH: usize = 1000;
/// How long the live meeting is scheduled for; the feed stops when it ends.
const LIVE_DURATION: i64 = 4 * 3600;
const WEEK: i64 = 7 * DAY;
const HOUR: i64 = 3600;

/// What the banner shows.
#[derive(Debug, Clone)]
pub struct Demo {
    pub secret: String,
    pub oneoff: String,
    pub recurring: String,
    /// The latest past sub-meeting of the recurring meeting.
    pub sub_meetingid: String,
    pub webinar: String,
    pub big: String,
    pub big_sessions: usize,
    pub live: String,
    /// Recurring every two weeks from next week, made with `meeting/create`.
    pub upcoming: String,
    /// A one-off tomorrow, made with `meeting/create`.
    pub pending: String,
    /// Whether the ended meetings were found in the data directory rather than created.
    pub reused: bool,
}

/// Why the demo could not be seeded. Any refusal is a bug in the demo (or a server started
/// without the keys it needs), so it stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo seeds through the admin and ingest APIs, so both need a key.
    #[error("the demo needs the {0} API on: set ServerConfig's {0}_key")]
    KeyMissing(&'static str),
    /// The admin or ingest API answered with an error status (`message` is its `error`).
    #[error("{what}: {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    /// `meeting/create` refused the demo app's body.
    #[error("{0}")]
    MeetingCreate(String),
    /// The ingest API refused one of the demo's events.
    #[error("demo event {index} was refused: {error}")]
    EventRefused { index: usize, error: String },
    #[error("the demo corp is missing")]
    CorpMissing,
    #[error("the recurring demo meeting has no sub-meetings")]
    NoSubMeetings,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The generator the demo draws from: a function of the server's id generator, hence of
/// `--seed` when given.
fn demo_rng(state: &AppState) -> StdRng {
    StdRng::from_seed(state.ids().bytes::<32>())
}

fn alnum(rng: &mut StdRng, len: usize) -> String {
    rng.sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Ingest `items` in batches; any refusal is a bug in the demo, so it stops start-up.
async fn ingest_all(local: &Local, items: Vec<Value>) -> Result<usize, DemoError> {
    let mut accepted = 0;
    for batch in items.chunks(BATCH) {
        let report = local.ingest(batch).await?;
        if let Some(r) = report.rejected.first() {
            return Err(DemoError::EventRefused {
                index: r.index,
                error: r.error.clone(),
            });
        }
        accepted += report.accepted;
    }
    Ok(accepted)
}

/// Create a meeting of the demo app through `POST /admin/v1/meetings`.
async fn create(
    local: &Local,
    title: &str,
    meeting_type: u64,
    start: i64,
    duration: i64,
    subs: &[(i64, i64)],
) -> Result<DemoMeeting, DemoError> {
    let body = json!({
        "corpid": CORPID,
        "agentid": AGENTID,
        "meeting_type": meeting_type,
        "title": title,
        "meeting_start": start,
        "meeting_duration": duration,
        "admin_userid": "zhangsan",
        "sub_meetings": subs
            .iter()
            .map(|&(s, e)| json!({"start_time": s, "end_time": e}))
            .collect::<Vec<_>>(),
    });
    let mut m = local.create_meeting(title, &body).await?;
    m.meeting_start = start;
    Ok(m)
}

/// Seed the demo on `state`'s server: the corp (with a new app secret), the ended meetings
/// (or the ones already in the data directory), and a live meeting whose feed [`run_live`]
/// keeps going. The server must have both the admin and the ingest key configured.
pub async fn seed(state: &AppState) -> Result<(Demo, LiveFeed), DemoError> {
    let local = Local::new(state)?;
    let mut rng = demo_rng(state);
    let rng = &mut rng;
    let secret = alnum(rng, 32);
    local.put_corp(&corp_spec(&secret)).await?;
    let app = AppRef {
        corpid: CORPID.into(),
        agentid: AGENTID,
    };
    // Read from the store: listing an app's meetings over HTTP would take a token (see
    // `local` for why the demo makes none).
    let existing = state.store().meetings_of(&app).await?;
    let find = |title: &str| existing.iter().find(|m| m.title == title);
    let now = state.now();
    let hour = now - now.rem_euclid(HOUR);
    let mut reused = true;

    let oneoff = match find(TITLE_ONEOFF) {
        Some(m) => DemoMeeting::from(m),
        None => {
            reused = false;
            let m = create(&local, TITLE_ONEOFF, 0, hour - 26 * HOUR, 90 * 60, &[]).await?;
            ingest_all(&local, oneoff_events(&m.meetingid, m.meeting_start)).await?;
            m
        }
    };

    let recurring = match find(TITLE_RECURRING) {
        Some(m) => DemoMeeting::from(m),
        None => {
            reused = false;
            // Four past weekly occurrences and the next one.
            let subs: Vec<(i64, i64)> = [-4, -3, -2, -1, 1]
                .iter()
                .map(|w| (hour + w * WEEK, hour + w * WEEK + HOUR))
                .collect();
            let m = create(&local, TITLE_RECURRING, 1, subs[0].0, HOUR, &subs).await?;
            ingest_all(&local, recurring_events(&m, now, rng)).await?;
            m
        }
    };
    let sub_meetingid = recurring
        .sub_meetings
        .iter()
        .rev()
        .find(|s| s.end_time <= now)
        .or(recurring.sub_meetings.first())
        .map(|s| s.sub_meetingid.clone())
        .ok_or(DemoError::NoSubMeetings)?;

    let webinar = match find(TITLE_WEBINAR) {
        Some(m) => DemoMeeting::from(m),
        None => {
            reused = false;
            let m = create(&local, TITLE_WEBINAR, 6, hour - 3 * DAY, 2 * HOUR, &[]).await?;
            ingest_all(&local, webinar_events(&m.meetingid, m.meeting_start, rng)).await?;
            m
        }
    };

    let big = match find(TITLE_BIG) {
        Some(m) => DemoMeeting::from(m),
        None => {
            reused = false;
            let m = create(&local, TITLE_BIG, 0, hour - 2 * DAY, 3 * HOUR, &[]).await?;
            let started = std::time::Instant::now();
            let events = big_events(&m.meetingid, m.meeting_start, rng);
            let n = events.len();
            ingest_all(&local, events).await?;
            tracing::info!(
                events = n,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "seeded the big demo meeting"
            );
            m
        }
    };

    // Ahead of us, so made as an app makes them: an architecture review every two weeks from
    // next week, and a one-off tomorrow. Kept from the data directory only while still ahead
    // (they are not the ended meetings `reused` speaks of).
    let ahead = |title: &str| find(title).filter(|m| m.meeting_start > now);
    let upcoming =
        match ahead(TITLE_UPCOMING) {
            Some(m) => m.meetingid.clone(),
            None => create_as_app(
                state,
                json!({
                    "admin_userid": "lisi", "title": TITLE_UPCOMING,
                    "meeting_start": hour + WEEK + 2 * HOUR, "meeting_duration": HOUR,
                    "description": "架构决策记录（ADR）逐条过", "location": "研发中心 5F 会议室",
                    "invitees": {"userid": ["wangwu", "zhaoliu", "sunqi", "zhengshi"]},
                    "settings": {"remind_scope": 3, "allow_enter_before_host": true},
                    "reminders": {"is_repeat": 1, "repeat_type": 1, "repeat_interval": 2,
                                  "repeat_until_type": 1, "repeat_until_count": UPCOMING_COUNT,
                                  "remind_before": [900]}
                }),
            )
            .await?,
        };
    let pending = match ahead(TITLE_PENDING) {
        Some(m) => m.meetingid.clone(),
        None => {
            create_as_app(
                state,
                json!({
                    "admin_userid": "zhouba", "title": TITLE_PENDING,
                    "meeting_start": hour + DAY, "meeting_duration": 45 * 60,
                    "location": "线上", "invitees": {"userid": ["wujiu", "liuyang"]},
                    "settings": {"password": "2580"},
                    "reminders": {"remind_before": [300]}
                }),
            )
            .await?
        }
    };

    let start = now - now.rem_euclid(60) - 20 * 60;
    let live = create(&local, TITLE_LIVE, 0, start, LIVE_DURATION, &[]).await?;
    let mut feed = LiveFeed::new(&live.meetingid, start + LIVE_DURATION, rng);
    ingest_all(&local, feed.warm_up(start, now)).await?;

    Ok((
        Demo {
            secret,
            oneoff: oneoff.meetingid,
            recurring: recurring.meetingid,
            sub_meetingid,
            webinar: webinar.meetingid,
            big: big.meetingid,
            big_sessions: big_session_count(),
            live: live.meetingid,
            upcoming,
            pending,
            reused,
        },
        feed,
    ))
}
