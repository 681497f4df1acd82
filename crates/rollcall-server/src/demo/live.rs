//! The live meeting's feed: people joining, leaving and toggling microphones, cameras,
//! screen sharing and networks while the demo runs.
//!
//! [`LiveFeed`] is seeded from the demo's generator but draws from its own stream, so the
//! live feed never shifts the ended meetings' draws. [`run_live`] posts each round of
//! changes to `/ingest/v1/events` in-process, the way a media server would.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::directory::USERS;
use super::events::{
    external, guest, member, Device, Events, ANDROID, HARMONY, IOS, MAC, MINI_PROGRAM, PC, WEB,
};
use super::local::Local;
use crate::AppState;

/// How often the live meeting changes.
const LIVE_TICK: Duration = Duration::from_secs(2);
/// Upper bound on live ticks (4 hours' worth), so a forgotten demo stops growing.
const LIVE_MAX_TICKS: u32 = 7200;

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
    pub(super) fn new(meetingid: &str, ends_at: i64, rng: &mut StdRng) -> Self {
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
    pub(super) fn warm_up(&mut self, start: i64, now: i64) -> Vec<Value> {
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

/// Keep the live meeting changing every 2 s until shutdown, its scheduled end, or 7,200 ticks
/// (four hours' worth). Failures are logged and retried at the next tick.
pub async fn run_live(state: AppState, mut feed: LiveFeed, mut stop: watch::Receiver<bool>) {
    let local = match Local::new(&state) {
        Ok(local) => local,
        Err(e) => {
            tracing::warn!(error = %e, "the live demo feed cannot run");
            return;
        }
    };
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
        match local.ingest(&items).await {
            Ok(r) if r.rejected.is_empty() => {
                tracing::debug!(accepted = r.accepted, "live demo events")
            }
            Ok(r) => tracing::warn!(rejected = ?r.rejected, "live demo events refused"),
            Err(e) => tracing::warn!(error = %e, "live demo events not stored"),
        }
    }
    tracing::info!("the live demo feed has run its course");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::events::check::{assert_sessions_consistent, assert_valid};

    #[test]
    fn live_feed_stays_bounded_and_consistent() {
        let mut r = StdRng::seed_from_u64(7);
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
}
