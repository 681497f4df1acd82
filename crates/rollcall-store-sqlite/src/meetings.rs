//! Meetings and their sub-meetings.
//!
//! A meeting row never changes after creation except for `last_seq` (owned by ingest), and
//! its sub-meetings are inserted in the same transaction, so a reader that sees the meeting
//! sees all of its sub-meetings.

use r2d2_sqlite::rusqlite::{params, Connection, Row, TransactionBehavior};

use rollcall_core::model::{AppRef, Meeting, MeetingType, NewMeeting, SubMeeting};

use crate::error::{is_unique_violation, Error, Result};

/// The columns [`meeting_row`] decodes, as a literal so queries can be built with `concat!`.
macro_rules! meeting_cols {
    () => {
        "key, meetingid, meeting_code, corpid, agentid, meeting_type, title, meeting_start, \
         meeting_duration, admin_userid"
    };
}

pub(crate) fn create_meeting(conn: &mut Connection, m: &NewMeeting) -> Result<Meeting> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO meetings (meetingid, meeting_code, corpid, agentid, meeting_type, title, \
             meeting_start, meeting_duration, admin_userid) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
    let mut sub_meetings = Vec::with_capacity(m.sub_meetings.len());
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO sub_meetings (meeting_key, key, sub_meetingid, start_time, end_time) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (sub_key, (sub_meetingid, start_time, end_time)) in (1_i64..).zip(&m.sub_meetings) {
            st.execute(params![key, sub_key, sub_meetingid, start_time, end_time])?;
            sub_meetings.push(SubMeeting {
                key: sub_key,
                sub_meetingid: sub_meetingid.clone(),
                start_time: *start_time,
                end_time: *end_time,
            });
        }
    }
    tx.commit()?;
    Ok(Meeting {
        key,
        meetingid: m.meetingid.clone(),
        meeting_code: m.meeting_code.clone(),
        owner: m.owner.clone(),
        meeting_type: m.meeting_type,
        title: m.title.clone(),
        meeting_start: m.meeting_start,
        meeting_duration: m.meeting_duration,
        admin_userid: m.admin_userid.clone(),
        sub_meetings,
    })
}

/// A meeting row (columns as `meeting_cols!()`), without its sub-meetings yet.
fn meeting_row(r: &Row<'_>) -> Result<Meeting> {
    let code: i64 = r.get(5)?;
    let meeting_type = u64::try_from(code)
        .ok()
        .and_then(MeetingType::from_code)
        .ok_or_else(|| Error::Corrupt(format!("unknown meeting_type code {code}")))?;
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
    })
}

fn sub_meetings(conn: &Connection, meeting_key: i64) -> Result<Vec<SubMeeting>> {
    let mut st = conn.prepare_cached(
        "SELECT key, sub_meetingid, start_time, end_time FROM sub_meetings \
         WHERE meeting_key = ?1 ORDER BY key",
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

pub(crate) fn meeting(conn: &Connection, meetingid: &str) -> Result<Option<Meeting>> {
    let found = {
        let mut st = conn.prepare_cached(concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings WHERE meetingid = ?1"
        ))?;
        let mut rows = st.query([meetingid])?;
        match rows.next()? {
            Some(r) => Some(meeting_row(r)?),
            None => None,
        }
    };
    let Some(mut m) = found else {
        return Ok(None);
    };
    m.sub_meetings = sub_meetings(conn, m.key)?;
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
