//! How a callback event is delivered (SPEC §11): what counts as received, how long an
//! attempt may take, how often it is retried and how far apart — pure rules the server's
//! delivery loop applies to what the receiver answered — and the events the meeting calls
//! decide.
//!
//! WeCom's page for receiving messages and events (接收消息与事件 › 接收消息协议的说明,
//! <https://developer.work.weixin.qq.com/document/path/90930>, formerly path/90238) says:
//! - "企业微信服务器在五秒内收不到响应会断掉连接，并且重新发起请求，总共重试三次": an
//!   attempt gets 5 s ([`TIMEOUT_MS`]), and a failed one is retried three times
//!   ([`MAX_ATTEMPTS`] = the first attempt + 3);
//! - "当接收成功后，http头部返回200表示接收ok，其他错误码企业微信后台会一律当做失败并发起
//!   重试": **only** HTTP 200 is received ([`is_received`]); any other status (a 204, a
//!   redirect, a 5xx) is a failure and retried;
//! - "假如企业无法保证在五秒内处理并回复，或者不想回复任何内容，可以直接返回200（即以空串为
//!   返回包）": the body does not matter (empty, `success` or a passive reply), so it is
//!   not read;
//! - "关于重试的消息排重……事件类型消息推荐使用FromUserName + CreateTime排重": retries carry
//!   the same event (same `CreateTime`), and receivers are told to deduplicate — delivery is
//!   at least once.
//!
//! Where WeCom is silent, rollcall's choices:
//! - **Backoff**: WeCom documents no interval (it reconnects after its 5 s). rollcall waits
//!   [`RETRY_DELAYS_MS`] (1 s, 2 s, 4 s: doubling) before retries 1..3, so a receiver that
//!   restarts in a few seconds still gets the event, and a test of the whole schedule runs
//!   in seconds. No jitter: ordering per meeting already spreads retries, and a seeded run
//!   stays reproducible.
//! - **Giving up** after the last attempt is recorded (`Failed`, with the last status and
//!   error) and the meeting's next event goes ahead: one dead event must not hold up the
//!   meeting's later ones forever.
//! - **No callback target any more** (the app's settings were removed after the event was
//!   written): given up at once, nothing to send to.
//! - **Retry times are wall-clock** milliseconds, never the virtual clock: they are about
//!   when a real receiver may be back, and leases about when a real node is presumed dead.
//!   The event's `CreateTime` is the server's clock (virtual or not), as every other
//!   timestamp rollcall shows.

use rollcall_callback::{ChangeType, TIMEOUT_SECS};

use crate::model::AppRef;
use crate::outbox::{AttemptOutcome, NewDelivery};

/// How long one attempt may take, connect to last header (WeCom's five seconds).
pub const TIMEOUT_MS: i64 = (TIMEOUT_SECS * 1000) as i64;

/// Attempts per event: the first and WeCom's three retries ("总共重试三次").
pub const MAX_ATTEMPTS: u32 = 4;

/// The wait before retry `n` (1-based), after attempt `n` failed.
pub const RETRY_DELAYS_MS: [i64; (MAX_ATTEMPTS - 1) as usize] = [1_000, 2_000, 4_000];

/// How long a claimed event is a node's own: twice an attempt's longest time, so a live
/// node always finishes first, and a dead node's event is claimable again soon after.
pub const LEASE_MS: i64 = 2 * TIMEOUT_MS;
const _: () = assert!(LEASE_MS > TIMEOUT_MS && TIMEOUT_MS == 5_000);

/// `FromUserName` when no member acted (WeCom: "如果为系统触发事件,默认为sys").
pub use rollcall_callback::event::FROM_SYSTEM;

/// Does this status mean the receiver took the event? WeCom: only 200.
pub fn is_received(status: u16) -> bool {
    status == 200
}

/// What one attempt got from the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer with this status (the body is not read: WeCom ignores it).
    Status(u16),
    /// No answer: connect error, timeout, closed connection (the reason, in a few words).
    NoAnswer(String),
}

/// The outcome of attempt number `attempt` (1-based) that got `answer`, at `now_ms`
/// (wall clock): delivered, retried after the backoff, or given up after the last attempt.
pub fn outcome(attempt: u32, answer: &Answer, now_ms: i64) -> AttemptOutcome {
    let (status, error) = match answer {
        Answer::Status(s) if is_received(*s) => return AttemptOutcome::Delivered { status: *s },
        Answer::Status(s) => (
            Some(*s),
            format!("HTTP status {s} (WeCom counts only 200 as received)"),
        ),
        Answer::NoAnswer(why) => (None, why.clone()),
    };
    match retry_delay_ms(attempt) {
        Some(delay) => AttemptOutcome::Retry {
            status,
            error,
            next_attempt_at_ms: now_ms.saturating_add(delay),
        },
        None => AttemptOutcome::GaveUp {
            status,
            error: format!("gave up after {attempt} attempts: {error}"),
        },
    }
}

/// The wait after failed attempt `attempt` (1-based); `None` once it was the last.
pub fn retry_delay_ms(attempt: u32) -> Option<i64> {
    let i = usize::try_from(attempt.checked_sub(1)?).ok()?;
    RETRY_DELAYS_MS.get(i).copied()
}

/// The event one meeting call decides, for the meeting's owner app, if that app has a
/// callback target (none otherwise: WeCom sends to the app's configured URL only).
/// `actor` is the member who acted, `None` for the system ([`FROM_SYSTEM`]); `at` the
/// server's clock.
pub fn meeting_event(
    owner: &AppRef,
    has_target: bool,
    meetingid: &str,
    change: &ChangeType,
    actor: Option<&str>,
    at: i64,
) -> Vec<NewDelivery> {
    if !has_target {
        return Vec::new();
    }
    vec![NewDelivery {
        corpid: owner.corpid.clone(),
        agentid: owner.agentid,
        meetingid: meetingid.to_owned(),
        change_type: change.as_str().to_owned(),
        from_user: actor.unwrap_or(FROM_SYSTEM).to_owned(),
        create_time: at,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_200_is_received() {
        assert!(is_received(200));
        for s in [201, 202, 204, 301, 302, 400, 404, 500, 503] {
            assert!(!is_received(s), "{s}");
        }
        assert_eq!(
            outcome(1, &Answer::Status(200), 7),
            AttemptOutcome::Delivered { status: 200 }
        );
        let AttemptOutcome::Retry { status, error, .. } = outcome(1, &Answer::Status(204), 7)
        else {
            panic!("a 204 is retried")
        };
        assert_eq!(status, Some(204));
        assert!(error.contains("HTTP status 204"), "{error}");
    }

    #[test]
    fn failures_are_retried_three_times_with_doubling_waits_then_given_up() {
        let now = 1_000_000;
        let mut waits = Vec::new();
        for attempt in 1..MAX_ATTEMPTS {
            match outcome(attempt, &Answer::NoAnswer("timeout".into()), now) {
                AttemptOutcome::Retry {
                    status: None,
                    error,
                    next_attempt_at_ms,
                } => {
                    assert_eq!(error, "timeout");
                    waits.push(next_attempt_at_ms - now);
                }
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
        assert_eq!(waits, [1_000, 2_000, 4_000]);
        assert_eq!(
            MAX_ATTEMPTS, 4,
            "the first attempt and WeCom's three retries"
        );
        match outcome(MAX_ATTEMPTS, &Answer::Status(500), now) {
            AttemptOutcome::GaveUp { status, error } => {
                assert_eq!(status, Some(500));
                assert!(
                    error.starts_with("gave up after 4 attempts: HTTP status 500"),
                    "{error}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(retry_delay_ms(0), None);
        assert_eq!(retry_delay_ms(MAX_ATTEMPTS + 5), None);
        // A later success still counts, whatever the attempt.
        assert_eq!(
            outcome(MAX_ATTEMPTS, &Answer::Status(200), now),
            AttemptOutcome::Delivered { status: 200 }
        );
    }

    #[test]
    fn events_go_to_the_owner_app_only_with_a_target() {
        let owner = AppRef {
            corpid: "ww1".into(),
            agentid: 1_000_002,
        };
        assert!(meeting_event(&owner, false, "m1", &ChangeType::CreateMeeting, None, 5).is_empty());
        let by_admin = meeting_event(
            &owner,
            true,
            "m1",
            &ChangeType::ModifyMeeting,
            Some("zhang"),
            5,
        );
        assert_eq!(
            by_admin,
            [NewDelivery {
                corpid: "ww1".into(),
                agentid: 1_000_002,
                meetingid: "m1".into(),
                change_type: "modify_meeting".into(),
                from_user: "zhang".into(),
                create_time: 5,
            }]
        );
        let by_system = meeting_event(&owner, true, "m1", &ChangeType::CancelMeeting, None, 6);
        assert_eq!(by_system[0].from_user, "sys");
        assert_eq!(by_system[0].change_type, "cancel_meeting");
    }
}
