//! The callback outbox (SPEC §11): the events rollcall owes an app's callback URL, as the
//! store keeps them until they are delivered or given up.
//!
//! Why an outbox: an event is written by the store in the **same transaction** as the change
//! that causes it (a meeting created, updated or cancelled; a meeting's first session opening
//! or its last one closing), so a change is never committed without its event, nor an event
//! without its change, whatever crashes when. A delivery loop on any node then claims due
//! events, posts them, and records the outcome ([`AttemptOutcome`]); a node that dies holding
//! a claim only delays it until its lease passes (at least once, never lost).
//!
//! Events of one meeting are delivered in the order they were written (the store only hands
//! out the oldest pending event of each meeting), so a receiver never sees `cancel_meeting`
//! before the `modify_meeting` that preceded it. Different meetings do not wait for each other.
//!
//! Only the values live here (no I/O): the store writes and claims them, the server decides
//! which events a change causes and delivers them.

use rollcall_callback::event::FROM_SYSTEM;
use rollcall_callback::ChangeType;

use crate::apply::{PresenceChange, Transition};
use crate::model::AppRef;

/// How many finished (delivered or given-up) deliveries a store keeps as history for
/// `GET /admin/v1/callbacks`: the finished rows among the newest this many deliveries
/// written (by id). Older finished rows are pruned as deliveries finish, so the outbox does
/// not grow forever; pending rows are never pruned.
pub const HISTORY_KEPT: i64 = 10_000;

/// A callback event to deliver, decided by the server's ops (or by the ingest rules), written
/// by the store in the same transaction as the change that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The app that gets it (the meeting's owner app).
    pub corpid: String,
    pub agentid: u32,
    /// The meeting it is about; also the queue it is ordered in.
    pub meetingid: String,
    /// `rollcall_callback::ChangeType::as_str()`.
    pub change_type: String,
    /// The userid who acted, or `"sys"` (WeCom: a system-triggered event says `sys`).
    pub from_user: String,
    /// The server clock (may be virtual) when it happened, unix seconds: the event's
    /// `CreateTime`.
    pub create_time: i64,
}

impl NewDelivery {
    /// The event an ingest presence transition causes: `meeting_start` when a (sub-)meeting
    /// goes from no open session to one, `meeting_end` when its last open session closes.
    /// The system caused it (`FromUserName` `sys`), and its `CreateTime` is the `at` of the
    /// join or quit that made the transition: when it happened on the platform, not when
    /// rollcall heard of it (a batch may arrive late, and several transitions of one batch
    /// keep their own times).
    pub fn presence(app: &AppRef, meetingid: &str, t: &Transition) -> Self {
        let change = match t.change {
            PresenceChange::Start => ChangeType::MeetingStart,
            PresenceChange::End => ChangeType::MeetingEnd,
        };
        Self {
            corpid: app.corpid.clone(),
            agentid: app.agentid,
            meetingid: meetingid.to_owned(),
            change_type: change.as_str().to_owned(),
            from_user: FROM_SYSTEM.to_owned(),
            create_time: t.at,
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Not delivered yet: claimable when due and not leased.
    Pending,
    /// The receiver accepted it.
    Delivered,
    /// Given up after the last retry.
    Failed,
}

impl DeliveryState {
    /// The stored code (a small integer: indexed, compared, never shown).
    pub fn code(self) -> i64 {
        match self {
            DeliveryState::Pending => 0,
            DeliveryState::Delivered => 1,
            DeliveryState::Failed => 2,
        }
    }

    /// From the stored code; `None` for a code no version wrote.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(DeliveryState::Pending),
            1 => Some(DeliveryState::Delivered),
            2 => Some(DeliveryState::Failed),
            _ => None,
        }
    }

    /// The name the admin API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Increasing: the order of writing (and so the order within a meeting).
    pub id: i64,
    pub event: NewDelivery,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// Unix **milliseconds** (retries can be sub-second). A new delivery is due at once
    /// (0): its `create_time` may be a virtual or a platform time ahead of the clock the
    /// delivery loop reads, and an event must never wait on that.
    pub next_attempt_at_ms: i64,
    /// The last HTTP status seen (`None`: no answer, or no attempt yet).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// Unix seconds when it was delivered or given up.
    pub finished_at: Option<i64>,
}

/// What one delivery attempt came to, as the delivery loop reports it to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver accepted it: finished.
    Delivered { status: u16 },
    /// It failed and will be tried again at `next_attempt_at_ms` (unix ms).
    Retry {
        status: Option<u16>,
        error: String,
        next_attempt_at_ms: i64,
    },
    /// It failed for the last time: finished as [`DeliveryState::Failed`].
    GaveUp { status: Option<u16>, error: String },
}

impl AttemptOutcome {
    /// The state it leaves the delivery in.
    pub fn state(&self) -> DeliveryState {
        match self {
            AttemptOutcome::Delivered { .. } => DeliveryState::Delivered,
            AttemptOutcome::Retry { .. } => DeliveryState::Pending,
            AttemptOutcome::GaveUp { .. } => DeliveryState::Failed,
        }
    }

    /// The HTTP status seen, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            AttemptOutcome::Delivered { status } => Some(*status),
            AttemptOutcome::Retry { status, .. } | AttemptOutcome::GaveUp { status, .. } => *status,
        }
    }

    /// The error recorded (`None` once delivered).
    pub fn error(&self) -> Option<&str> {
        match self {
            AttemptOutcome::Delivered { .. } => None,
            AttemptOutcome::Retry { error, .. } | AttemptOutcome::GaveUp { error, .. } => {
                Some(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_round_trip_and_unknown_codes_are_refused() {
        for s in [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ] {
            assert_eq!(DeliveryState::from_code(s.code()), Some(s));
        }
        assert_eq!(DeliveryState::from_code(3), None);
        assert_eq!(DeliveryState::from_code(-1), None);
    }

    #[test]
    fn a_presence_transition_is_a_system_event_at_its_own_time() {
        let app = AppRef {
            corpid: "ww1".into(),
            agentid: 1000002,
        };
        let t = Transition {
            meeting_key: 3,
            sub_key: 0,
            change: PresenceChange::End,
            at: 1_700_000_123,
        };
        let d = NewDelivery::presence(&app, "hy-m", &t);
        assert_eq!(d.change_type, "meeting_end");
        assert_eq!(d.from_user, "sys");
        assert_eq!(d.create_time, 1_700_000_123);
        assert_eq!((d.corpid.as_str(), d.agentid), ("ww1", 1000002));
        let t = Transition {
            change: PresenceChange::Start,
            ..t
        };
        assert_eq!(
            NewDelivery::presence(&app, "hy-m", &t).change_type,
            "meeting_start"
        );
    }

    #[test]
    fn an_outcome_says_the_state_status_and_error_it_records() {
        let d = AttemptOutcome::Delivered { status: 200 };
        assert_eq!(
            (d.state(), d.status(), d.error()),
            (DeliveryState::Delivered, Some(200), None)
        );
        let r = AttemptOutcome::Retry {
            status: None,
            error: "timeout".into(),
            next_attempt_at_ms: 5,
        };
        assert_eq!(
            (r.state(), r.status(), r.error()),
            (DeliveryState::Pending, None, Some("timeout"))
        );
        let g = AttemptOutcome::GaveUp {
            status: Some(500),
            error: "HTTP 500".into(),
        };
        assert_eq!(
            (g.state(), g.status(), g.error()),
            (DeliveryState::Failed, Some(500), Some("HTTP 500"))
        );
    }
}
