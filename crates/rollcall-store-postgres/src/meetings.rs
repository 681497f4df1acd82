//! Meetings, their sub-meetings, and the members they are listed for.
//!
//! A meeting and everything hanging off it (sub-meetings, `meeting_people` rows) are written
//! in one transaction, on create and on update alike. A meeting is read with its sub-meetings
//! in *one* statement (array subqueries), so the read is one snapshot even while another node
//! rewrites the meeting. Besides `last_seq` (owned by ingest), a meeting row changes only
//! through [`update_meeting`] and [`cancel_meeting`], both refused once it is cancelled.
//! The callback events a change causes go into the outbox in the change's own transaction
//! ([`crate::outbox::enqueue`]), while it holds the meeting's row, and only when it happened.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use rollcall_core::model::{
    people, AppRef, Meeting, MeetingDetails, MeetingType, MeetingUpdate, NewMeeting, SubMeeting,
    UserMeetingRow, UserMeetingScan,
};
use rollcall_core::outbox::NewDelivery;
use rollcall_core::schedule::Presence;

use crate::error::{get, get_u32, get_u64, Error, Result};

type Client = deadpool_postgres::Object;

/// The columns [`meeting_row`] decodes (from `meetings m`), as a literal so queries can be
/// built with `concat!`: the row, then its sub-meetings as four arrays in schedule order.
macro_rules! meeting_cols {
    () => {
        "m.key, m.meetingid, m.meeting_code, m.corpid, m.agentid, m.meeting_type, m.title, \
         m.meeting_start, m.meeting_duration, m.admin_userid, m.description, m.location, \
         m.invitees, m.settings, m.reminders, m.cancelled, \
         ARRAY(SELECT s.key FROM sub_meetings s WHERE s.meeting_key = m.key \
               ORDER BY s.start_time, s.key), \
         ARRAY(SELECT s.sub_meetingid FROM sub_meetings s WHERE s.meeting_key = m.key \
               ORDER BY s.start_time, s.key), \
         ARRAY(SELECT s.start_time FROM sub_meetings s WHERE s.meeting_key = m.key \
               ORDER BY s.start_time, s.key), \
         ARRAY(SELECT s.end_time FROM sub_meetings s WHERE s.meeting_key = m.key \
               ORDER BY s.start_time, s.key)"
    };
}

/// Insert a meeting's sub-meetings, with the keys given.
const INSERT_SUBS: &str = "INSERT INTO sub_meetings \
     (meeting_key, key, sub_meetingid, start_time, end_time) \
     SELECT $1::bigint, k, id, s, e \
     FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::bigint[]) AS u(k, id, s, e)";

/// Insert the `meeting_people` rows of a meeting: one per member it is listed for.
const INSERT_PEOPLE: &str = "INSERT INTO meeting_people \
     (corpid, agentid, userid, span_start, meeting_key, span_end) \
     SELECT $1, $2, u, $4, $5, $6 FROM UNNEST($3::text[]) AS u";

pub(crate) async fn create_meeting(
    c: &mut Client,
    m: &NewMeeting,
    callbacks: &[NewDelivery],
) -> Result<Meeting> {
    let tx = c.transaction().await?;
    let (insert, insert_subs, insert_people) = tokio::try_join!(
        // ON CONFLICT instead of catching the unique violation: the transaction stays usable,
        // and a concurrent creator of the same meetingid makes this one wait for its commit
        // and then find the conflict.
        tx.prepare_cached(
            "INSERT INTO meetings (meetingid, meeting_code, corpid, agentid, meeting_type, \
             title, meeting_start, meeting_duration, admin_userid, description, location, \
             invitees, settings, reminders) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (meetingid) DO NOTHING RETURNING key"
        ),
        tx.prepare_cached(INSERT_SUBS),
        tx.prepare_cached(INSERT_PEOPLE),
    )?;
    let agentid = i64::from(m.owner.agentid);
    let meeting_type = i64::from(m.meeting_type.code());
    let settings = m.details.settings_json()?;
    let reminders = m.details.reminders_json()?;
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
                &m.details.description,
                &m.details.location,
                &m.details.invitees,
                &settings,
                &reminders,
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
    let meeting = m.stored(key);
    let userids = meeting.people();
    let (span_start, span_end) = (meeting.span_start(), meeting.span_end());
    let (keys, ids, starts, ends) = sub_columns(&meeting.sub_meetings);
    let sub_params: [&(dyn ToSql + Sync); 5] = [&key, &keys, &ids, &starts, &ends];
    let people_params: [&(dyn ToSql + Sync); 6] = [
        &m.owner.corpid,
        &agentid,
        &userids,
        &span_start,
        &key,
        &span_end,
    ];
    tokio::try_join!(
        tx.execute(&insert_subs, &sub_params),
        tx.execute(&insert_people, &people_params),
    )?;
    crate::outbox::enqueue(&tx, callbacks).await?;
    tx.commit().await?;
    Ok(meeting)
}

/// Sub-meetings as the columns of [`INSERT_SUBS`]: keys, ids, starts, ends.
fn sub_columns(subs: &[SubMeeting]) -> (Vec<i64>, Vec<&str>, Vec<i64>, Vec<i64>) {
    (
        subs.iter().map(|s| s.key).collect(),
        subs.iter().map(|s| s.sub_meetingid.as_str()).collect(),
        subs.iter().map(|s| s.start_time).collect(),
        subs.iter().map(|s| s.end_time).collect(),
    )
}

pub(crate) async fn update_meeting(
    c: &mut Client,
    u: &MeetingUpdate,
    callbacks: &[NewDelivery],
) -> Result<bool> {
    let tx = c.transaction().await?;
    let (update, delete_subs, insert_subs, delete_people, insert_people) = tokio::try_join!(
        tx.prepare_cached(
            "UPDATE meetings SET meeting_type = $2, title = $3, meeting_start = $4, \
             meeting_duration = $5, description = $6, location = $7, invitees = $8, \
             settings = $9, reminders = $10 \
             WHERE key = $1 AND NOT cancelled RETURNING corpid, agentid, admin_userid"
        ),
        tx.prepare_cached("DELETE FROM sub_meetings WHERE meeting_key = $1"),
        tx.prepare_cached(INSERT_SUBS),
        tx.prepare_cached("DELETE FROM meeting_people WHERE meeting_key = $1"),
        tx.prepare_cached(INSERT_PEOPLE),
    )?;
    let meeting_type = i64::from(u.meeting_type.code());
    let settings = u.details.settings_json()?;
    let reminders = u.details.reminders_json()?;
    let Some(row) = tx
        .query_opt(
            &update,
            &[
                &u.key,
                &meeting_type,
                &u.title,
                &u.meeting_start,
                &u.meeting_duration,
                &u.details.description,
                &u.details.location,
                &u.details.invitees,
                &settings,
                &reminders,
            ],
        )
        .await?
    else {
        return Ok(false);
    };
    let corpid: String = get(&row, 0)?;
    let agentid: i64 = get(&row, 1)?;
    let admin: Option<String> = get(&row, 2)?;
    let userids = people(admin.as_deref(), &u.details.invitees);
    let (span_start, span_end) = (u.span_start(), u.span_end());
    let (keys, ids, starts, ends) = sub_columns(&u.sub_meetings);
    // Deletes first (one round trip), then the inserts (another): the statements of one
    // pipelined batch run in order anyway, but this keeps the order obvious.
    let key_param: [&(dyn ToSql + Sync); 1] = [&u.key];
    tokio::try_join!(
        tx.execute(&delete_subs, &key_param),
        tx.execute(&delete_people, &key_param),
    )?;
    let sub_params: [&(dyn ToSql + Sync); 5] = [&u.key, &keys, &ids, &starts, &ends];
    let people_params: [&(dyn ToSql + Sync); 6] =
        [&corpid, &agentid, &userids, &span_start, &u.key, &span_end];
    tokio::try_join!(
        tx.execute(&insert_subs, &sub_params),
        tx.execute(&insert_people, &people_params),
    )?;
    crate::outbox::enqueue(&tx, callbacks).await?;
    tx.commit().await?;
    Ok(true)
}

pub(crate) async fn meetingid_by_code(
    c: &mut Client,
    app: &AppRef,
    meeting_code: &str,
) -> Result<Option<String>> {
    let st = c
        .prepare_cached(
            "SELECT meetingid FROM meetings WHERE corpid = $1 AND agentid = $2 \
             AND meeting_code = $3 ORDER BY key DESC LIMIT 1",
        )
        .await?;
    let agentid = i64::from(app.agentid);
    c.query_opt(&st, &[&app.corpid, &agentid, &meeting_code])
        .await?
        .map(|r| get(&r, 0))
        .transpose()
}

pub(crate) async fn cancel_meeting(
    c: &mut Client,
    meeting_key: i64,
    callbacks: &[NewDelivery],
) -> Result<bool> {
    let st = c
        .prepare_cached("UPDATE meetings SET cancelled = TRUE WHERE key = $1 AND NOT cancelled")
        .await?;
    if callbacks.is_empty() {
        // Nothing to write with it: one statement, no transaction round trips.
        return Ok(c.execute(&st, &[&meeting_key]).await? > 0);
    }
    let tx = c.transaction().await?;
    if tx.execute(&st, &[&meeting_key]).await? == 0 {
        return Ok(false);
    }
    crate::outbox::enqueue(&tx, callbacks).await?;
    tx.commit().await?;
    Ok(true)
}

/// A meeting row with its sub-meetings (columns as `meeting_cols!()`).
fn meeting_row(r: &Row) -> Result<Meeting> {
    let code = get_u64(r, 5, "meeting_type")?;
    let meeting_type = MeetingType::from_code(code)
        .ok_or_else(|| Error::Corrupt(format!("unknown meeting_type code {code}")))?;
    let settings: Option<String> = get(r, 13)?;
    let reminders: Option<String> = get(r, 14)?;
    let keys: Vec<i64> = get(r, 16)?;
    let ids: Vec<String> = get(r, 17)?;
    let starts: Vec<i64> = get(r, 18)?;
    let ends: Vec<i64> = get(r, 19)?;
    if ids.len() != keys.len() || starts.len() != keys.len() || ends.len() != keys.len() {
        return Err(Error::Corrupt(
            "sub-meeting arrays of unequal length".into(),
        ));
    }
    let sub_meetings = keys
        .into_iter()
        .zip(ids)
        .zip(starts.into_iter().zip(ends))
        .map(
            |((key, sub_meetingid), (start_time, end_time))| SubMeeting {
                key,
                sub_meetingid,
                start_time,
                end_time,
            },
        )
        .collect();
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
        sub_meetings,
        details: MeetingDetails {
            description: get(r, 10)?,
            location: get(r, 11)?,
            invitees: get(r, 12)?,
            settings: settings.as_deref().map(serde_json::from_str).transpose()?,
            reminders: reminders.as_deref().map(serde_json::from_str).transpose()?,
        },
        cancelled: get(r, 15)?,
    })
}

pub(crate) async fn meeting(c: &mut Client, meetingid: &str) -> Result<Option<Meeting>> {
    let st = c
        .prepare_cached(concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings m WHERE m.meetingid = $1"
        ))
        .await?;
    c.query_opt(&st, &[&meetingid])
        .await?
        .as_ref()
        .map(meeting_row)
        .transpose()
}

/// The meeting if `app` owns it: the owner is part of the index probe
/// (`meetings_by_owner`), so another app's meeting is not read, just as an unknown id
/// (issue 11.6).
pub(crate) async fn owned_meeting(
    c: &mut Client,
    app: &AppRef,
    meetingid: &str,
) -> Result<Option<Meeting>> {
    let st = c
        .prepare_cached(concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings m \
             WHERE m.meetingid = $1 AND m.corpid = $2 AND m.agentid = $3"
        ))
        .await?;
    let agentid = i64::from(app.agentid);
    c.query_opt(&st, &[&meetingid, &app.corpid, &agentid])
        .await?
        .as_ref()
        .map(meeting_row)
        .transpose()
}

/// The app's meetings, newest (highest key) first.
pub(crate) async fn meetings_of(c: &mut Client, app: &AppRef) -> Result<Vec<Meeting>> {
    let st = c
        .prepare_cached(concat!(
            "SELECT ",
            meeting_cols!(),
            " FROM meetings m WHERE m.corpid = $1 AND m.agentid = $2 ORDER BY m.key DESC"
        ))
        .await?;
    let agentid = i64::from(app.agentid);
    let rows = c.query(&st, &[&app.corpid, &agentid]).await?;
    rows.iter().map(meeting_row).collect()
}

/// One keyset page of a member's meetings: a range of `meeting_people`'s primary key.
pub(crate) const USER_MEETINGS_SQL: &str = "SELECT p.span_start, p.meeting_key, m.meetingid \
     FROM meeting_people p JOIN meetings m ON m.key = p.meeting_key \
     WHERE p.corpid = $1 AND p.agentid = $2 AND p.userid = $3 \
     AND (p.span_start, p.meeting_key) > ($4, $5) AND p.span_start <= $6 AND p.span_end >= $7 \
     ORDER BY p.span_start, p.meeting_key LIMIT $8";

pub(crate) async fn user_meetings(
    c: &mut Client,
    s: &UserMeetingScan,
) -> Result<Vec<UserMeetingRow>> {
    if s.limit == 0 {
        return Ok(Vec::new());
    }
    let st = c.prepare_cached(USER_MEETINGS_SQL).await?;
    let agentid = i64::from(s.app.agentid);
    let limit = i64::from(s.limit);
    let rows = c
        .query(
            &st,
            &[
                &s.app.corpid,
                &agentid,
                &s.userid,
                &s.after.0,
                &s.after.1,
                &s.end,
                &s.begin,
                &limit,
            ],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(UserMeetingRow {
                span_start: get(r, 0)?,
                key: get(r, 1)?,
                meetingid: get(r, 2)?,
            })
        })
        .collect()
}

/// Per sub-meeting key with sessions: whether one is open. A skip scan (each next key is one
/// seek of `sessions_listing`) and one probe of `sessions_open` per key, so the cost follows
/// the sub-meetings, not the sessions (get_info reads it on every call).
pub(crate) async fn presence(c: &mut Client, meeting_key: i64) -> Result<Vec<(i64, Presence)>> {
    let st = c
        .prepare_cached(
            "WITH RECURSIVE k(sub_key) AS ( \
                 SELECT min(sub_key) FROM sessions WHERE meeting_key = $1 \
                 UNION ALL \
                 SELECT (SELECT min(sub_key) FROM sessions \
                         WHERE meeting_key = $1 AND sub_key > k.sub_key) \
                 FROM k WHERE k.sub_key IS NOT NULL) \
             SELECT sub_key, EXISTS (SELECT 1 FROM sessions s WHERE s.meeting_key = $1 \
                 AND s.sub_key = k.sub_key AND s.quit_time IS NULL) \
             FROM k WHERE sub_key IS NOT NULL ORDER BY sub_key",
        )
        .await?;
    c.query(&st, &[&meeting_key])
        .await?
        .iter()
        .map(|r| {
            Ok((
                get(r, 0)?,
                Presence {
                    attended: true,
                    open: get(r, 1)?,
                },
            ))
        })
        .collect()
}
