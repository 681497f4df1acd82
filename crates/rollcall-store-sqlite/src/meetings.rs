//! Meetings, their sub-meetings, and the members they are listed for.
//!
//! A meeting and everything hanging off it (sub-meetings, `meeting_people` rows) are written
//! in one transaction, on create and on update alike, so a reader that sees the meeting sees
//! all of it. Besides `last_seq` (owned by ingest), a meeting row changes only through
//! [`update_meeting`] and [`cancel_meeting`], both refused once it is cancelled. The callback
//! events each change causes go into the outbox in the change's own transaction
//! ([`crate::outbox::enqueue`]), and only when the change happened.

use r2d2_sqlite::rusqlite::{params, Connection, Params, Row, Transaction, TransactionBehavior};

use rollcall_core::model::{
    people, AppRef, Meeting, MeetingDetails, MeetingType, MeetingUpdate, NewMeeting, SubMeeting,
    UserMeetingRow, UserMeetingScan,
};
use rollcall_core::outbox::NewDelivery;
use rollcall_core::schedule::Presence;

use crate::error::{is_unique_violation, Error, Result};

/// The columns [`meeting_row`] decodes, as a literal so queries can be built with `concat!`.
macro_rules! meeting_cols {
    () => {
        "key, meetingid, meeting_code, corpid, agentid, meeting_type, title, meeting_start, \
         meeting_duration, admin_userid, description, location, invitees, settings, reminders, \
         cancelled"
    };
}

pub(crate) fn create_meeting(
    conn: &mut Connection,
    m: &NewMeeting,
    callbacks: &[NewDelivery],
) -> Result<Meeting> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO meetings (meetingid, meeting_code, corpid, agentid, meeting_type, title, \
             meeting_start, meeting_duration, admin_userid, description, location, invitees, \
             settings, reminders) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?
        .execute(params![
            m.meetingid,
            m.meeting_code,
            m.owner.corpid,
            m.owner.agentid,
            m.meeting_type.code(),
            m.title,
            m.meeting_start,
            m.meeting_duration,
            m.admin_userid,
            m.details.description,
            m.details.location,
            serde_json::to_string(&m.details.invitees)?,
            m.details.settings_json()?,
            m.details.reminders_json()?,
        ]);
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict(format!(
                "meetingid {:?} is taken",
                m.meetingid
            )))
        }
        Err(e) => return Err(e.into()),
    }
    let key = tx.last_insert_rowid();
    let meeting = m.stored(key);
    insert_sub_meetings(&tx, key, &meeting.sub_meetings)?;
    insert_people(
        &tx,
        &m.owner,
        key,
        &meeting.people(),
        (meeting.span_start(), meeting.span_end()),
    )?;
    crate::outbox::enqueue(&tx, callbacks)?;
    tx.commit()?;
    Ok(meeting)
}

fn insert_sub_meetings(tx: &Transaction<'_>, meeting_key: i64, subs: &[SubMeeting]) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO sub_meetings (meeting_key, key, sub_meetingid, start_time, end_time) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for s in subs {
        st.execute(params![
            meeting_key,
            s.key,
            s.sub_meetingid,
            s.start_time,
            s.end_time
        ])?;
    }
    Ok(())
}

/// The `meeting_people` rows of a meeting: one per member it is listed for.
fn insert_people(
    tx: &Transaction<'_>,
    owner: &AppRef,
    meeting_key: i64,
    userids: &[&str],
    (span_start, span_end): (i64, i64),
) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO meeting_people (corpid, agentid, userid, span_start, meeting_key, span_end) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for u in userids {
        st.execute(params![
            owner.corpid,
            owner.agentid,
            u,
            span_start,
            meeting_key,
            span_end
        ])?;
    }
    Ok(())
}

pub(crate) fn update_meeting(
    conn: &mut Connection,
    u: &MeetingUpdate,
    callbacks: &[NewDelivery],
) -> Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx
        .prepare_cached(
            "UPDATE meetings SET meeting_type = ?2, title = ?3, meeting_start = ?4, \
             meeting_duration = ?5, description = ?6, location = ?7, invitees = ?8, \
             settings = ?9, reminders = ?10 \
             WHERE key = ?1 AND cancelled = 0",
        )?
        .execute(params![
            u.key,
            u.meeting_type.code(),
            u.title,
            u.meeting_start,
            u.meeting_duration,
            u.details.description,
            u.details.location,
            serde_json::to_string(&u.details.invitees)?,
            u.details.settings_json()?,
            u.details.reminders_json()?,
        ])?;
    if changed == 0 {
        return Ok(false);
    }
    let (corpid, agentid, admin): (String, u32, Option<String>) = tx
        .prepare_cached("SELECT corpid, agentid, admin_userid FROM meetings WHERE key = ?1")?
        .query_row([u.key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    tx.prepare_cached("DELETE FROM sub_meetings WHERE meeting_key = ?1")?
        .execute([u.key])?;
    insert_sub_meetings(&tx, u.key, &u.sub_meetings)?;
    tx.prepare_cached("DELETE FROM meeting_people WHERE meeting_key = ?1")?
        .execute([u.key])?;
    insert_people(
        &tx,
        &AppRef { corpid, agentid },
        u.key,
        &people(admin.as_deref(), &u.details.invitees),
        (u.span_start(), u.span_end()),
    )?;
    crate::outbox::enqueue(&tx, callbacks)?;
    tx.commit()?;
    Ok(true)
}

pub(crate) fn meetingid_by_code(
    conn: &Connection,
    app: &AppRef,
    meeting_code: &str,
) -> Result<Option<String>> {
    let mut st = conn.prepare_cached(
        "SELECT meetingid FROM meetings WHERE corpid = ?1 AND agentid = ?2 AND meeting_code = ?3 \
         ORDER BY key DESC LIMIT 1",
    )?;
    let mut rows = st.query(params![app.corpid, app.agentid, meeting_code])?;
    Ok(match rows.next()? {
        Some(r) => Some(r.get(0)?),
        None => None,
    })
}

pub(crate) fn cancel_meeting(
    conn: &mut Connection,
    meeting_key: i64,
    callbacks: &[NewDelivery],
) -> Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx
        .prepare_cached("UPDATE meetings SET cancelled = 1 WHERE key = ?1 AND cancelled = 0")?
        .execute([meeting_key])?;
    if changed == 0 {
        return Ok(false);
    }
    crate::outbox::enqueue(&tx, callbacks)?;
    tx.commit()?;
    Ok(true)
}

/// A meeting row (columns as `meeting_cols!()`), without its sub-meetings yet.
fn meeting_row(r: &Row<'_>) -> Result<Meeting> {
    let code: i64 = r.get(5)?;
    let meeting_type = u64::try_from(code)
        .ok()
        .and_then(MeetingType::from_code)
        .ok_or_else(|| Error::Corrupt(format!("unknown meeting_type code {code}")))?;
    let invitees: String = r.get(12)?;
    let settings: Option<String> = r.get(13)?;
    let reminders: Option<String> = r.get(14)?;
    Ok(Meeting {
        key: r.get(0)?,
        meetingid: r.get(1)?,
        meeting_code: r.get(2)?,
        owner: AppRef {
            corpid: r.get(3)?,
            agentid: r.get(4)?,
        },
        meeting_type,
        title: r.get(6)?,
        meeting_start: r.get(7)?,
        meeting_duration: r.get(8)?,
        admin_userid: r.get(9)?,
        sub_meetings: Vec::new(),
        details: MeetingDetails {
            description: r.get(10)?,
            location: r.get(11)?,
            invitees: serde_json::from_str(&invitees)?,
            settings: settings.as_deref().map(serde_json::from_str).transpose()?,
            reminders: reminders.as_deref().map(serde_json::from_str).transpose()?,
        },
        cancelled: r.get(15)?,
    })
}

fn sub_meetings(conn: &Connection, meeting_key: i64) -> Result<Vec<SubMeeting>> {
    let mut st = conn.prepare_cached(
        "SELECT key, sub_meetingid, start_time, end_time FROM sub_meetings \
         WHERE meeting_key = ?1 ORDER BY start_time, key",
    )?;
    let mut rows = st.query([meeting_key])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(SubMeeting {
            key: r.get(0)?,
            sub_meetingid: r.get(1)?,
            start_time: r.get(2)?,
            end_time: r.get(3)?,
        });
    }
    Ok(out)
}

pub(crate) fn meeting(conn: &mut Connection, meetingid: &str) -> Result<Option<Meeting>> {
    one_meeting(
        conn,
        concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings WHERE meetingid = ?1"
        ),
        [meetingid],
    )
}

/// The meeting if `app` owns it. `INDEXED BY` the `(meetingid, corpid, agentid)` index: the
/// planner would otherwise probe `meetingid`'s unique index and then read the row to test
/// the owner, so another app's meeting would cost a row read an unknown id does not (a
/// timing oracle, issue 11.6). This way both are one index probe that finds nothing.
pub(crate) fn owned_meeting(
    conn: &mut Connection,
    app: &AppRef,
    meetingid: &str,
) -> Result<Option<Meeting>> {
    one_meeting(
        conn,
        concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings INDEXED BY meetings_by_owner \
             WHERE meetingid = ?1 AND corpid = ?2 AND agentid = ?3"
        ),
        params![meetingid, app.corpid, app.agentid],
    )
}

/// The meeting `sql` (selecting `meeting_cols!()`) finds, with its sub-meetings.
fn one_meeting(conn: &mut Connection, sql: &str, args: impl Params) -> Result<Option<Meeting>> {
    // One read transaction: the meeting and its sub-meetings from the same snapshot, even
    // while an update rewrites both.
    let tx = conn.transaction()?;
    let found = {
        let mut st = tx.prepare_cached(sql)?;
        let mut rows = st.query(args)?;
        match rows.next()? {
            Some(r) => Some(meeting_row(r)?),
            None => None,
        }
    };
    let Some(mut m) = found else {
        return Ok(None);
    };
    m.sub_meetings = sub_meetings(&tx, m.key)?;
    tx.commit()?;
    Ok(Some(m))
}

/// The app's meetings, newest (highest key) first.
pub(crate) fn meetings_of(conn: &mut Connection, app: &AppRef) -> Result<Vec<Meeting>> {
    let tx = conn.transaction()?;
    let mut out = Vec::new();
    {
        let mut st = tx.prepare_cached(concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings WHERE corpid = ?1 AND agentid = ?2 ORDER BY key DESC"
        ))?;
        let mut rows = st.query(params![app.corpid, app.agentid])?;
        while let Some(r) = rows.next()? {
            out.push(meeting_row(r)?);
        }
    }
    for m in &mut out {
        m.sub_meetings = sub_meetings(&tx, m.key)?;
    }
    tx.commit()?;
    Ok(out)
}

/// One keyset page of a member's meetings: a range of `meeting_people`'s primary key.
pub(crate) const USER_MEETINGS_SQL: &str = "SELECT p.span_start, p.meeting_key, m.meetingid \
     FROM meeting_people p JOIN meetings m ON m.key = p.meeting_key \
     WHERE p.corpid = ?1 AND p.agentid = ?2 AND p.userid = ?3 \
     AND (p.span_start, p.meeting_key) > (?4, ?5) AND p.span_start <= ?6 AND p.span_end >= ?7 \
     ORDER BY p.span_start, p.meeting_key LIMIT ?8";

pub(crate) fn user_meetings(conn: &Connection, s: &UserMeetingScan) -> Result<Vec<UserMeetingRow>> {
    if s.limit == 0 {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare_cached(USER_MEETINGS_SQL)?;
    let mut rows = st.query(params![
        s.app.corpid,
        s.app.agentid,
        s.userid,
        s.after.0,
        s.after.1,
        s.end,
        s.begin,
        i64::from(s.limit),
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(UserMeetingRow {
            span_start: r.get(0)?,
            key: r.get(1)?,
            meetingid: r.get(2)?,
        });
    }
    Ok(out)
}

/// Per sub-meeting key with sessions: whether one is open. A skip scan (each next key is one
/// seek of the primary key) and one probe of `sessions_open` per key, so the cost follows the
/// sub-meetings, not the sessions (get_info reads it on every call).
pub(crate) fn presence(conn: &Connection, meeting_key: i64) -> Result<Vec<(i64, Presence)>> {
    let mut st = conn.prepare_cached(
        "WITH RECURSIVE k(sub_key) AS ( \
             SELECT min(sub_key) FROM sessions WHERE meeting_key = ?1 \
             UNION ALL \
             SELECT (SELECT min(sub_key) FROM sessions \
                     WHERE meeting_key = ?1 AND sub_key > k.sub_key) \
             FROM k WHERE k.sub_key IS NOT NULL) \
         SELECT sub_key, EXISTS (SELECT 1 FROM sessions s WHERE s.meeting_key = ?1 \
             AND s.sub_key = k.sub_key AND s.quit_time IS NULL) \
         FROM k WHERE sub_key IS NOT NULL ORDER BY sub_key",
    )?;
    let mut rows = st.query([meeting_key])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push((
            r.get(0)?,
            Presence {
                attended: true,
                open: r.get(1)?,
            },
        ));
    }
    Ok(out)
}
