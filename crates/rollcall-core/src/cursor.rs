//! Authenticated pagination cursors for get_attendee_list (SPEC §3, "Pagination") and
//! `meeting/get_user_meetingid` (SPEC §4).
//!
//! A cursor is the whole state of a listing, carried by the client: which app, meeting,
//! sub-meeting and `limit` it belongs to, the pinned window, the snapshot it covers and the
//! position reached. It is MACed with the server secret, so a cursor cannot be forged or
//! altered, and stays valid across restarts and nodes that share the store.
//!
//! # Why a snapshot
//! Rows are ordered by `(join_time, seq)`, where `seq` is the per-meeting order in which joins
//! were stored. A *pass* lists the sessions with `seq_lo < seq <= seq_hi`, where `seq_hi` is
//! the meeting's last `seq` when the pass's first page was read. So following `next_cursor`
//! returns every session stored before the first page exactly once, however many joins,
//! quits and state changes arrive meanwhile, and with keyset (never OFFSET) access. When a pass
//! is exhausted, `next_cursor` starts the next one at `seq_lo = seq_hi`: calling again later
//! returns exactly the sessions stored since, even ones whose `join_time` lies before the
//! position already reached (a late-delivered join).
//!
//! # Listing a member's meetings
//! [`UserMeetingsCursor`] is the same idea for `meeting/get_user_meetingid`: app, member,
//! `limit`, the window and the keyset position `(span start, meeting key)`, MACed under its own
//! label so that neither kind of cursor is accepted as the other.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::crypto::{sha256, ServerSecret};
use crate::model::{AppRef, SessionScan};
use crate::window::Window;

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
const LABEL: &[u8] = b"rollcall/cursor/v1";

/// Why a cursor was refused; every case answers errcode 50100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    /// Not base64, wrong length, unknown version, or a MAC that does not verify.
    Malformed,
    /// Genuine, but issued for another app, meeting or sub-meeting.
    WrongContext,
    /// Genuine, but issued with another `limit`.
    WrongLimit,
}

/// The decoded state of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorState {
    pub app_tag: u64,
    pub meeting_key: i64,
    pub sub_key: i64,
    pub limit: u32,
    pub window: Window,
    /// Exclusive lower bound of the pass's `seq` range.
    pub seq_lo: u64,
    /// Inclusive upper bound, fixed by the pass's first page; `None` until then.
    pub seq_hi: Option<u64>,
    /// Last `(join_time, seq)` returned in this pass.
    pub pos: Option<(i64, u64)>,
}

/// A short, stable tag for an app, so a cursor can pin it without carrying the corpid.
pub fn app_tag(app: &AppRef) -> u64 {
    let mut buf = Vec::with_capacity(app.corpid.len() + 5);
    buf.extend_from_slice(app.corpid.as_bytes());
    buf.push(0);
    buf.extend_from_slice(&app.agentid.to_be_bytes());
    let h = sha256(&buf);
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes"))
}

impl CursorState {
    /// The state of a fresh listing (no cursor given).
    pub fn first(app_tag: u64, meeting_key: i64, sub_key: i64, limit: u32, window: Window) -> Self {
        Self {
            app_tag,
            meeting_key,
            sub_key,
            limit,
            window,
            seq_lo: 0,
            seq_hi: None,
            pos: None,
        }
    }

    /// Refuse a genuine cursor used out of its context.
    pub fn check(
        &self,
        app_tag: u64,
        meeting_key: i64,
        sub_key: i64,
        limit: u32,
    ) -> Result<(), CursorError> {
        if self.app_tag != app_tag || self.meeting_key != meeting_key || self.sub_key != sub_key {
            return Err(CursorError::WrongContext);
        }
        if self.limit != limit {
            return Err(CursorError::WrongLimit);
        }
        Ok(())
    }

    /// The keyset scan that continues this listing: `batch` rows after the position, within
    /// the snapshot `(seq_lo, seq_hi]` and the window as of `now`.
    pub fn scan(
        &self,
        seq_hi: u64,
        now: i64,
        after: Option<(i64, u64)>,
        batch: u32,
    ) -> SessionScan {
        let start = (self.window.start, 0);
        let from = after.or(self.pos).map_or(start, |p| p.max(start));
        SessionScan {
            meeting_key: self.meeting_key,
            sub_key: self.sub_key,
            after: from,
            join_max: self.window.end_at(now),
            seq_lo: self.seq_lo,
            seq_hi,
            limit: batch,
        }
    }

    /// The cursor after a page that stopped at `pos` with more to come in this pass.
    pub fn more(&self, seq_hi: u64, pos: (i64, u64)) -> Self {
        Self {
            seq_hi: Some(seq_hi),
            pos: Some(pos),
            ..*self
        }
    }

    /// The cursor after the pass is exhausted: the next call lists what was stored since.
    pub fn next_pass(&self, seq_hi: u64) -> Self {
        Self {
            seq_lo: seq_hi,
            seq_hi: None,
            pos: None,
            ..*self
        }
    }

    /// Encode and authenticate.
    pub fn encode(&self, secret: &ServerSecret) -> String {
        let mut b = Vec::with_capacity(96);
        b.push(VERSION);
        b.extend_from_slice(&self.app_tag.to_be_bytes());
        b.extend_from_slice(&self.meeting_key.to_be_bytes());
        b.extend_from_slice(&self.sub_key.to_be_bytes());
        b.extend_from_slice(&self.limit.to_be_bytes());
        b.extend_from_slice(&self.window.start.to_be_bytes());
        let flags = u8::from(self.window.end.is_some())
            | u8::from(self.seq_hi.is_some()) << 1
            | u8::from(self.pos.is_some()) << 2;
        b.push(flags);
        if let Some(e) = self.window.end {
            b.extend_from_slice(&e.to_be_bytes());
        }
        b.extend_from_slice(&self.seq_lo.to_be_bytes());
        if let Some(h) = self.seq_hi {
            b.extend_from_slice(&h.to_be_bytes());
        }
        if let Some((t, s)) = self.pos {
            b.extend_from_slice(&t.to_be_bytes());
            b.extend_from_slice(&s.to_be_bytes());
        }
        seal(secret, LABEL, b)
    }

    /// Decode and verify. Never panics, whatever the input.
    pub fn decode(s: &str, secret: &ServerSecret) -> Result<Self, CursorError> {
        let body = open(secret, LABEL, s)?;
        let mut r = Reader(&body);
        if r.u8()? != VERSION {
            return Err(CursorError::Malformed);
        }
        let app_tag = r.u64()?;
        let meeting_key = r.i64()?;
        let sub_key = r.i64()?;
        let limit = r.u32()?;
        let start = r.i64()?;
        let flags = r.u8()?;
        let end = if flags & 1 != 0 { Some(r.i64()?) } else { None };
        let seq_lo = r.u64()?;
        let seq_hi = if flags & 2 != 0 { Some(r.u64()?) } else { None };
        let pos = if flags & 4 != 0 {
            Some((r.i64()?, r.u64()?))
        } else {
            None
        };
        if !r.0.is_empty() {
            return Err(CursorError::Malformed);
        }
        Ok(Self {
            app_tag,
            meeting_key,
            sub_key,
            limit,
            window: Window { start, end },
            seq_lo,
            seq_hi,
            pos,
        })
    }
}

/// Append the MAC of `body` under `label` and encode: an opaque, URL-safe cursor.
fn seal(secret: &ServerSecret, label: &[u8], mut body: Vec<u8>) -> String {
    let mac = secret.mac(label, &[&body]);
    body.extend_from_slice(&mac[..MAC_LEN]);
    URL_SAFE_NO_PAD.encode(body)
}

/// Decode a cursor sealed under `label` and verify its MAC; the body, or `Malformed`.
fn open(secret: &ServerSecret, label: &[u8], s: &str) -> Result<Vec<u8>, CursorError> {
    if s.len() > 256 {
        return Err(CursorError::Malformed);
    }
    let mut raw = URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .map_err(|_| CursorError::Malformed)?;
    if raw.len() < 1 + MAC_LEN {
        return Err(CursorError::Malformed);
    }
    let mac = raw.split_off(raw.len() - MAC_LEN);
    let expect = secret.mac(label, &[&raw]);
    if !bool::from(expect[..MAC_LEN].ct_eq(&mac)) {
        return Err(CursorError::Malformed);
    }
    Ok(raw)
}

const USER_LABEL: &[u8] = b"rollcall/user_meetings/v1";

/// A short, stable tag for a member, so a cursor can pin it without carrying the userid.
pub fn user_tag(userid: &str) -> u64 {
    let h = sha256(userid.as_bytes());
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes"))
}

/// The state of a `meeting/get_user_meetingid` listing after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserMeetingsCursor {
    pub app_tag: u64,
    pub user_tag: u64,
    pub limit: u32,
    /// The window, pinned by the first page.
    pub begin: i64,
    pub end: i64,
    /// Last `(span start, meeting key)` returned.
    pub pos: (i64, i64),
}

impl UserMeetingsCursor {
    /// Refuse a genuine cursor used for another app, member or `limit`.
    pub fn check(&self, app_tag: u64, user_tag: u64, limit: u32) -> Result<(), CursorError> {
        if self.app_tag != app_tag || self.user_tag != user_tag {
            return Err(CursorError::WrongContext);
        }
        if self.limit != limit {
            return Err(CursorError::WrongLimit);
        }
        Ok(())
    }

    /// Encode and authenticate.
    pub fn encode(&self, secret: &ServerSecret) -> String {
        let mut b = Vec::with_capacity(64);
        b.push(VERSION);
        b.extend_from_slice(&self.app_tag.to_be_bytes());
        b.extend_from_slice(&self.user_tag.to_be_bytes());
        b.extend_from_slice(&self.limit.to_be_bytes());
        b.extend_from_slice(&self.begin.to_be_bytes());
        b.extend_from_slice(&self.end.to_be_bytes());
        b.extend_from_slice(&self.pos.0.to_be_bytes());
        b.extend_from_slice(&self.pos.1.to_be_bytes());
        seal(secret, USER_LABEL, b)
    }

    /// Decode and verify. Never panics, whatever the input.
    pub fn decode(s: &str, secret: &ServerSecret) -> Result<Self, CursorError> {
        let body = open(secret, USER_LABEL, s)?;
        let mut r = Reader(&body);
        if r.u8()? != VERSION {
            return Err(CursorError::Malformed);
        }
        let c = Self {
            app_tag: r.u64()?,
            user_tag: r.u64()?,
            limit: r.u32()?,
            begin: r.i64()?,
            end: r.i64()?,
            pos: (r.i64()?, r.i64()?),
        };
        if !r.0.is_empty() {
            return Err(CursorError::Malformed);
        }
        Ok(c)
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], CursorError> {
        if self.0.len() < N {
            return Err(CursorError::Malformed);
        }
        let (h, t) = self.0.split_at(N);
        self.0 = t;
        Ok(h.try_into().expect("N bytes"))
    }
    fn u8(&mut self) -> Result<u8, CursorError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, CursorError> {
        Ok(u32::from_be_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, CursorError> {
        Ok(u64::from_be_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, CursorError> {
        Ok(i64::from_be_bytes(self.take()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret() -> ServerSecret {
        ServerSecret::new([3; 32])
    }

    fn arb_state() -> impl Strategy<Value = CursorState> {
        (
            any::<u64>(),
            any::<i64>(),
            any::<i64>(),
            1u32..=100,
            any::<i64>(),
            proptest::option::of(any::<i64>()),
            any::<u64>(),
            proptest::option::of(any::<u64>()),
            proptest::option::of((any::<i64>(), any::<u64>())),
        )
            .prop_map(
                |(app_tag, meeting_key, sub_key, limit, start, end, seq_lo, seq_hi, pos)| {
                    CursorState {
                        app_tag,
                        meeting_key,
                        sub_key,
                        limit,
                        window: Window { start, end },
                        seq_lo,
                        seq_hi,
                        pos,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn round_trips(st in arb_state()) {
            let s = st.encode(&secret());
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            prop_assert_eq!(CursorState::decode(&s, &secret()), Ok(st));
        }

        #[test]
        fn any_alteration_is_refused(st in arb_state(), idx in any::<prop::sample::Index>(), bit in 0u8..8) {
            let s = st.encode(&secret());
            let mut raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
            let i = idx.index(raw.len());
            raw[i] ^= 1 << bit;
            let altered = URL_SAFE_NO_PAD.encode(raw);
            prop_assert_eq!(CursorState::decode(&altered, &secret()), Err(CursorError::Malformed));
        }

        #[test]
        fn junk_never_panics(s in ".{0,300}") {
            let _ = CursorState::decode(&s, &secret());
        }
    }

    #[test]
    fn another_secret_or_context_is_refused() {
        let st = CursorState::first(
            1,
            2,
            0,
            10,
            Window {
                start: 5,
                end: None,
            },
        );
        let s = st.encode(&secret());
        assert_eq!(
            CursorState::decode(&s, &ServerSecret::new([4; 32])),
            Err(CursorError::Malformed)
        );
        assert_eq!(st.check(1, 2, 0, 10), Ok(()));
        assert_eq!(st.check(9, 2, 0, 10), Err(CursorError::WrongContext));
        assert_eq!(st.check(1, 3, 0, 10), Err(CursorError::WrongContext));
        assert_eq!(st.check(1, 2, 7, 10), Err(CursorError::WrongContext));
        assert_eq!(st.check(1, 2, 0, 11), Err(CursorError::WrongLimit));
    }

    #[test]
    fn scans_start_at_window_or_position() {
        let st = CursorState::first(
            1,
            2,
            0,
            10,
            Window {
                start: 100,
                end: None,
            },
        );
        let sc = st.scan(50, 1000, None, 11);
        assert_eq!(
            (sc.after, sc.join_max, sc.seq_lo, sc.seq_hi, sc.limit),
            ((100, 0), 1000, 0, 50, 11)
        );
        let st2 = st.more(50, (150, 7));
        assert_eq!(st2.scan(50, 1000, None, 11).after, (150, 7));
        let st3 = st2.next_pass(50);
        assert_eq!((st3.seq_lo, st3.seq_hi, st3.pos), (50, None, None));
    }

    fn arb_user_cursor() -> impl Strategy<Value = UserMeetingsCursor> {
        (
            any::<u64>(),
            any::<u64>(),
            1u32..=100,
            any::<i64>(),
            any::<i64>(),
            (any::<i64>(), any::<i64>()),
        )
            .prop_map(
                |(app_tag, user_tag, limit, begin, end, pos)| UserMeetingsCursor {
                    app_tag,
                    user_tag,
                    limit,
                    begin,
                    end,
                    pos,
                },
            )
    }

    proptest! {
        #[test]
        fn user_cursors_round_trip_and_refuse_alterations(
            c in arb_user_cursor(),
            idx in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let s = c.encode(&secret());
            prop_assert_eq!(UserMeetingsCursor::decode(&s, &secret()), Ok(c));
            let mut raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
            let i = idx.index(raw.len());
            raw[i] ^= 1 << bit;
            let altered = URL_SAFE_NO_PAD.encode(raw);
            prop_assert_eq!(
                UserMeetingsCursor::decode(&altered, &secret()),
                Err(CursorError::Malformed)
            );
            // Neither kind of cursor passes for the other.
            prop_assert_eq!(CursorState::decode(&s, &secret()), Err(CursorError::Malformed));
        }

        #[test]
        fn user_cursor_junk_never_panics(s in ".{0,300}") {
            let _ = UserMeetingsCursor::decode(&s, &secret());
        }
    }

    #[test]
    fn user_cursors_pin_app_member_and_limit() {
        let c = UserMeetingsCursor {
            app_tag: 1,
            user_tag: user_tag("alice"),
            limit: 10,
            begin: 0,
            end: 5,
            pos: (3, 4),
        };
        assert_eq!(c.check(1, user_tag("alice"), 10), Ok(()));
        assert_eq!(
            c.check(2, user_tag("alice"), 10),
            Err(CursorError::WrongContext)
        );
        assert_eq!(
            c.check(1, user_tag("bob"), 10),
            Err(CursorError::WrongContext)
        );
        assert_eq!(
            c.check(1, user_tag("alice"), 11),
            Err(CursorError::WrongLimit)
        );
        let listing = CursorState::first(
            1,
            2,
            0,
            10,
            Window {
                start: 0,
                end: None,
            },
        );
        let s = listing.encode(&secret());
        assert_eq!(
            UserMeetingsCursor::decode(&s, &secret()),
            Err(CursorError::Malformed)
        );
    }

    #[test]
    fn distinct_apps_have_distinct_tags() {
        let a = AppRef {
            corpid: "ww1".into(),
            agentid: 1000002,
        };
        let b = AppRef {
            corpid: "ww1".into(),
            agentid: 1000003,
        };
        assert_ne!(app_tag(&a), app_tag(&b));
        assert_eq!(app_tag(&a), app_tag(&a.clone()));
    }
}
