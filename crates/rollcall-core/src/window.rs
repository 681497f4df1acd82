//! The `start_time` / `end_time` rules of get_attendee_list (SPEC §3, "Time window").
//!
//! The window filters sessions on `join_time`, inclusive at both ends. WeCom decodes JSON
//! like protobuf, so a `0` is the same as an absent field; we honour that, since clients
//! commonly send `"start_time": 0`.
//!
//! The window does not apply to recurring meetings (WeCom: "暂时不生效"): [`for_meeting`]
//! decides, [`resolve`] is the table itself.

use crate::model::MeetingType;
use crate::DAY;

/// The longest span a caller may ask for: 31 days.
pub const MAX_SPAN: i64 = 31 * DAY;
/// The default span when neither bound is given: 90 days.
pub const DEFAULT_SPAN: i64 = 90 * DAY;

/// An inclusive join-time window. `end == None` means "up to now, whenever now is": a cursor
/// pins the end only when the first call gave one, so incremental syncs keep seeing new joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: Option<i64>,
}

impl Window {
    /// Every join, whenever it happened.
    pub const EVERYTHING: Window = Window {
        start: i64::MIN,
        end: Some(i64::MAX),
    };

    /// The effective end at time `now`.
    pub fn end_at(&self, now: i64) -> i64 {
        self.end.unwrap_or(now)
    }
}

/// Why a window was refused; both name `start_time` as the offending field, since the start
/// is what lies too early (or after the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowError {
    StartAfterEnd,
    SpanTooLong,
}

/// Resolve the caller's bounds into a window, per SPEC §3's table.
pub fn resolve(
    now: i64,
    start_time: Option<u32>,
    end_time: Option<u32>,
) -> Result<Window, WindowError> {
    let start = start_time.filter(|&s| s != 0).map(i64::from);
    let end = end_time.filter(|&e| e != 0).map(i64::from);
    match (start, end) {
        (None, None) => Ok(Window {
            start: now - DEFAULT_SPAN,
            end: None,
        }),
        (None, Some(e)) => Ok(Window {
            start: e - MAX_SPAN,
            end: Some(e),
        }),
        (Some(s), None) => {
            check(s, now)?;
            Ok(Window {
                start: s,
                end: None,
            })
        }
        (Some(s), Some(e)) => {
            check(s, e)?;
            Ok(Window {
                start: s,
                end: Some(e),
            })
        }
    }
}

/// The window of a listing of a meeting of type `kind`: every join for a recurring meeting
/// (the bounds are ignored there, not checked), the SPEC §3 table otherwise.
pub fn for_meeting(
    now: i64,
    kind: MeetingType,
    start_time: Option<u32>,
    end_time: Option<u32>,
) -> Result<Window, WindowError> {
    if kind == MeetingType::Recurring {
        Ok(Window::EVERYTHING)
    } else {
        resolve(now, start_time, end_time)
    }
}

fn check(start: i64, end: i64) -> Result<(), WindowError> {
    if start > end {
        Err(WindowError::StartAfterEnd)
    } else if end - start > MAX_SPAN {
        Err(WindowError::SpanTooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_760_000_000;

    #[test]
    fn the_table() {
        assert_eq!(
            resolve(NOW, None, None),
            Ok(Window {
                start: NOW - 90 * DAY,
                end: None
            })
        );
        assert_eq!(
            resolve(NOW, Some(0), Some(0)),
            Ok(Window {
                start: NOW - 90 * DAY,
                end: None
            })
        );
        let e = (NOW - 5 * DAY) as u32;
        assert_eq!(
            resolve(NOW, None, Some(e)),
            Ok(Window {
                start: i64::from(e) - 31 * DAY,
                end: Some(i64::from(e))
            })
        );
        let s = (NOW - 31 * DAY) as u32;
        assert_eq!(
            resolve(NOW, Some(s), None),
            Ok(Window {
                start: i64::from(s),
                end: None
            })
        );
        assert_eq!(
            resolve(NOW, Some(s - 1), None),
            Err(WindowError::SpanTooLong)
        );
        assert_eq!(
            resolve(NOW, Some(NOW as u32 + 1), None),
            Err(WindowError::StartAfterEnd)
        );
        assert_eq!(
            resolve(NOW, Some(100), Some(100 + 31 * DAY as u32)),
            Ok(Window {
                start: 100,
                end: Some(100 + 31 * DAY)
            })
        );
        assert_eq!(
            resolve(NOW, Some(100), Some(101 + 31 * DAY as u32)),
            Err(WindowError::SpanTooLong)
        );
        assert_eq!(
            resolve(NOW, Some(200), Some(100)),
            Err(WindowError::StartAfterEnd)
        );
        assert_eq!(
            resolve(NOW, Some(200), Some(200)),
            Ok(Window {
                start: 200,
                end: Some(200)
            })
        );
    }

    #[test]
    fn the_window_does_not_apply_to_recurring_meetings() {
        // Bounds that the table refuses are ignored, not checked, for a recurring meeting.
        let bad = (Some(200), Some(100));
        assert_eq!(
            for_meeting(NOW, MeetingType::Recurring, bad.0, bad.1),
            Ok(Window::EVERYTHING)
        );
        assert_eq!(
            for_meeting(NOW, MeetingType::Recurring, None, None),
            Ok(Window {
                start: i64::MIN,
                end: Some(i64::MAX)
            })
        );
        for kind in [MeetingType::OneOff, MeetingType::Webinar] {
            assert_eq!(
                for_meeting(NOW, kind, bad.0, bad.1),
                Err(WindowError::StartAfterEnd)
            );
            assert_eq!(for_meeting(NOW, kind, None, None), resolve(NOW, None, None));
        }
    }

    proptest! {
        #[test]
        fn accepted_windows_are_ordered_and_bounded(now in 100_000_000i64..4_000_000_000, s in 0u32.., e in 0u32..) {
            let (s, e) = (Some(s), Some(e));
            if let Ok(w) = resolve(now, s, e) {
                let end = w.end_at(now);
                prop_assert!(w.start <= end);
                let given = s.filter(|&x| x != 0).is_some() || e.filter(|&x| x != 0).is_some();
                let max = if given { MAX_SPAN } else { DEFAULT_SPAN };
                prop_assert!(end - w.start <= max);
            }
        }
    }
}
