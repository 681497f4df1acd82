//! The synthetic attendance stream: who joins when, on which device, who quits, whose
//! state changes — seeded, so every run ingests the same events — and its NDJSON bodies.

use axum::body::Bytes;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use rollcall_core::ingest::{INSTANCE_IDS, MAX_JOIN_TYPE, MAX_ROLE};
use rollcall_core::DAY;

use crate::run::INGEST_BATCH;

/// Corp members the synthetic participants are drawn from (all inside the app's visible
/// range, through sub-departments, so every page is full).
pub const MEMBERS: u32 = 500;
/// Distinct external users and guests the synthetic participants are drawn from.
const OUTSIDERS: u32 = 20_000;

/// Who a synthetic session belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    Member(u32),
    External(u32),
    Guest(u32),
}

/// One event of the stream, compact so 1.6 events per session stay cheap to sort.
#[derive(Debug, Clone, Copy)]
pub struct Planned {
    pub at: i64,
    pub session: u32,
    pub kind: PlannedKind,
}

#[derive(Debug, Clone, Copy)]
pub enum PlannedKind {
    Join {
        who: Who,
        instance_id: u32,
        role: u32,
        join_type: u32,
        net: &'static str,
        audio: bool,
        video: bool,
        customer_data: bool,
    },
    Quit,
    State {
        audio: bool,
        net: &'static str,
    },
}

const NETS: &[&str] = &["WIFI", "4G", "5G", "WIRED"];

pub fn member(i: u32) -> String {
    format!("u{i:04}")
}

/// `sessions` joins spread over the last 20 days (ending 3 h ago, so every quit is in the
/// past), a quit 1 min–2 h later for every other session and a state change within the first
/// minute for every tenth, in time order as a platform would push them. Participants: 60 %
/// corp members (who rejoin often), 25 % external users, 15 % guests. Seeded: every run
/// ingests the same stream.
pub fn plan_events(sessions: usize, now: i64, people: &Population) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(0x0011_ca11);
    let (lo, hi) = (now - 20 * DAY, now - 3 * 3600);
    let mut events = Vec::with_capacity(sessions + sessions / 2 + sessions / 10 + 1);
    for s in 0..sessions as u32 {
        let at = rng.gen_range(lo..=hi);
        events.push(Planned {
            at,
            session: s,
            kind: random_join(&mut rng, people),
        });
        if s % 10 == 0 {
            events.push(Planned {
                at: at + rng.gen_range(1..60),
                session: s,
                kind: PlannedKind::State {
                    audio: rng.gen(),
                    net: NETS.choose(&mut rng).expect("not empty"),
                },
            });
        }
        if s % 2 == 0 {
            events.push(Planned {
                at: at + rng.gen_range(60..=7200),
                session: s,
                kind: PlannedKind::Quit,
            });
        }
    }
    // Stable: a session's join comes before its state change and quit even at equal times.
    events.sort_by_key(|e| e.at);
    events
}

/// Who the synthetic sessions are drawn from: by default [`MEMBERS`] members and
/// [`OUTSIDERS`] each of external users and guests, so people grow with sessions (about
/// 25,000 at 100,000 sessions). `--people` fixes them instead, to compare meetings that
/// differ only in their sessions (issue 11.2: get_info's cost must follow the people).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Population {
    members: u32,
    externals: u32,
    guests: u32,
}

impl Default for Population {
    fn default() -> Self {
        Self {
            members: MEMBERS,
            externals: OUTSIDERS,
            guests: OUTSIDERS,
        }
    }
}

impl Population {
    /// `people` in all, split as the sessions are (60 / 25 / 15 %), members at most
    /// [`MEMBERS`] (the directory's), each kind at least one.
    pub fn of(people: u32) -> Self {
        let part = |pct: u32| (people.saturating_mul(pct) / 100).max(1);
        Self {
            members: part(60).min(MEMBERS),
            externals: part(25),
            guests: part(15),
        }
    }
}

/// A join's participant and device: 60 % corp members (who rejoin often), 25 % external
/// users, 15 % guests.
pub fn random_join(rng: &mut impl Rng, people: &Population) -> PlannedKind {
    let who = match rng.gen_range(0..100) {
        0..60 => Who::Member(rng.gen_range(0..people.members)),
        60..85 => Who::External(rng.gen_range(0..people.externals)),
        _ => Who::Guest(rng.gen_range(0..people.guests)),
    };
    PlannedKind::Join {
        who,
        instance_id: *INSTANCE_IDS.choose(rng).expect("not empty"),
        role: rng.gen_range(0..=MAX_ROLE),
        join_type: rng.gen_range(0..=MAX_JOIN_TYPE),
        net: NETS.choose(rng).expect("not empty"),
        audio: rng.gen(),
        video: rng.gen(),
        customer_data: rng.gen_ratio(1, 20),
    }
}

/// How a session number becomes the keys on the wire (`s-…` and the event ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// The number itself: `s-17`, `j-17` (the in-process benchmark's stream).
    Plain,
    /// A bijective 64-bit mix of it, in hex: `s-9e3779b97f4a7c15`. Platform keys are
    /// random (UUID-like), so a stream numbered in join order must not hand the store keys
    /// that happen to arrive in index order.
    Mixed,
}

/// The key text of session `s` (also the tail of its events' ids).
struct Key(u32, Keys);

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Keys::Plain => write!(f, "{}", self.0),
            Keys::Mixed => write!(f, "{:016x}", mix(u64::from(self.0))),
        }
    }
}

/// splitmix64's finalizer: a bijection on `u64`, so distinct sessions keep distinct keys.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Append event `e` as one NDJSON line (`m`: the meetingid as a JSON string).
pub fn write_event(out: &mut Vec<u8>, m: &str, e: &Planned, keys: Keys) {
    use std::io::Write as _;
    let (s, at) = (Key(e.session, keys), e.at);
    // `write!` into a Vec cannot fail; ids and enum texts need no escaping.
    let _ = match e.kind {
        PlannedKind::Join {
            who,
            instance_id,
            role,
            join_type,
            net,
            audio,
            video,
            customer_data,
        } => {
            let participant = match who {
                Who::Member(i) => format!(r#"{{"userid":"{}"}}"#, member(i)),
                Who::External(i) => format!(r#"{{"external_id":"ext-{i}"}}"#),
                Who::Guest(i) => format!(r#"{{"guest_id":"guest-{i}"}}"#),
            };
            write!(
                out,
                r#"{{"event_id":"j-{s}","kind":"join","meetingid":{m},"session":"s-{s}","at":{at},"participant":{participant},"instance_id":{instance_id},"join_type":{join_type},"role":{role},"webinar_role":0,"net":"{net}","audio_state":{audio},"video_state":{video},"screen_shared_state":false"#
            )
            .and_then(|()| {
                if customer_data {
                    write!(out, r#","customer_data":"campaign-{}""#, e.session % 97)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| writeln!(out, "}}"))
        }
        PlannedKind::Quit => writeln!(
            out,
            r#"{{"event_id":"q-{s}","kind":"quit","meetingid":{m},"session":"s-{s}","at":{at}}}"#
        ),
        PlannedKind::State { audio, net } => writeln!(
            out,
            r#"{{"event_id":"st-{s}","kind":"state","meetingid":{m},"session":"s-{s}","at":{at},"audio_state":{audio},"net":"{net}"}}"#
        ),
    };
}

/// The stream as NDJSON request bodies of [`INGEST_BATCH`] events each.
pub fn ndjson_batches(meetingid: &str, events: &[Planned]) -> Vec<(usize, Bytes)> {
    let m = serde_json::to_string(meetingid).expect("a string serializes");
    events
        .chunks(INGEST_BATCH)
        .map(|chunk| {
            let mut out = Vec::with_capacity(chunk.len() * 360);
            for e in chunk {
                write_event(&mut out, &m, e, Keys::Plain);
            }
            (chunk.len(), Bytes::from(out))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_keys_are_distinct_and_not_in_session_order() {
        let keys: Vec<String> = (0..1_000)
            .map(|s| Key(s, Keys::Mixed).to_string())
            .collect();
        let distinct: std::collections::HashSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        assert!(keys.iter().all(|k| k.len() == 16));
        assert!(!keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Key(17, Keys::Plain).to_string(), "17");
    }

    #[test]
    fn a_fixed_population_bounds_the_people() {
        let people = |pop: &Population| {
            let who: std::collections::HashSet<String> = plan_events(20_000, 1_760_000_000, pop)
                .iter()
                .filter_map(|e| match e.kind {
                    PlannedKind::Join { who, .. } => Some(format!("{who:?}")),
                    _ => None,
                })
                .collect();
            who.len()
        };
        assert_eq!(people(&Population::of(300)), 300);
        assert!(people(&Population::default()) > 5_000);
    }

    #[test]
    fn the_stream_is_valid_ndjson_in_time_order_with_joins_first() {
        let events = plan_events(1_000, 1_760_000_000, &Population::default());
        assert_eq!(events.len(), 1_000 + 500 + 100);
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        let batches = ndjson_batches("m1", &events);
        assert_eq!(batches.len(), 2);
        let mut joined = std::collections::HashSet::new();
        for (n, body) in &batches {
            let lines: Vec<serde_json::Value> = body
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).expect("each line is JSON"))
                .collect();
            assert_eq!(lines.len(), *n);
            for v in lines {
                let parsed = rollcall_core::ingest::parse_event(&v).expect("a valid event");
                match parsed.kind {
                    rollcall_core::ingest::EventKind::Join(_) => {
                        assert!(joined.insert(parsed.session))
                    }
                    _ => assert!(joined.contains(&parsed.session), "quit before join"),
                }
            }
        }
    }
}
