//! SQLite-specific checks: the query plan of the hot scan, migrations, pragmas, and that
//! undecodable rows surface as `Corrupt` instead of panicking.

use std::sync::PoisonError;

use rollcall_core::model::{AppRef, MeetingType, NewMeeting, SessionScan};
use rollcall_store::{Store, StoreError};

use super::*;
use r2d2_sqlite::rusqlite::params;

fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path()).expect("open");
    (store, dir)
}

/// The store's writer connection, held (a test that panicked holding it poisons nothing).
fn writer(store: &SqliteStore) -> std::sync::MutexGuard<'_, Connection> {
    store
        .inner
        .writer
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn plan(conn: &Connection, sql: &str) -> String {
    let mut st = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    // Bounds as extreme as a recurring meeting's scan gets.
    let bounds: [i64; 8] = [1, 0, i64::MIN, 0, i64::MAX, 0, i64::MAX, 100];
    let rows = st
        .query_map(bounds, |r| r.get::<_, String>(3))
        .expect("query")
        .collect::<std::result::Result<Vec<_>, _>>()
        .expect("rows");
    rows.join("\n")
}

#[test]
fn the_page_scan_is_one_primary_key_range_without_sorting() {
    let (store, _dir) = fresh();
    let conn = writer(&store);
    let p = plan(&conn, attendance::SCAN_SQL);
    assert!(
        p.contains("SEARCH sessions USING PRIMARY KEY (meeting_key=? AND sub_key=? AND"),
        "{p}"
    );
    assert!(!p.contains("TEMP B-TREE"), "{p}");
    assert!(!p.contains("SCAN"), "{p}");
}

#[test]
fn a_members_meetings_page_is_one_primary_key_range() {
    let (store, _dir) = fresh();
    let conn = writer(&store);
    let mut st = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            meetings::USER_MEETINGS_SQL
        ))
        .expect("explain");
    let rows = st
        .query_map(
            params!["c", 1, "u", i64::MIN, i64::MIN, i64::MAX, i64::MIN, 100],
            |r| r.get::<_, String>(3),
        )
        .expect("query")
        .collect::<std::result::Result<Vec<_>, _>>()
        .expect("rows");
    let p = rows.join("\n");
    assert!(
        p.contains("SEARCH p USING PRIMARY KEY (corpid=? AND agentid=? AND userid=?"),
        "{p}"
    );
    assert!(!p.contains("TEMP B-TREE"), "{p}");
}

#[test]
fn a_claim_reads_the_due_heads_not_the_backlog() {
    let (store, _dir) = fresh();
    let conn = writer(&store);
    let mut st = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", outbox::CLAIM_HEADS_SQL))
        .expect("explain");
    let p = st
        .query_map(params![0_i64, 0_i64, 16_i64], |r| r.get::<_, String>(3))
        .expect("query")
        .collect::<std::result::Result<Vec<_>, _>>()
        .expect("rows")
        .join("\n");
    assert!(p.contains("USING INDEX deliveries_due"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "no sort: {p}");
}

#[tokio::test]
async fn an_outbox_write_that_fails_rolls_back_the_change_that_caused_it() {
    use rollcall_store::suite::fixtures::{corp, join, new_meeting, T0};
    let (store, _dir) = fresh();
    let mut c = corp("wwcorp");
    let app = c
        .apps
        .iter_mut()
        .find(|a| a.agentid == 1000002)
        .expect("app");
    app.callback = rollcall_core::callback::parse(
        1000002,
        rollcall_core::callback::CallbackFields {
            url: Some("https://receiver.example/cb"),
            token: Some("token"),
            aes_key: Some(&"k".repeat(43)),
        },
    )
    .expect("valid");
    store.put_corp(&c).await.expect("put_corp");
    let owner = AppRef {
        corpid: "wwcorp".into(),
        agentid: 1000002,
    };
    let m = store
        .create_meeting(&new_meeting("m-1", &owner, MeetingType::OneOff, 0), &[])
        .await
        .expect("create");
    // The outbox refuses every row from now on.
    writer(&store)
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON deliveries \
             BEGIN SELECT RAISE(ABORT, 'outbox refused'); END;",
        )
        .unwrap();
    // The first join would write meeting_start: the join is not stored either.
    let r = store.ingest(&[join(m.key, "e-1", "a", T0)], T0).await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(store.last_seq(m.key).await.expect("seq"), 0);
    // A cancel with an event is not applied either; without one it is.
    let event = rollcall_core::outbox::NewDelivery {
        corpid: "wwcorp".into(),
        agentid: 1000002,
        meetingid: "m-1".into(),
        change_type: "cancel_meeting".into(),
        from_user: "sys".into(),
        create_time: T0,
    };
    assert!(store.cancel_meeting(m.key, &[event]).await.is_err());
    let got = store.meeting("m-1").await.expect("meeting").expect("found");
    assert!(!got.cancelled);
    assert!(store.deliveries(10).await.expect("list").is_empty());
    assert!(store.cancel_meeting(m.key, &[]).await.expect("cancel"));
}

#[tokio::test]
async fn migration_3_gives_earlier_apps_no_callback_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE);
    {
        // A store at schema version 2 with one app.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.execute_batch(schema::MIGRATIONS[1]).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 2;
             INSERT INTO corps VALUES ('c', 'C');
             INSERT INTO apps VALUES ('c', 7, 'a', zeroblob(32), 1, 1, '[]', '[]');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).expect("migrates");
    let corp = store.corp("c").await.expect("corp").expect("found");
    assert_eq!(corp.apps[0].callback, None);
    assert!(store.callback_targets().await.expect("list").is_empty());
    // A row holding a URL without its token and key cannot be a target: corrupt, no panic.
    writer(&store)
        .execute("UPDATE apps SET callback_url = 'https://x.example/'", [])
        .unwrap();
    assert!(matches!(store.corp("c").await, Err(StoreError::Corrupt(_))));
    assert!(matches!(
        store.callback_targets().await,
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn migration_2_lists_earlier_meetings_for_their_administrators() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE);
    {
        // A store as the first release left it: schema version 1, one recurring meeting.
        let mut conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.execute_batch("PRAGMA user_version = 1").unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO meetings (meetingid, meeting_code, corpid, agentid, meeting_type, title, \
             meeting_start, meeting_duration, admin_userid) \
             VALUES ('m-1', '1', 'c', 1, 1, 't', 1000, 100, 'alice'), \
                    ('m-2', '2', 'c', 1, 0, 't', 5000, 100, NULL)",
            [],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO sub_meetings (meeting_key, key, sub_meetingid, start_time, end_time) \
             VALUES (1, 1, '1000', 1000, 1100), (1, 2, '9000', 9000, 9100)",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let store = SqliteStore::open(dir.path()).expect("migrates");
    let conn = writer(&store);
    let rows: Vec<(String, i64, i64, i64)> = conn
        .prepare("SELECT userid, span_start, meeting_key, span_end FROM meeting_people")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<std::result::Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [("alice".to_string(), 1000, 1, 9100)]);
    // The migration's SQL span is the core rule every later write uses.
    let rule = (
        rollcall_core::model::span_start(1000, [1000, 9000]),
        rollcall_core::model::span_end(1000, 100, [1100, 9100]),
    );
    assert_eq!((rows[0].1, rows[0].3), rule);
    let (invitees, cancelled): (String, bool) = conn
        .query_row(
            "SELECT invitees, cancelled FROM meetings WHERE key = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((invitees.as_str(), cancelled), ("[]", false));
}

#[test]
fn open_sets_wal_full_sync_and_migrates_idempotently() {
    let (store, dir) = fresh();
    {
        let conn = writer(&store);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(
            schema::version(&conn).unwrap(),
            schema::MIGRATIONS.len() as i64
        );
    }
    drop(store);
    let again = SqliteStore::open(dir.path()).expect("reopen");
    let conn = writer(&again);
    assert_eq!(
        schema::version(&conn).unwrap(),
        schema::MIGRATIONS.len() as i64
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let (store, dir) = fresh();
    writer(&store)
        .execute_batch("PRAGMA user_version = 999")
        .unwrap();
    drop(store);
    match SqliteStore::open(dir.path()) {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("999"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn undecodable_rows_are_corrupt_not_panics() {
    let (store, _dir) = fresh();
    let m = store
        .create_meeting(
            &NewMeeting {
                meetingid: "m-1".into(),
                meeting_code: "123".into(),
                owner: AppRef {
                    corpid: "c".into(),
                    agentid: 1,
                },
                meeting_type: MeetingType::OneOff,
                title: "t".into(),
                meeting_start: 1,
                meeting_duration: 300,
                admin_userid: None,
                sub_meetings: vec![],
                details: Default::default(),
            },
            &[],
        )
        .await
        .unwrap();
    {
        let conn = writer(&store);
        conn.execute(
            "INSERT INTO sessions (meeting_key, sub_key, join_time, seq, session_key, \
             participant_kind, participant_id, quit_time, instance_id, role, webinar_role, \
             join_type, net, audio_state, video_state, screen_shared_state, customer_data, \
             state_at) VALUES (?1, 0, 10, 1, 's', 9, 'x', NULL, 1, 0, 0, 1, NULL, 0, 0, 0, NULL, 10)",
            [m.key],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO sessions (meeting_key, sub_key, join_time, seq, session_key, \
             participant_kind, participant_id, quit_time, instance_id, role, webinar_role, \
             join_type, net, audio_state, video_state, screen_shared_state, customer_data, \
             state_at) VALUES (?1, 1, 10, 2, 't', 0, 'x', NULL, -1, 0, 0, 1, NULL, 0, 0, 0, NULL, 10)",
            [m.key],
        )
        .unwrap();
        conn.execute("UPDATE meetings SET meeting_type = 42", [])
            .unwrap();
    }
    for sub_key in [0, 1] {
        let r = store
            .scan_sessions(&SessionScan {
                meeting_key: m.key,
                sub_key,
                after: (i64::MIN, 0),
                join_max: i64::MAX,
                seq_lo: 0,
                seq_hi: u64::MAX,
                limit: 10,
            })
            .await;
        assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    }
    let r = store.meeting("m-1").await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
}

/// A repeated `gettoken` reads its live token without the writer: while another connection
/// holds the write lock (an ingest batch fsyncing, say), it still answers at once with the
/// same token. Without the read first it would wait the 5 s busy timeout and fail.
#[tokio::test]
async fn a_live_token_is_answered_while_the_writer_is_busy() {
    use rollcall_core::model::TokenRecord;
    use rollcall_store::suite::fixtures::corp;
    let (store, dir) = fresh();
    store.put_corp(&corp("wwcorp")).await.expect("put_corp");
    let app = AppRef {
        corpid: "wwcorp".into(),
        agentid: 1000002,
    };
    let candidate = |n: u8| TokenRecord {
        hash: [n; 32],
        nonce: [n; 16],
        app: app.clone(),
        issued_at: 1_000,
        expires_at: 8_200,
    };
    let issued = store
        .token_for_app(1_000, &candidate(1))
        .await
        .expect("issue");
    let other = Connection::open(store.path()).expect("open");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let again = store
        .token_for_app(1_500, &candidate(2))
        .await
        .expect("answered without the writer");
    assert_eq!(again, issued);
    // Once it has expired, a new one needs the writer: it waits for the lock, then issues.
    other.execute_batch("COMMIT").expect("release");
    let fresh = store
        .token_for_app(9_000, &candidate(3))
        .await
        .expect("issue");
    assert_eq!(fresh.hash, [3; 32]);
    drop(dir);
}

#[tokio::test]
async fn migrations_6_and_8_backfill_the_aggregates_of_earlier_sessions() {
    use rollcall_core::person_totals::{self, views_of, WHOLE_MEETING};
    use rollcall_core::schedule;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE);
    // Sessions as a store at schema version 5 holds them: a few people on overlapping,
    // back-to-back, empty and open sessions across two sub-meetings (and key 0).
    let mut sessions = Vec::new();
    let mut x: i64 = 7;
    for seq in 1..=60_i64 {
        x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
        let (who, sub, join) = (x % 4, (x / 4) % 3, (x / 12) % 1_000);
        let quit = match (x / 12_000) % 5 {
            0 => None,
            1 => Some(join),
            d => Some(join + d * 37),
        };
        sessions.push((seq, sub, format!("p{who}"), join, quit));
    }
    {
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &schema::MIGRATIONS[..5] {
            tx.execute_batch(sql).unwrap();
        }
        tx.execute_batch("PRAGMA user_version = 5").unwrap();
        for (seq, sub, who, join, quit) in &sessions {
            tx.execute(
                "INSERT INTO sessions (meeting_key, sub_key, join_time, seq, session_key, \
                 participant_kind, participant_id, quit_time, instance_id, role, webinar_role, \
                 join_type, audio_state, video_state, screen_shared_state, state_at) \
                 VALUES (1, ?1, ?2, ?3, ?4, 0, ?5, ?6, 1, 0, 0, 1, 0, 0, 0, ?2)",
                params![sub, join, seq, format!("s{seq}"), who, quit],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let store = SqliteStore::open(dir.path()).expect("migrates");
    let mut rows = Vec::new();
    for sub in 0..3 {
        let scan = rollcall_store::suite::fixtures::everything(1, sub);
        rows.extend(store.scan_sessions(&scan).await.unwrap());
    }
    assert_eq!(rows.len(), sessions.len());
    for view in [0, 1, 2, WHOLE_MEETING] {
        let in_view: Vec<_> = rows
            .iter()
            .filter(|r| views_of(r.sub_key).any(|v| v == view))
            .cloned()
            .collect();
        // Before, among and after the stored times: the exact path and the kept open state.
        for now in [0, 500, 1_200, 2_000] {
            let totals = store.person_totals(1, view, now).await.unwrap();
            assert_eq!(
                person_totals::people(totals, now),
                schedule::people(&in_view, now),
                "view {view} as of {now}"
            );
        }
    }
}

/// The change stamp is read from the WAL-index header (not the `data_version` fallback), and
/// a commit on a connection of its own, as another process's would be, moves it; so does
/// one through the store. The fallback moves with commits too.
#[tokio::test]
async fn the_change_stamp_is_the_wal_header_and_any_connections_commit_moves_it() {
    let (store, dir) = fresh();
    let first = store.change_stamp().await.expect("stamp").expect("some");
    assert_eq!(
        first & FALLBACK_STAMP,
        0,
        "the stamp fell back to data_version"
    );
    assert_eq!(store.change_stamp().await.expect("stamp"), Some(first));
    let fallback = store.data_version_stamp().expect("fallback");
    assert_ne!(fallback & FALLBACK_STAMP, 0);

    let other = Connection::open(dir.path().join(DB_FILE)).expect("open");
    other
        .execute("INSERT INTO meta (key, value) VALUES ('probe', 1)", [])
        .expect("write");
    let moved = store.change_stamp().await.expect("stamp").expect("some");
    assert_ne!(
        moved, first,
        "another connection's commit did not move the stamp"
    );
    assert_ne!(store.data_version_stamp().expect("fallback"), fallback);
    assert_eq!(store.change_stamp().await.expect("stamp"), Some(moved));

    store
        .server_secret([7; 32])
        .await
        .expect("a write through the store");
    assert_ne!(store.change_stamp().await.expect("stamp"), Some(moved));
}

#[tokio::test]
async fn migration_9_keeps_every_dedupe_record_and_its_age() {
    use rollcall_core::ingest::Outcome;
    use rollcall_store::suite::fixtures::{join, meeting, quit};

    let dir = tempfile::tempdir().expect("tempdir");
    let (t_old, t_new) = (1_000_i64, 5_000_i64);
    // Event ids sort against their age, so a copy in key order would show.
    let old = [join(1, "e-9", "s-1", 10), quit(1, "e-8", "s-1", 20)];
    let new = [join(1, "e-1", "s-2", 30)];
    {
        let store = SqliteStore::open(dir.path()).expect("open");
        assert_eq!(meeting(&store, "m-1").await.key, 1);
        store.ingest(&old, t_old).await.expect("ingest");
        store.ingest(&new, t_new).await.expect("ingest");
    }
    {
        // Put the records back in the shape schema version 8 kept them in.
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE v8 (meeting_key INTEGER NOT NULL, event_id TEXT NOT NULL, \
             applied_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (meeting_key, event_id)) \
             STRICT, WITHOUT ROWID;
             INSERT INTO v8 SELECT meeting_key, event_id, applied_at FROM applied_events;
             DROP TABLE applied_events;
             ALTER TABLE v8 RENAME TO applied_events;
             CREATE INDEX applied_events_by_age ON applied_events (applied_at);
             PRAGMA user_version = 8;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).expect("migrates");
    {
        let conn = writer(&store);
        // Age order: the rowids follow the records' age, not their (random) keys.
        let rows: Vec<(i64, String, i64)> = conn
            .prepare("SELECT id, event_id, applied_at FROM applied_events ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        let ages: Vec<i64> = rows.iter().map(|r| r.2).collect();
        assert_eq!(ages, [t_old, t_old, t_new], "{rows:?}");
    }
    // Every record still catches its duplicate, and a new one is recorded after them.
    let again = store.ingest(&new, t_new + 1).await.expect("ingest");
    assert_eq!(again, [Outcome::Duplicate]);
    let third = store
        .ingest(&[quit(1, "e-4", "s-2", 40)], t_new + 2)
        .await
        .expect("ingest");
    assert_eq!(third, [Outcome::Accepted]);
    // The age survived: a prune takes exactly the old records.
    assert_eq!(store.prune_applied(t_old + 1, 100).await.expect("prune"), 2);
    let replay = store.ingest(&new, t_new + 3).await.expect("ingest");
    assert_eq!(replay, [Outcome::Duplicate], "a new record stays");
    assert_eq!(store.prune_applied(t_new + 3, 100).await.expect("prune"), 2);
}
