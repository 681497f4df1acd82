//! The delivery loop (SPEC §11): one per node, run by [`crate::serve`] beside the accept
//! loop, so it starts when the node serves and stops with it.
//!
//! The events are rows of the store's outbox, written in the same transaction as the change
//! that caused them (`create_meeting`, `update_meeting`, `cancel_meeting`, `ingest`). The
//! loop claims the due head of each meeting's queue ([`Store::claim_deliveries`]: a lease of
//! [`LEASE_MS`], `FOR UPDATE SKIP LOCKED` on PostgreSQL, so each event goes out from one
//! node), sends each claimed event once ([`send::send`], WeCom's 5 s), and records the
//! outcome ([`Store::finish_delivery`]) with the rules of [`rollcall_core::delivery`]:
//! delivered on HTTP 200, else retried after the backoff, given up after the last attempt.
//! Only then is the meeting's next event claimable: in order per meeting.
//!
//! Never on the request path: a write only wakes the loop ([`super::Callbacks::wake`]), and
//! at most [`MAX_IN_FLIGHT`] attempts run at once, each bounded by the timeout, so a receiver
//! that hangs holds a permit for 5 s and nothing else. The loop also polls every
//! [`POLL_INTERVAL`], for events written through other nodes and for retries coming due.
//!
//! At least once: an attempt that is cut off (the node is killed, or stopped mid-attempt)
//! leaves its row leased and pending; after the lease any node claims it again. A receiver
//! may therefore see an event twice (WeCom says to deduplicate on FromUserName +
//! CreateTime), never zero times.
//!
//! Faults (SPEC §9) with `path: "callback"` stand in for the receiver: `http_status` is the
//! answer it gave, `drop` a connection closed unanswered, `latency_ms` a slow receiver (at
//! 5 s or more, a timeout); matched by the receiving app's corpid / agentid.
//!
//! [`Store::claim_deliveries`]: rollcall_store::Store::claim_deliveries
//! [`Store::finish_delivery`]: rollcall_store::Store::finish_delivery

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rollcall_callback::{ChangeType, MeetingEvent};
use rollcall_core::delivery::{self, Answer, LEASE_MS, TIMEOUT_MS};
use rollcall_core::model::AppRef;
use rollcall_core::outbox::{AttemptOutcome, Delivery};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::{send, Callbacks};
use crate::control::faults::{Action, Target};
use crate::control::CALLBACK_CALL;
use crate::state::AppState;

/// Attempts in flight at once on one node.
pub const MAX_IN_FLIGHT: usize = 16;

/// How often the loop looks for due events without being woken: events written through
/// other nodes, retries whose backoff ended, leases that lapsed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Wall-clock unix milliseconds: retry times and leases (never the virtual clock; see
/// [`rollcall_core::delivery`]).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Deliver until `stop` turns true, then let the attempts in flight end (each is bounded by
/// WeCom's timeout) and return. Dropping the future (the serve task aborted) drops the
/// attempts with it; their events stay leased, then pending: at least once.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let http = super::verify::client();
    let mut attempts = JoinSet::new();
    loop {
        claim(&state, &http, &permits, &mut attempts).await;
        tokio::select! {
            _ = stop.changed() => break,
            () = state.callbacks().woken() => {}
            // A finished attempt frees a permit and may make its meeting's next event due.
            Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        if *stop.borrow() {
            break;
        }
    }
    let drain = async { while attempts.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_millis(LEASE_MS.unsigned_abs()), drain)
        .await
        .is_err()
    {
        tracing::warn!("callback attempts still running at shutdown were cut off");
    }
}

/// Claim as many due events as there are free permits, and start an attempt for each.
async fn claim(
    state: &AppState,
    http: &reqwest::Client,
    permits: &Arc<Semaphore>,
    attempts: &mut JoinSet<()>,
) {
    loop {
        while attempts.try_join_next().is_some() {}
        let free = permits.available_permits();
        if free == 0 {
            return;
        }
        let limit = u32::try_from(free).unwrap_or(u32::MAX);
        let claimed = match state
            .store()
            .claim_deliveries(now_ms(), LEASE_MS, limit)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim callback deliveries (retried)");
                return;
            }
        };
        if claimed.is_empty() {
            return;
        }
        for d in claimed {
            let Ok(permit) = Arc::clone(permits).try_acquire_owned() else {
                // Not reached: no more were claimed than permits were free. The event's
                // lease lapses and it is claimed again.
                return;
            };
            attempts.spawn(attempt(state.clone(), http.clone(), d, permit));
        }
    }
}

/// One attempt at one claimed event, and its outcome recorded.
async fn attempt(
    state: AppState,
    http: reqwest::Client,
    d: Delivery,
    _permit: OwnedSemaphorePermit,
) {
    let number = d.attempts.saturating_add(1);
    let app = AppRef {
        corpid: d.event.corpid.clone(),
        agentid: d.event.agentid,
    };
    let target = match Callbacks::target(&state, &app).await {
        Ok(t) => t,
        Err(e) => {
            // The lease lapses and the event is tried again; the attempt is not counted.
            tracing::warn!(id = d.id, error = %e, "could not read the callback target");
            return;
        }
    };
    let outcome = match target {
        None => AttemptOutcome::GaveUp {
            status: None,
            error: "the app has no callback target any more".into(),
        },
        Some(target) => {
            let event = MeetingEvent {
                to_user_name: d.event.corpid.clone(),
                from_user_name: d.event.from_user.clone(),
                from_user_tmp_open_id: None,
                operated_user: None,
                create_time: d.event.create_time,
                change_type: ChangeType::parse(&d.event.change_type),
                meeting_id: d.event.meetingid.clone(),
            };
            let answer = answer(&state, &http, &target, &app, &event).await;
            delivery::outcome(number, &answer, now_ms())
        }
    };
    log(&d, number, &outcome);
    if let Err(e) = state
        .store()
        .finish_delivery(d.id, number, &outcome, state.now())
        .await
    {
        // The lease lapses and the event is sent again: at least once.
        tracing::warn!(id = d.id, error = %e, "could not record a callback attempt");
    }
    if !matches!(outcome, AttemptOutcome::Retry { .. }) {
        // The meeting's next event is due now.
        state.callbacks().wake();
    }
}

/// What the receiver answered, or what a `callback` fault says it answered.
async fn answer(
    state: &AppState,
    http: &reqwest::Client,
    target: &rollcall_core::callback::AppCallback,
    app: &AppRef,
    event: &MeetingEvent,
) -> Answer {
    let faults = &state.controls().faults;
    let applied = if faults.is_empty() {
        None
    } else {
        faults.decide(
            &Target {
                call: CALLBACK_CALL,
                corpid: Some(&app.corpid),
                agentid: Some(app.agentid),
            },
            || crate::control::draw(state),
        )
    };
    let mut timeout = Duration::from_millis(TIMEOUT_MS.unsigned_abs());
    if let Some(fault) = &applied {
        let latency = Duration::from_millis(fault.latency_ms);
        if latency >= timeout {
            tokio::time::sleep(timeout).await;
            return Answer::NoAnswer(format!(
                "timeout: no answer within {} s (fault {})",
                timeout.as_secs(),
                fault.id
            ));
        }
        tokio::time::sleep(latency).await;
        timeout -= latency;
        match fault.action {
            Some(Action::HttpStatus(s)) => return Answer::Status(s),
            Some(Action::Drop) => {
                return Answer::NoAnswer(format!(
                    "connection closed without an answer (fault {})",
                    fault.id
                ))
            }
            // Refused by validation for callbacks; a receiver has no errcode.
            Some(Action::Errcode(_)) | None => {}
        }
    }
    send::send(http, target, app, event, state.now(), timeout).await
}

fn log(d: &Delivery, attempt: u32, outcome: &AttemptOutcome) {
    let (corpid, agentid, meetingid) = (&d.event.corpid, d.event.agentid, &d.event.meetingid);
    let change = &d.event.change_type;
    match outcome {
        AttemptOutcome::Delivered { status } => tracing::info!(
            id = d.id,
            corpid,
            agentid,
            meetingid,
            change,
            attempt,
            status,
            "callback delivered"
        ),
        AttemptOutcome::Retry { error, .. } => tracing::info!(
            id = d.id, corpid, agentid, meetingid, change, attempt, error = %error,
            "callback attempt failed; retrying"
        ),
        AttemptOutcome::GaveUp { error, .. } => tracing::warn!(
            id = d.id, corpid, agentid, meetingid, change, attempt, error = %error,
            "callback given up"
        ),
    }
}
