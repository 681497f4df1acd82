//! `--demo`: a corp, an app and meetings with realistic attendance, ready to query.
//!
//! Everything goes through the same operations the HTTP API uses
//! ([`apply_corp`], [`meetings::create_meeting_as`], [`meetings::create_admin_meeting`], [`ingest`]), with events
//! shaped exactly as SPEC §5 shows, so the demo exercises the real paths and doubles as a
//! worked example of the ingest format.
//!
//! Which meetings come from where: `meeting/create` only accepts a start in the future (as
//! WeCom's does), so the meetings that are still ahead — the upcoming recurring meeting and
//! a pending one-off — are created exactly as an app would, from a WeCom request body
//! through [`meetings::create_meeting_as`]. The meetings whose attendance is already history (and
//! the live one, which started minutes ago) cannot be made that way, so they come from the
//! admin API's [`meetings::create_admin_meeting`], which is there for that; the alternative, rewinding the
//! clock to create them, would only work on a virtual clock.
//!
//! Randomness comes from one generator drawn from the server's [`IdGen`], so `--seed N` (with
//! `--clock virtual:T`) reproduces the same demo.
//!
//! Data directory: without an explicit `--data` (flag, env or file) the demo runs in a fresh
//! temporary directory removed at exit, so it never leaves 10,000 sessions in
//! `./rollcall-data`. With an explicit directory, the demo is idempotent: meetings already
//! there (found by title through `Store::meetings_of`) are reused, not duplicated; only the
//! live meeting is created anew on every start, since the old one's hour has passed.
//!
//! [`IdGen`]: rollcall_core::ids::IdGen

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use rand::distributions::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use rollcall_core::directory::{AppSpec, CorpSpec};
use rollcall_core::model::{AppRef, Department, Meeting, User};
use rollcall_core::DAY;
use rollcall_server::internal::{self as meetings, ingest, AdminMeeting, SubMeetingSpec};
use rollcall_server::{apply_corp, AppState};

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

/// Externals and guests in the big meeting; every [`BIG_REJOIN_EVERY`]th rejoins once.
const BIG_PARTICIPANTS: usize = 10_000;
const BIG_REJOIN_EVERY: usize = 8;
/// Events per `ingest` call while seeding (the ingest API's recommended batch).
const BATCH: usize = 1000;
/// How often the live meeting changes.
const LIVE_TICK: Duration = Duration::from_secs(2);
/// Upper bound on live ticks (4 hours' worth), so a forgotten demo stops growing.
const LIVE_MAX_TICKS: u32 = 7200;
/// How long the live meeting is scheduled for; the feed stops when it ends.
const LIVE_DURATION: i64 = 4 * 3600;
const WEEK: i64 = 7 * DAY;
const HOUR: i64 = 3600;

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
const USERS: &[(&str, &str, &[u32])] = &[
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
        }],
    }
}

/// The generator the demo draws from: a function of the server's id generator, hence of
/// `--seed` when given.
pub fn demo_rng(state: &AppState) -> StdRng {
    StdRng::from_seed(state.ids().bytes::<32>())
}

fn alnum(rng: &mut StdRng, len: usize) -> String {
    rng.sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A terminal, as the attendee list reports it.
#[derive(Debug, Clone, Copy)]
struct Device {
    instance_id: u32,
    join_type: u32,
    net: &'static str,
}

const PSTN: Device = Device {
    instance_id: 0,
    join_type: 0,
    net: "未知",
};
const PC: Device = Device {
    instance_id: 1,
    join_type: 1,
    net: "有线",
};
const MAC: Device = Device {
    instance_id: 2,
    join_type: 1,
    net: "WIFI",
};
const ANDROID: Device = Device {
    instance_id: 3,
    join_type: 1,
    net: "4G",
};
const IOS: Device = Device {
    instance_id: 4,
    join_type: 1,
    net: "WIFI",
};
const WEB: Device = Device {
    instance_id: 5,
    join_type: 1,
    net: "WIFI",
};
/// An iPad joined as a companion screen-casting device (附属投屏).
const IPAD_CAST: Device = Device {
    instance_id: 6,
    join_type: 2,
    net: "WIFI",
};
const MINI_PROGRAM: Device = Device {
    instance_id: 8,
    join_type: 1,
    net: "4G",
};
const ROOMS: Device = Device {
    instance_id: 20,
    join_type: 1,
    net: "有线",
};
const HARMONY: Device = Device {
    instance_id: 81,
    join_type: 1,
    net: "5G",
};
/// What big-meeting participants join from, weighted by repetition.
const CROWD_DEVICES: &[Device] = &[
    PC,
    PC,
    PC,
    MAC,
    ANDROID,
    ANDROID,
    IOS,
    IOS,
    WEB,
    MINI_PROGRAM,
    HARMONY,
    PSTN,
];

fn member(userid: &str) -> Value {
    json!({ "userid": userid })
}
fn external(id: &str) -> Value {
    json!({ "external_id": id })
}
fn guest(id: &str) -> Value {
    json!({ "guest_id": id })
}

/// Builds the events of one meeting, numbering event ids and session keys.
#[derive(Debug)]
struct Events {
    meetingid: String,
    prefix: &'static str,
    events: u64,
    sessions: u64,
    items: Vec<Value>,
}

impl Events {
    fn new(meetingid: &str, prefix: &'static str) -> Self {
        Self {
            meetingid: meetingid.into(),
            prefix,
            events: 0,
            sessions: 0,
            items: Vec::new(),
        }
    }

    fn push(&mut self, kind: &str, session: &str, at: i64, fields: Value) {
        self.events += 1;
        let mut ev = Map::new();
        ev.insert(
            "event_id".into(),
            format!("{}-e{}", self.prefix, self.events).into(),
        );
        ev.insert("kind".into(), kind.into());
        ev.insert("meetingid".into(), self.meetingid.clone().into());
        ev.insert("session".into(), session.into());
        ev.insert("at".into(), at.into());
        if let Value::Object(extra) = fields {
            ev.extend(extra);
        }
        self.items.push(Value::Object(ev));
    }

    /// Start a session; `extra` adds or overrides fields (role, states, customer_data…).
    fn join(&mut self, at: i64, who: Value, dev: Device, extra: Value) -> String {
        self.sessions += 1;
        let session = format!("{}-s{}", self.prefix, self.sessions);
        let mut fields = json!({
            "participant": who,
            "instance_id": dev.instance_id,
            "join_type": dev.join_type,
            "role": 0,
            "net": dev.net,
            "audio_state": false,
            "video_state": false,
            "screen_shared_state": false,
        });
        if let (Value::Object(f), Value::Object(extra)) = (&mut fields, extra) {
            f.extend(extra);
        }
        self.push("join", &session, at, fields);
        session
    }

    fn quit(&mut self, session: &str, at: i64) {
        self.push("quit", session, at, json!({}));
    }

    fn state(&mut self, session: &str, at: i64, patch: Value) {
        self.push("state", session, at, patch);
    }

    fn take(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.items)
    }
}

/// Ingest `items` in batches; any refusal is a bug in the demo, so it stops start-up.
async fn ingest_all(state: &AppState, items: Vec<Value>) -> anyhow::Result<usize> {
    let mut accepted = 0;
    let mut items = items.into_iter();
    loop {
        let batch: Vec<Result<Value, String>> = items.by_ref().take(BATCH).map(Ok).collect();
        if batch.is_empty() {
            return Ok(accepted);
        }
        let report = ingest(state, batch)
            .await
            .context("storing demo attendance")?;
        if let Some(r) = report.rejected.first() {
            bail!("demo event {} was refused: {}", r.index, r.error);
        }
        accepted += report.accepted;
    }
}

async fn create(
    state: &AppState,
    title: &str,
    meeting_type: u64,
    start: i64,
    duration: i64,
    subs: Vec<SubMeetingSpec>,
) -> anyhow::Result<Meeting> {
    let req = AdminMeeting {
        corpid: CORPID.into(),
        agentid: AGENTID,
        meeting_type,
        title: title.into(),
        meeting_start: start,
        meeting_duration: duration,
        admin_userid: Some("zhangsan".into()),
        sub_meetings: subs,
    };
    meetings::create_admin_meeting(state, &req)
        .await
        .map_err(|e| anyhow!("creating demo meeting {title:?}: {}", e.message))
}

/// Create a meeting the way an app does: a WeCom `meeting/create` body, read and checked by
/// the same code as the HTTP call, on behalf of the demo app.
async fn create_as_app(state: &AppState, body: Value) -> anyhow::Result<String> {
    let Value::Object(map) = &body else {
        bail!("a meeting/create body is an object");
    };
    let app = AppRef {
        corpid: CORPID.into(),
        agentid: AGENTID,
    };
    meetings::create_meeting_as(state, app, map)
        .await
        .map_err(|e| anyhow!("demo meeting/create refused: {}", e.text()))
}

/// Seed the demo: the corp (with a new app secret), the ended meetings (or the ones already
/// in the data directory), and a live meeting whose feed [`run_live`] keeps going.
pub async fn seed(state: &AppState, rng: &mut StdRng) -> anyhow::Result<(Demo, LiveFeed)> {
    let secret = alnum(rng, 32);
    apply_corp(state, &corp_spec(&secret))
        .await
        .map_err(|e| anyhow!("applying the demo corp: {e}"))?;
    let app = AppRef {
        corpid: CORPID.into(),
        agentid: AGENTID,
    };
    let existing = state.store().meetings_of(&app).await?;
    let find = |title: &str| existing.iter().find(|m| m.title == title).cloned();
    let now = state.now();
    let hour = now - now.rem_euclid(HOUR);
    let mut reused = true;

    let oneoff = match find(TITLE_ONEOFF) {
        Some(m) => m,
        None => {
            reused = false;
            let m = create(state, TITLE_ONEOFF, 0, hour - 26 * HOUR, 90 * 60, vec![]).await?;
            ingest_all(state, oneoff_events(&m.meetingid, m.meeting_start)).await?;
            m
        }
    };

    let recurring = match find(TITLE_RECURRING) {
        Some(m) => m,
        None => {
            reused = false;
            // Four past weekly occurrences and the next one.
            let starts: Vec<i64> = [-4, -3, -2, -1, 1]
                .iter()
                .map(|w| hour + w * WEEK)
                .collect();
            let subs = starts
                .iter()
                .map(|&s| SubMeetingSpec {
                    start_time: s,
                    end_time: s + HOUR,
                })
                .collect();
            let m = create(state, TITLE_RECURRING, 1, starts[0], HOUR, subs).await?;
            ingest_all(state, recurring_events(&m, now, rng)).await?;
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
        .ok_or_else(|| anyhow!("the recurring demo meeting has no sub-meetings"))?;

    let webinar = match find(TITLE_WEBINAR) {
        Some(m) => m,
        None => {
            reused = false;
            let m = create(state, TITLE_WEBINAR, 6, hour - 3 * DAY, 2 * HOUR, vec![]).await?;
            ingest_all(state, webinar_events(&m.meetingid, m.meeting_start, rng)).await?;
            m
        }
    };

    let big = match find(TITLE_BIG) {
        Some(m) => m,
        None => {
            reused = false;
            let m = create(state, TITLE_BIG, 0, hour - 2 * DAY, 3 * HOUR, vec![]).await?;
            let started = std::time::Instant::now();
            let events = big_events(&m.meetingid, m.meeting_start, rng);
            let n = events.len();
            ingest_all(state, events).await?;
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
            Some(m) => m.meetingid,
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
        Some(m) => m.meetingid,
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
    let live = create(state, TITLE_LIVE, 0, start, LIVE_DURATION, vec![]).await?;
    let mut feed = LiveFeed::new(&live.meetingid, start + LIVE_DURATION, rng);
    ingest_all(state, feed.warm_up(start, now)).await?;

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

/// A 90-minute review meeting: late joiners, early leavers, a dropped connection and rejoin
/// on another device, a second device for screen casting, a dial-in, a Rooms terminal, an
/// external user, a guest from the mini program, and a personal link carrying customer_data.
fn oneoff_events(meetingid: &str, s: i64) -> Vec<Value> {
    let e_ = s + 90 * 60;
    let mut ev = Events::new(meetingid, "oneoff");
    let host = ev.join(
        s - 300,
        member("zhangsan"),
        PC,
        json!({"role": 3, "audio_state": true, "video_state": true}),
    );
    ev.state(&host, s + 600, json!({"screen_shared_state": true}));
    ev.state(&host, s + 2400, json!({"screen_shared_state": false}));

    let lisi = ev.join(s + 20, member("lisi"), MAC, json!({"audio_state": true}));
    ev.state(&lisi, s + 1500, json!({"net": "4G"}));
    ev.quit(&lisi, s + 1900);
    let lisi2 = ev.join(
        s + 1960,
        member("lisi"),
        IOS,
        json!({"net": "4G", "audio_state": true}),
    );
    ev.state(&lisi2, s + 3000, json!({"video_state": true}));

    let wangwu = ev.join(
        s + 45,
        member("wangwu"),
        PC,
        json!({"role": 6, "audio_state": true}),
    );
    let cast = ev.join(
        s + 50,
        member("wangwu"),
        IPAD_CAST,
        json!({"role": 6, "screen_shared_state": true}),
    );
    ev.quit(&cast, s + 3600);

    let zhaoliu = ev.join(s + 900, member("zhaoliu"), ANDROID, json!({}));
    ev.quit(&zhaoliu, s + 3300);
    let sunqi = ev.join(
        s - 60,
        member("sunqi"),
        ROOMS,
        json!({"audio_state": true, "video_state": true}),
    );
    let zhouba = ev.join(
        s + 120,
        member("zhouba"),
        WEB,
        json!({"customer_data": "crm:lead-20931", "audio_state": true}),
    );
    ev.quit(&zhouba, s + 4000);
    let wujiu = ev.join(s + 200, member("wujiu"), PSTN, json!({"audio_state": true}));
    ev.quit(&wujiu, s + 2000);
    let zhengshi = ev.join(
        s + 10,
        member("zhengshi"),
        MAC,
        json!({"video_state": true}),
    );
    let chen = ev.join(s + 300, member("chenjing"), IOS, json!({}));
    ev.quit(&chen, s + 600);
    let chen2 = ev.join(
        s + 620,
        member("chenjing"),
        PC,
        json!({"audio_state": true}),
    );
    let liuyang = ev.join(s + 1500, member("liuyang"), ANDROID, json!({}));
    ev.quit(&liuyang, e_ - 300);
    let yangfan = ev.join(s + 100, member(VISIBLE_OUTSIDER), WEB, json!({}));
    let huangmin = ev.join(s + 30, member(INVISIBLE_USER), PC, json!({}));
    let ext = ev.join(
        s + 240,
        external("wmJq3eCAAAs8Yk2Vn3FVbZpXbQ"),
        WEB,
        json!({"audio_state": true}),
    );
    ev.quit(&ext, s + 4200);
    let gst = ev.join(
        s + 600,
        guest("gst_7f3a9c21"),
        MINI_PROGRAM,
        json!({"role": 4}),
    );
    ev.quit(&gst, s + 2700);

    for (session, at) in [
        (&lisi2, e_),
        (&wangwu, e_ + 60),
        (&sunqi, e_),
        (&zhengshi, e_),
        (&chen2, e_),
        (&yangfan, e_),
        (&huangmin, e_),
        (&host, e_ + 120),
    ] {
        ev.quit(session, at);
    }
    ev.take()
}

/// The platform team's weekly: in each past occurrence most of the team comes, some late,
/// some drop and rejoin. Joins name their `sub_meetingid`, as a platform would.
fn recurring_events(m: &Meeting, now: i64, rng: &mut StdRng) -> Vec<Value> {
    let team: &[(&str, Device)] = &[
        ("zhangsan", PC),
        ("lisi", MAC),
        ("wangwu", PC),
        ("zhaoliu", ANDROID),
        ("sunqi", ROOMS),
        ("zhengshi", MAC),
        (INVISIBLE_USER, WEB),
    ];
    let mut ev = Events::new(&m.meetingid, "weekly");
    for sub in m.sub_meetings.iter().filter(|s| s.end_time <= now) {
        for &(userid, dev) in team {
            if rng.gen_bool(0.15) {
                continue; // away this week
            }
            let sub_fields = json!({"sub_meetingid": sub.sub_meetingid, "audio_state": true});
            let join = sub.start_time + rng.gen_range(-180..420);
            let quit = sub.end_time - rng.gen_range(-120..600);
            let session = ev.join(join, member(userid), dev, sub_fields.clone());
            if rng.gen_bool(0.2) {
                let drop = rng.gen_range(join + 60..quit - 300);
                ev.quit(&session, drop);
                let again = ev.join(
                    drop + rng.gen_range(15..120),
                    member(userid),
                    IOS,
                    sub_fields,
                );
                ev.quit(&again, quit);
            } else {
                if rng.gen_bool(0.3) {
                    ev.state(&session, join + 300, json!({"video_state": true}));
                }
                ev.quit(&session, quit);
            }
        }
    }
    ev.take()
}

/// A two-hour webinar: the host and co-host as internal guests, an external speaker, a guest
/// invited by link, and an audience of members and mini-program viewers.
fn webinar_events(meetingid: &str, s: i64, rng: &mut StdRng) -> Vec<Value> {
    let e_ = s + 2 * HOUR;
    let mut ev = Events::new(meetingid, "webinar");
    let host = ev.join(
        s - 900,
        member("zhangsan"),
        PC,
        json!({"role": 3, "webinar_role": 1, "audio_state": true, "video_state": true}),
    );
    ev.state(&host, s + 300, json!({"screen_shared_state": true}));
    let cohost = ev.join(
        s - 600,
        member("chenjing"),
        MAC,
        json!({"role": 6, "webinar_role": 1, "audio_state": true}),
    );
    let speaker = ev.join(
        s - 300,
        external("wmSpeakerQk2n0cAAAx91PLm"),
        PC,
        json!({"webinar_role": 2, "audio_state": true, "video_state": true}),
    );
    ev.state(&speaker, s + 2400, json!({"screen_shared_state": true}));
    ev.state(&speaker, s + 4200, json!({"screen_shared_state": false}));
    let invited = ev.join(
        s + 60,
        guest("gst_invite_5521"),
        WEB,
        json!({"webinar_role": 3, "customer_data": "invite:press-01"}),
    );
    ev.quit(&invited, s + 5400);
    for userid in ["zhouba", "wujiu", "liuyang", "lisi", INVISIBLE_USER] {
        let at = s + rng.gen_range(-120..900);
        let sess = ev.join(at, member(userid), WEB, json!({"webinar_role": 4}));
        ev.quit(&sess, e_ - rng.gen_range(0..2400));
    }
    for i in 0..48 {
        let at = s + rng.gen_range(-300..1800);
        let who = if i % 4 == 0 {
            external(&format!("wmViewer{i:04}"))
        } else {
            guest(&format!("gst_viewer_{i:04}"))
        };
        let dev = if i % 3 == 0 { MINI_PROGRAM } else { WEB };
        let sess = ev.join(
            at,
            who,
            dev,
            json!({"webinar_role": 4, "role": if i % 4 == 0 { 0 } else { 4 }}),
        );
        ev.quit(&sess, e_ - rng.gen_range(0..3600));
    }
    for sess in [&host, &cohost, &speaker] {
        ev.quit(sess, e_ + 300);
    }
    ev.take()
}

/// How many sessions [`big_events`] produces (the structure is fixed; only times and
/// devices are random).
pub fn big_session_count() -> usize {
    USERS.len() + BIG_PARTICIPANTS + BIG_PARTICIPANTS.div_ceil(BIG_REJOIN_EVERY)
}

/// A three-hour all-hands with 10,000 external users and guests plus every member.
fn big_events(meetingid: &str, s: i64, rng: &mut StdRng) -> Vec<Value> {
    let e_ = s + 3 * HOUR;
    let mut ev = Events::new(meetingid, "big");
    ev.items.reserve(2 * big_session_count());
    for &(userid, _, _) in USERS {
        let sess = ev.join(
            s + rng.gen_range(-600..300),
            member(userid),
            PC,
            json!({"role": if userid == "zhangsan" { 3 } else { 0 }}),
        );
        ev.quit(&sess, e_ + rng.gen_range(0..300));
    }
    for i in 0..BIG_PARTICIPANTS {
        let who = if i % 5 == 0 {
            guest(&format!("gst_allhands_{i:05}"))
        } else {
            external(&format!("wmAllHands{i:05}"))
        };
        let dev = CROWD_DEVICES[rng.gen_range(0..CROWD_DEVICES.len())];
        let join = s + rng.gen_range(-600..1800);
        let quit = e_ - rng.gen_range(0..2400);
        let role = if i % 5 == 0 {
            json!({"role": 4})
        } else {
            json!({})
        };
        let sess = ev.join(join, who.clone(), dev, role.clone());
        if i % BIG_REJOIN_EVERY == 0 {
            let drop = rng.gen_range(join + 60..quit - 120);
            ev.quit(&sess, drop);
            let again = ev.join(drop + rng.gen_range(10..90), who, dev, role);
            ev.quit(&again, quit);
        } else {
            ev.quit(&sess, quit);
        }
    }
    ev.take()
}

/// Someone who may be in the live meeting.
#[derive(Debug)]
struct LivePerson {
    who: Value,
    device: Device,
    role: u32,
    /// The open session and its last states `(audio, video, screen)`.
    session: Option<(String, [bool; 3])>,
}

/// The live meeting's generator: keeps a small population joining, leaving and toggling
/// microphones, cameras, screen sharing and networks.
#[derive(Debug)]
pub struct LiveFeed {
    ends_at: i64,
    rng: StdRng,
    people: Vec<LivePerson>,
    events: Events,
}

impl LiveFeed {
    fn new(meetingid: &str, ends_at: i64, rng: &mut StdRng) -> Self {
        let devices = [PC, MAC, ANDROID, IOS, WEB, HARMONY];
        let mut people: Vec<LivePerson> = USERS
            .iter()
            .enumerate()
            .map(|(i, &(userid, _, _))| LivePerson {
                who: member(userid),
                device: devices[i % devices.len()],
                role: if userid == "lisi" { 3 } else { 0 },
                session: None,
            })
            .collect();
        for i in 0..3 {
            people.push(LivePerson {
                who: external(&format!("wmPartner{i:03}")),
                device: WEB,
                role: 0,
                session: None,
            });
            people.push(LivePerson {
                who: guest(&format!("gst_live_{i:03}")),
                device: MINI_PROGRAM,
                role: 4,
                session: None,
            });
        }
        Self {
            ends_at,
            // Its own stream, so the live feed does not shift the seeded meetings' draws.
            rng: StdRng::from_seed(rng.gen()),
            people,
            events: Events::new(meetingid, "live"),
        }
    }

    fn join(&mut self, i: usize, at: i64) {
        let audio = self.rng.gen_bool(0.6);
        let video = self.rng.gen_bool(0.3);
        let p = &self.people[i];
        let (who, dev, role) = (p.who.clone(), p.device, p.role);
        let key = self.events.join(
            at,
            who,
            dev,
            json!({"role": role, "audio_state": audio, "video_state": video}),
        );
        self.people[i].session = Some((key, [audio, video, false]));
    }

    /// One round of changes at `at`: up to `actions` joins, quits or state changes.
    fn step(&mut self, at: i64, actions: usize) {
        for _ in 0..actions {
            let inside: Vec<usize> = (0..self.people.len())
                .filter(|&i| self.people[i].session.is_some())
                .collect();
            let outside: Vec<usize> = (0..self.people.len())
                .filter(|&i| self.people[i].session.is_none())
                .collect();
            let roll = self.rng.gen_range(0..10);
            if (roll < 3 || inside.len() < 3) && !outside.is_empty() {
                let i = outside[self.rng.gen_range(0..outside.len())];
                self.join(i, at);
            } else if roll < 5 && inside.len() > 3 {
                let i = inside[self.rng.gen_range(0..inside.len())];
                if let Some((key, _)) = self.people[i].session.take() {
                    self.events.quit(&key, at);
                }
            } else if !inside.is_empty() {
                let i = inside[self.rng.gen_range(0..inside.len())];
                let which = self.rng.gen_range(0..4);
                let nets = ["WIFI", "4G", "5G", "有线"];
                let net = nets[self.rng.gen_range(0..nets.len())];
                let Some((key, states)) = self.people[i].session.as_mut() else {
                    continue;
                };
                let mut patch = Map::new();
                if which < 3 {
                    states[which] = !states[which];
                    let field = ["audio_state", "video_state", "screen_shared_state"][which];
                    patch.insert(field.into(), states[which].into());
                } else {
                    patch.insert("net".into(), net.into());
                }
                let patch = Value::Object(patch);
                let key = key.clone();
                self.events.state(&key, at, patch);
            }
        }
    }

    /// The meeting so far: most people joined around the start, then a change a minute.
    fn warm_up(&mut self, start: i64, now: i64) -> Vec<Value> {
        for i in 0..self.people.len() {
            if self.rng.gen_bool(0.7) {
                let at = start + self.rng.gen_range(-120..180);
                self.join(i, at.min(now));
            }
        }
        let mut at = start + 240;
        while at < now {
            let n = self.rng.gen_range(1..=3);
            self.step(at, n);
            at += 60;
        }
        // Joins were drawn out of time order; order them as a platform would send them.
        let mut items = self.events.take();
        items.sort_by_key(|e| e.get("at").and_then(Value::as_i64).unwrap_or(0));
        items
    }
}

/// Keep the live meeting changing every [`LIVE_TICK`] until shutdown, its scheduled end, or
/// [`LIVE_MAX_TICKS`]. Failures are logged and retried at the next tick.
pub async fn run_live(state: AppState, mut feed: LiveFeed, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(LIVE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    for _ in 0..LIVE_MAX_TICKS {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        let now = state.now();
        if now >= feed.ends_at {
            tracing::info!("the live demo meeting has reached its scheduled end");
            return;
        }
        let n = feed.rng.gen_range(1..=3);
        feed.step(now, n);
        let items = feed.events.take();
        match ingest(&state, items.into_iter().map(Ok).collect()).await {
            Ok(r) if r.rejected.is_empty() => {
                tracing::debug!(accepted = r.accepted, "live demo events")
            }
            Ok(r) => tracing::warn!(rejected = ?r.rejected, "live demo events refused"),
            Err(e) => tracing::warn!(error = %e, "live demo events not stored"),
        }
    }
    tracing::info!("the live demo feed has run its course");
}

/// The start-up banner: where to point curl, with what, at which meetings.
pub fn banner(demo: &Demo, base: &str, ingest_key: &str, admin_key: &str, data: &str) -> String {
    let rule = "=".repeat(78);
    let reused = if demo.reused {
        "  (reused from the data directory)"
    } else {
        ""
    };
    let gettoken = format!(
        "{base}/cgi-bin/gettoken?corpid={CORPID}&corpsecret={}",
        demo.secret
    );
    let list = format!("{base}/cgi-bin/meeting/get_attendee_list?access_token=$TOKEN");
    format!(
        r#"{rule}
 rollcall demo is ready
{rule}
 base URL     {base}
 data         {data}
 corpid       {CORPID}
 corpsecret   {secret}
 agentid      {AGENTID}
 ingest key   {ingest_key}
 admin key    {admin_key}

 Meetings of app {AGENTID}{reused}:
 one-off      {oneoff}  ended; rejoins, two devices, external user, guest, customer_data
 recurring    {recurring}  weekly, 4 past sub-meetings; sub_meetingid is required
 sub-meeting  {sub}  (the latest past occurrence)
 webinar      {webinar}  ended; webinar_role 1 to 4
 big          {big}  ended; {big_sessions} sessions, page with next_cursor
 live         {live}  in progress; joins, quits and state changes every 2 s
 upcoming     {upcoming}  every two weeks from next week ({upcoming_count} times); made with meeting/create
 pending      {pending}  one-off tomorrow; made with meeting/create

 The meeting calls take the same token: POST {base}/cgi-bin/meeting/get_info?access_token=$TOKEN
 with {{"meetingid": "…"}}; also meeting/create, update, cancel and get_user_meetingid
 (e.g. {{"userid": "lisi"}}).

 The app sees 总部 (HQ) and its sub-departments, plus {outsider} by name; {invisible}
 (顾问团, outside the visible range) attends too but is omitted from every listing.

 Try it (POSIX sh; needs only curl and sed):

   TOKEN=$(curl -s '{gettoken}' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
   curl -s -X POST "{list}" -d '{{"meetingid":"{oneoff}","limit":10}}'
   curl -s -X POST "{list}" -d '{{"meetingid":"{recurring}","sub_meetingid":"{sub}","limit":10}}'
   curl -s -X POST "{list}" -d '{{"meetingid":"{live}"}}'
   curl -s -X POST '{base}/ingest/v1/events' -H 'Authorization: Bearer {ingest_key}' -H 'Content-Type: application/json' -d '[{{"event_id":"curl-1","kind":"join","meetingid":"{live}","session":"curl-s1","at":'"$(date +%s)"',"participant":{{"guest_id":"curl-guest"}},"instance_id":5,"net":"WIFI"}}]'
{rule}"#,
        secret = demo.secret,
        oneoff = demo.oneoff,
        recurring = demo.recurring,
        sub = demo.sub_meetingid,
        webinar = demo.webinar,
        big = demo.big,
        big_sessions = demo.big_sessions,
        live = demo.live,
        upcoming = demo.upcoming,
        upcoming_count = UPCOMING_COUNT,
        pending = demo.pending,
        outsider = VISIBLE_OUTSIDER,
        invisible = INVISIBLE_USER,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollcall_core::directory::merge;
    use rollcall_core::ingest::parse_event;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn the_demo_directory_is_valid() {
        let corp = merge(None, &corp_spec("s")).expect("valid");
        assert_eq!(corp.users.len(), 12);
        assert!(corp.users.iter().any(|u| u.userid == INVISIBLE_USER));
    }

    fn assert_valid(items: &[Value]) {
        let mut ids = std::collections::HashSet::new();
        for v in items {
            let e = parse_event(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert!(ids.insert(e.event_id.clone()), "duplicate {}", e.event_id);
        }
    }

    /// Every session's join precedes its quit, and no session quits twice.
    fn assert_sessions_consistent(items: &[Value]) {
        let mut joined = std::collections::HashMap::new();
        let mut quit = std::collections::HashSet::new();
        for v in items {
            let s = v["session"].as_str().unwrap().to_owned();
            let at = v["at"].as_i64().unwrap();
            match v["kind"].as_str().unwrap() {
                "join" => assert!(joined.insert(s, at).is_none()),
                "quit" => {
                    assert!(at >= joined[&s], "{v}");
                    assert!(quit.insert(s), "{v}");
                }
                _ => assert!(at >= joined[&s] && !quit.contains(&s), "{v}"),
            }
        }
    }

    #[test]
    fn seeded_events_are_valid_and_consistent() {
        let mut r = rng();
        for items in [
            oneoff_events("m", 1_760_000_000),
            webinar_events("m", 1_760_000_000, &mut r),
        ] {
            assert_valid(&items);
            assert_sessions_consistent(&items);
        }
        let big = big_events("m", 1_760_000_000, &mut r);
        assert_valid(&big);
        assert_sessions_consistent(&big);
        let joins = big.iter().filter(|v| v["kind"] == "join").count();
        assert_eq!(joins, big_session_count());
        assert!(joins > 10_000);
    }

    #[test]
    fn live_feed_stays_bounded_and_consistent() {
        let mut r = rng();
        let mut feed = LiveFeed::new("m", i64::MAX, &mut r);
        let start = 1_760_000_000;
        let mut all = feed.warm_up(start, start + 1200);
        for t in 0..2000 {
            feed.step(start + 1200 + t, 3);
            all.extend(feed.events.take());
        }
        assert_valid(&all);
        assert_sessions_consistent(&all);
        let inside = feed.people.iter().filter(|p| p.session.is_some()).count();
        assert!((3..=feed.people.len()).contains(&inside), "{inside}");
    }

    #[test]
    fn the_same_seed_gives_the_same_demo() {
        let a = big_events("m", 1, &mut rng());
        let b = big_events("m", 1, &mut rng());
        assert_eq!(a, b);
    }

    #[test]
    fn banner_has_everything_to_paste() {
        let demo = Demo {
            secret: "SECRET".into(),
            oneoff: "hyONE".into(),
            recurring: "hyREC".into(),
            sub_meetingid: "1760000000".into(),
            webinar: "hyWEB".into(),
            big: "hyBIG".into(),
            big_sessions: 11262,
            live: "hyLIVE".into(),
            upcoming: "hyUP".into(),
            pending: "hyPEND".into(),
            reused: false,
        };
        let b = banner(&demo, "http://127.0.0.1:8080", "IK", "AK", "/tmp/x");
        for needle in [
            "corpid       wwdemo0000000001",
            "corpsecret   SECRET",
            "agentid      1000002",
            "ingest key   IK",
            "admin key    AK",
            "'http://127.0.0.1:8080/cgi-bin/gettoken?corpid=wwdemo0000000001&corpsecret=SECRET'",
            r#"-d '{"meetingid":"hyONE","limit":10}'"#,
            r#""sub_meetingid":"1760000000""#,
            "Authorization: Bearer IK",
            "11262 sessions",
            "upcoming     hyUP ",
            "pending      hyPEND ",
            "meeting/get_info",
        ] {
            assert!(b.contains(needle), "{needle:?} missing from\n{b}");
        }
    }
}
