//! Meetings and their sub-meetings.
//!
//! A meeting row never changes after creation except for `last_seq` (owned by ingest), and
//! its sub-meetings are inserted in the same transaction, so a reader that sees the meeting
//! sees all of its sub-meetings.

use tokio_postgres::Row;

use rollcall_core::model::{AppRef, Meeting, MeetingType, NewMeeting, SubMeeting};

use crate::error::{get, get_u32, get_u64, Error, Result};

type Client = deadpool_postgres::Object;

/// The columns [`meeting_row`] decodes, as a literal so queries can be built with `concat!`.
macro_rules! meeting_cols {
    () => {
        "key, meetingid, meeting_code, corpid, agentid, meeting_type, title, meeting_start, \
         meeting_duration, admin_userid"
    };
}

pub(crate) async fn create_meeting(c: &mut Client, m: &NewMeeting) -> Result<Meeting> {
    let tx = c.transaction().await?;
    let (insert, insert_subs) = tokio::try_join!(
        // ON CONFLICT instead of catching the unique violation: the transaction stays usable,
        // and a concurrent creator of the same meetingid makes this one wait for its commit
        // and then find the conflict.
        tx.prepare_cached(
            "INSERT INTO meetings (meetingid, meeting_code, corpid, agentid, meeting_type, \
             title, meeting_start, meeting_duration, admin_userid) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (meetingid) DO NOTHING RETURNING key"
        ),
        tx.prepare_cached(
            "INSERT INTO sub_meetings (meeting_key, key, sub_meetingid, start_time, end_time) \
             SELECT $1::bigint, n, id, s, e \
             FROM UNNEST($2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS u(id, s, e, n)"
        ),
    )?;
    let agentid = i64::from(m.owner.agentid);
    let meeting_type = i64::from(m.meeting_type.code());
    let row = tx
        .query_opt(
            &insert,
            &[
                &m.meetingid,
                &m.meeting_code,
                &m.owner.corpid,
                &agentid,
                &meeting_type,
                &m.title,
                &m.meeting_start,
                &m.meeting_duration,
                &m.admin_userid,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Err(Error::Conflict(format!(
            "meetingid {:?} is taken",
            m.meetingid
        )));
    };
    let key: i64 = get(&row, 0)?;
    if !m.sub_meetings.is_empty() {
        let ids: Vec<&str> = m.sub_meetings.iter().map(|s| s.0.as_str()).collect();
        let starts: Vec<i64> = m.sub_meetings.iter().map(|s| s.1).collect();
        let ends: Vec<i64> = m.sub_meetings.iter().map(|s| s.2).collect();
        tx.execute(&insert_subs, &[&key, &ids, &starts, &ends])
            .await?;
    }
    tx.commit().await?;
    let sub_meetings = (1_i64..)
        .zip(&m.sub_meetings)
        .map(
            |(sub_key, (sub_meetingid, start_time, end_time))| SubMeeting {
                key: sub_key,
                sub_meetingid: sub_meetingid.clone(),
                start_time: *start_time,
                end_time: *end_time,
            },
        )
        .collect();
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
fn meeting_row(r: &Row) -> Result<Meeting> {
    let code = get_u64(r, 5, "meeting_type")?;
    let meeting_type = MeetingType::from_code(code)
        .ok_or_else(|| Error::Corrupt(format!("unknown meeting_type code {code}")))?;
    Ok(Meeting {
        key: get(r, 0)?,
        meetingid: get(r, 1)?,
        meeting_code: get(r, 2)?,
        owner: AppRef {
            corpid: get(r, 3)?,
            agentid: get_u32(r, 4, "agentid")?,
        },
        meeting_type,
        title: get(r, 6)?,
        meeting_start: get(r, 7)?,
        meeting_duration: get(r, 8)?,
        admin_userid: get(r, 9)?,
        sub_meetings: Vec::new(),
    })
}

/// The sub-meetings of `meetings`, attached in key order. One query for all of them.
async fn attach_sub_meetings(c: &Client, meetings: &mut [Meeting]) -> Result<()> {
    if meetings.is_empty() {
        return Ok(());
    }
    let keys: Vec<i64> = meetings.iter().map(|m| m.key).collect();
    let st = c
        .prepare_cached(
            "SELECT meeting_key, key, sub_meetingid, start_time, end_time FROM sub_meetings \
             WHERE meeting_key = ANY($1) ORDER BY meeting_key, key",
        )
        .await?;
    let rows = c.query(&st, &[&keys]).await?;
    let index: std::collections::HashMap<i64, usize> =
        keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    for r in &rows {
        let meeting_key: i64 = get(r, 0)?;
        let Some(&i) = index.get(&meeting_key) else {
            continue;
        };
        meetings[i].sub_meetings.push(SubMeeting {
            key: get(r, 1)?,
            sub_meetingid: get(r, 2)?,
            start_time: get(r, 3)?,
            end_time: get(r, 4)?,
        });
    }
    Ok(())
}

pub(crate) async fn meeting(c: &mut Client, meetingid: &str) -> Result<Option<Meeting>> {
    let st = c
        .prepare_cached(concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings WHERE meetingid = $1"
        ))
        .await?;
    let Some(row) = c.query_opt(&st, &[&meetingid]).await? else {
        return Ok(None);
    };
    // The sub-meetings committed with the meeting, so this later statement sees them all.
    let mut found = [meeting_row(&row)?];
    attach_sub_meetings(c, &mut found).await?;
    let [m] = found;
    Ok(Some(m))
}

/// The app's meetings, newest (highest key) first.
pub(crate) async fn meetings_of(c: &mut Client, app: &AppRef) -> Result<Vec<Meeting>> {
    let st = c
        .prepare_cached(concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings WHERE corpid = $1 AND agentid = $2 ORDER BY key DESC"
        ))
        .await?;
    let agentid = i64::from(app.agentid);
    let rows = c.query(&st, &[&app.corpid, &agentid]).await?;
    let mut out = rows.iter().map(meeting_row).collect::<Result<Vec<_>>>()?;
    attach_sub_meetings(c, &mut out).await?;
    Ok(out)
}
