//! PostgreSQL-specific checks: the query plan of the hot scan, migrations (idempotent, safe
//! when nodes start together, refusing a newer schema), schema names, that undecodable
//! rows surface as `Corrupt` instead of panicking, the page stamp's triggers, and the
//! failures that must roll a write back whole (the outbox, a key taken behind the meeting
//! lock). Each runs in a fresh schema of the database
//! named by `TEST_POSTGRES_URL`, and says SKIPPED on stderr without one.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use rollcall_core::ingest::{Event, EventKind, Join, ResolvedEvent};
use rollcall_core::model::{AppRef, MeetingType, NewMeeting, Participant, SessionScan};
use rollcall_store::{Store, StoreError};

use super::*;

/// A fresh schema name on the test database, dropped by [`Fresh`]'s `cleanup`.
struct Fresh {
    url: String,
    options: PgOptions,
}

impl Fresh {
    fn new() -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let Some(url) = std::env::var("TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: TEST_POSTGRES_URL not set — PostgreSQL tests did not run"
            );
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let schema = format!(
            "u_{}_{}_{}",
            std::process::id(),
            nanos,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Some(Self {
            url,
            options: PgOptions {
                schema: Some(schema),
                max_connections: 4,
                ..PgOptions::default()
            },
        })
    }

    async fn store(&self) -> StoreResult<PgStore> {
        PgStore::connect_with(&self.url, self.options.clone()).await
    }

    async fn cleanup(self) {
        PgStore::lazy(&self.url, self.options)
            .expect("lazy")
            .drop_schema()
            .await
            .expect("drop schema");
    }
}

const T0: i64 = 1_760_000_000;

fn new_meeting(meetingid: &str) -> NewMeeting {
    NewMeeting {
        meetingid: meetingid.into(),
        meeting_code: "123".into(),
        owner: AppRef {
            corpid: "c".into(),
            agentid: 1,
        },
        meeting_type: MeetingType::Recurring,
        title: "t".into(),
        meeting_start: T0,
        meeting_duration: 300,
        admin_userid: None,
        sub_meetings: vec![("s1".into(), T0, T0 + 300), ("s2".into(), T0, T0 + 300)],
        details: Default::default(),
    }
}

fn join(meeting_key: i64, sub_key: i64, n: usize) -> ResolvedEvent {
    ResolvedEvent {
        meeting_key,
        sub_key,
        event: Event {
            event_id: format!("e-{n}"),
            meetingid: "m".into(),
            sub_meetingid: None,
            session: format!("s-{n}"),
            at: T0 + (n % 600) as i64,
            kind: EventKind::Join(Join {
                participant: Participant::Member(format!("u-{n}")),
                instance_id: 1,
                role: 0,
                webinar_role: 0,
                join_type: 1,
                net: None,
                audio_state: false,
                video_state: false,
                screen_shared_state: false,
                customer_data: None,
            }),
        },
    }
}

/// The plan PostgreSQL picks for the page scan with these bounds.
async fn plan(c: &Object, bounds: [i64; 8]) -> String {
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        bounds.iter().map(|b| b as _).collect();
    let rows = c
        .query(&format!("EXPLAIN {}", attendance::SCAN_SQL), &params)
        .await
        .expect("explain");
    rows.iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_scan_is_one_index_range_without_sorting() {
    let Some(fresh) = Fresh::new() else { return };
    let store = fresh.store().await.expect("connect");
    let m = store
        .create_meeting(&new_meeting("m-1"), &[])
        .await
        .expect("meeting");
    for b in 0..10 {
        let events: Vec<_> = (0..1000)
            .map(|i| join(m.key, 1 + (i % 2) as i64, b * 1000 + i))
            .collect();
        store.ingest(&events, 0).await.expect("ingest");
    }
    let c = store.checkout().await.expect("client");
    c.batch_execute("ANALYZE sessions").await.expect("analyze");
    let shallow = [m.key, 1, i64::MIN, 0, i64::MAX, 0, i64::MAX, 101];
    let deep = [m.key, 2, T0 + 500, 7000, T0 + 599, 0, 9000, 101];
    let mut plans = Vec::new();
    for bounds in [shallow, deep] {
        plans.push(plan(&c, bounds).await);
    }
    // And the generic plan a long-lived prepared statement may settle on, made without
    // knowing the values.
    c.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; \
         PREPARE generic_scan (bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint) \
         AS {}",
        attendance::SCAN_SQL
    ))
    .await
    .expect("prepare");
    let generic = c
        .simple_query(&format!(
            "EXPLAIN EXECUTE generic_scan({}, 1, 0, 0, {}, 0, 100, 101)",
            m.key,
            i64::MAX
        ))
        .await
        .expect("explain");
    let generic: Vec<String> = generic
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
    let generic = generic.join("\n");
    assert!(generic.contains("$1"), "not a generic plan: {generic}");
    plans.push(generic);
    c.batch_execute("DEALLOCATE generic_scan; RESET plan_cache_mode")
        .await
        .expect("reset");
    for p in plans {
        assert!(p.contains("Index Scan using sessions_listing"), "{p}");
        assert!(!p.contains("Sort"), "{p}");
        assert!(!p.contains("Seq Scan"), "{p}");
        // The keyset position is an index condition, not a filter over earlier rows.
        let cond = p
            .lines()
            .find(|l| l.contains("Index Cond"))
            .unwrap_or_default();
        assert!(cond.contains("ROW(join_time, seq) >"), "{p}");
    }
    drop(c);
    drop(store);
    fresh.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_safe_when_nodes_start_together() {
    let Some(fresh) = Fresh::new() else { return };
    // Eight nodes start at once on an empty schema: one migrates, the others find it done.
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let url = fresh.url.clone();
            let options = fresh.options.clone();
            tokio::spawn(async move { PgStore::connect_with(&url, options).await })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.expect("task").expect("connect"));
    }
    let c = stores[0].checkout().await.expect("client");
    assert_eq!(
        schema::version(&c).await.expect("version"),
        schema::MIGRATIONS.len() as i64
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM rollcall_migrations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, schema::MIGRATIONS.len() as i64, "each migration once");
    // The tables are in the store's own schema, found through the search_path alone.
    let schema = fresh.options.schema.clone().expect("schema");
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'sessions'",
            &[&schema],
        )
        .await
        .expect("tables")
        .get(0);
    assert_eq!(tables, 1);
    drop(c);
    // Reconnecting changes nothing, and the data is still there.
    stores[1]
        .create_meeting(&new_meeting("m-1"), &[])
        .await
        .expect("meeting");
    let again = fresh.store().await.expect("reconnect");
    again.migrate().await.expect("migrate again");
    assert!(again.meeting("m-1").await.expect("meeting").is_some());
    drop((stores, again));
    fresh.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_2_lists_earlier_meetings_for_their_administrators() {
    let Some(fresh) = Fresh::new() else { return };
    let schema = fresh.options.schema.clone().expect("schema");
    {
        // A database as the first release left it: version 1, one recurring meeting.
        let lazy = PgStore::lazy(&fresh.url, fresh.options.clone()).expect("lazy");
        let c = lazy.checkout().await.expect("client");
        c.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        c.batch_execute(schema::MIGRATIONS[0]).await.expect("v1");
        c.batch_execute(
            "CREATE TABLE rollcall_migrations (version BIGINT PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); \
             INSERT INTO rollcall_migrations (version) VALUES (1); \
             INSERT INTO meetings (meetingid, meeting_code, corpid, agentid, meeting_type, title, \
               meeting_start, meeting_duration, admin_userid) \
               VALUES ('m-1', '1', 'c', 1, 1, 't', 1000, 100, 'alice'), \
                      ('m-2', '2', 'c', 1, 0, 't', 5000, 100, NULL); \
             INSERT INTO sub_meetings (meeting_key, key, sub_meetingid, start_time, end_time) \
               SELECT key, 1, '1000', 1000, 1100 FROM meetings WHERE meetingid = 'm-1'; \
             INSERT INTO sub_meetings (meeting_key, key, sub_meetingid, start_time, end_time) \
               SELECT key, 2, '9000', 9000, 9100 FROM meetings WHERE meetingid = 'm-1';",
        )
        .await
        .expect("v1 data");
    }
    let store = fresh.store().await.expect("migrates");
    let c = store.checkout().await.expect("client");
    let rows = c
        .query(
            "SELECT p.userid, p.span_start, p.span_end, m.meetingid FROM meeting_people p \
             JOIN meetings m ON m.key = p.meeting_key",
            &[],
        )
        .await
        .expect("people");
    let got: Vec<(String, i64, i64, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(got, [("alice".to_string(), 1000, 9100, "m-1".to_string())]);
    drop(c);
    let m = store.meeting("m-1").await.expect("meeting").expect("found");
    assert!(m.details.invitees.is_empty() && !m.cancelled);
    assert_eq!(m.sub_meetings.len(), 2);
    // The migration's SQL span is the core rule every later write uses.
    assert_eq!((got[0].1, got[0].2), (m.span_start(), m.span_end()));
    drop(store);
    fresh.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_4_gives_earlier_apps_no_callback_and_refuses_a_broken_one() {
    let Some(fresh) = Fresh::new() else { return };
    let schema = fresh.options.schema.clone().expect("schema");
    {
        // A database at version 3 with one app.
        let lazy = PgStore::lazy(&fresh.url, fresh.options.clone()).expect("lazy");
        let c = lazy.checkout().await.expect("client");
        c.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        for sql in &schema::MIGRATIONS[..3] {
            c.batch_execute(sql).await.expect("v1..v3");
        }
        c.batch_execute(
            "CREATE TABLE rollcall_migrations (version BIGINT PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); \
             INSERT INTO rollcall_migrations (version) VALUES (1), (2), (3); \
             INSERT INTO corps VALUES ('c', 'C'); \
             INSERT INTO apps (corpid, agentid, name, secret_hash, meeting_api, enabled, \
               visible_departments, visible_users) \
               VALUES ('c', 7, 'a', decode(repeat('00', 32), 'hex'), true, true, '{}', '{}');",
        )
        .await
        .expect("v3 data");
    }
    let store = fresh.store().await.expect("migrates");
    let corp = store.corp("c").await.expect("corp").expect("found");
    assert_eq!(corp.apps[0].callback, None);
    assert!(store.callback_targets().await.expect("list").is_empty());
    // A row holding a URL without its token and key cannot be a target: corrupt, no panic.
    let c = store.checkout().await.expect("client");
    c.execute("UPDATE apps SET callback_url = 'https://x.example/'", &[])
        .await
        .expect("break");
    drop(c);
    assert!(matches!(store.corp("c").await, Err(StoreError::Corrupt(_))));
    assert!(matches!(
        store.callback_targets().await,
        Err(StoreError::Corrupt(_))
    ));
    drop(store);
    fresh.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let Some(fresh) = Fresh::new() else { return };
    let store = fresh.store().await.expect("connect");
    store
        .checkout()
        .await
        .expect("client")
        .batch_execute("INSERT INTO rollcall_migrations (version) VALUES (999)")
        .await
        .expect("insert");
    match fresh.store().await {
        Err(StoreError::Unavailable(m)) => assert!(m.contains("999"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    drop(store);
    fresh.cleanup().await;
}

#[tokio::test]
async fn schema_names_must_be_plain_identifiers() {
    for bad in [
        "",
        "Public",
        "1abc",
        "a-b",
        "a b",
        "a;drop",
        "x\"y",
        &"a".repeat(64),
    ] {
        let options = PgOptions {
            schema: Some(bad.to_owned()),
            ..PgOptions::default()
        };
        let r = PgStore::lazy("postgres://postgres@127.0.0.1:1/test", options);
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{bad:?}");
    }
    for good in ["rollcall", "_x", "t_1_2_3", &"a".repeat(63)] {
        let options = PgOptions {
            schema: Some(good.to_owned()),
            ..PgOptions::default()
        };
        assert!(
            PgStore::lazy("postgres://postgres@127.0.0.1:1/test", options).is_ok(),
            "{good:?}"
        );
    }
    assert!(matches!(
        PgStore::lazy("postgres://[not a url", PgOptions::default()),
        Err(StoreError::Unavailable(_))
    ));
}

/// A stored one-off meeting (no sub-meetings).
async fn one_off_meeting(store: &PgStore, meetingid: &str) -> rollcall_core::model::Meeting {
    let mut nm = new_meeting(meetingid);
    nm.sub_meetings.clear();
    nm.meeting_type = MeetingType::OneOff;
    store.create_meeting(&nm, &[]).await.expect("meeting")
}

/// The page cache's stamp (migration 9) is drawn by triggers on `sessions`, not by the
/// ingest code: sessions written by any other writer (a node of an older build during an
/// upgrade, a hand-written fix) move it too, once per statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_write_of_a_meetings_sessions_moves_its_stamp() {
    let Some(fresh) = Fresh::new() else { return };
    let store = fresh.store().await.expect("connect");
    let m = one_off_meeting(&store, "m-1").await;
    let other = store
        .create_meeting(&new_meeting("m-2"), &[])
        .await
        .expect("meeting");
    let stamp = |k: i64| {
        let store = store.clone();
        async move { store.meeting_stamp(k).await.expect("stamp").expect("some") }
    };
    let (before, other_before) = (stamp(m.key).await, stamp(other.key).await);
    let c = store.checkout().await.expect("client");
    c.execute(
        "INSERT INTO sessions (meeting_key, sub_key, join_time, seq, session_key, \
         participant_kind, participant_id, quit_time, instance_id, role, webinar_role, \
         join_type, net, audio_state, video_state, screen_shared_state, customer_data, \
         state_at) SELECT $1, 0, 10 + n, n, 's' || n, 2, 'g' || n, NULL, 1, 0, 0, 1, NULL, \
         false, false, false, NULL, 10 FROM generate_series(1, 3) AS n",
        &[&m.key],
    )
    .await
    .expect("insert");
    let inserted = stamp(m.key).await;
    assert_ne!(inserted.stamp, before.stamp, "an insert did not move it");
    c.execute(
        "UPDATE sessions SET quit_time = 20 WHERE meeting_key = $1 AND session_key = 's1'",
        &[&m.key],
    )
    .await
    .expect("update");
    let updated = stamp(m.key).await;
    assert_ne!(updated.stamp, inserted.stamp, "an update did not move it");
    assert!(
        updated.stamp > inserted.stamp && inserted.stamp > before.stamp,
        "one sequence, drawn in order"
    );
    assert_eq!(
        stamp(other.key).await,
        other_before,
        "another meeting's stamp moved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_rows_are_corrupt_not_panics() {
    let Some(fresh) = Fresh::new() else { return };
    let store = fresh.store().await.expect("connect");
    let m = one_off_meeting(&store, "m-1").await;
    {
        let c = store.checkout().await.expect("client");
        let insert = "INSERT INTO sessions (meeting_key, sub_key, join_time, seq, session_key, \
             participant_kind, participant_id, quit_time, instance_id, role, webinar_role, \
             join_type, net, audio_state, video_state, screen_shared_state, customer_data, \
             state_at) VALUES ($1, $2, 10, $3, $4, $5, 'x', NULL, $6, 0, 0, 1, NULL, false, \
             false, false, NULL, 10)";
        // An unknown participant kind, and a negative code where the model has a u32.
        for (sub_key, seq, key, kind, instance) in
            [(0_i64, 1_i64, "s", 9_i64, 1_i64), (1, 2, "t", 0, -1)]
        {
            c.execute(insert, &[&m.key, &sub_key, &seq, &key, &kind, &instance])
                .await
                .expect("insert");
        }
        c.batch_execute("UPDATE meetings SET meeting_type = 42")
            .await
            .expect("update");
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
    drop(store);
    fresh.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbox_write_that_fails_rolls_back_the_change_that_caused_it() {
    use rollcall_store::suite::fixtures::{self, corp};
    let Some(fresh) = Fresh::new() else { return };
    let store = fresh.store().await.expect("connect");
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
        .create_meeting(
            &fixtures::new_meeting("m-1", &owner, MeetingType::OneOff, 0),
            &[],
        )
        .await
        .expect("create");
    // The outbox refuses every row from now on.
    store
        .checkout()
        .await
        .expect("client")
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$; \
             CREATE TRIGGER refuse BEFORE INSERT ON deliveries \
             FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .await
        .expect("trigger");
    // The first join would write meeting_start: the join is not stored either.
    let r = store
        .ingest(&[fixtures::join(m.key, "e-1", "a", T0)], T0)
        .await;
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
    fresh.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_7_backfills_the_aggregates_of_earlier_sessions_and_snapshots() {
    use rollcall_core::person_totals::{self, views_of, WHOLE_MEETING};
    use rollcall_core::schedule;

    let Some(fresh) = Fresh::new() else { return };
    let schema = fresh.options.schema.clone().expect("schema");
    // A few people on overlapping, back-to-back, empty and open sessions across two
    // sub-meetings (and key 0); the first 40 also saved in a snapshot taken at version 6.
    let mut x: i64 = 7;
    let mut insert = String::new();
    for seq in 1..=60_i64 {
        x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
        let (who, sub, join) = (x % 4, (x / 4) % 3, (x / 12) % 1_000);
        let quit = match (x / 12_000) % 5 {
            0 => "NULL".to_string(),
            1 => join.to_string(),
            d => (join + d * 37).to_string(),
        };
        insert.push_str(&format!(
            "INSERT INTO sessions (meeting_key, session_key, sub_key, join_time, seq, \
             participant_kind, participant_id, quit_time, instance_id, role, webinar_role, \
             join_type, audio_state, video_state, screen_shared_state, state_at) \
             VALUES (1, 's{seq}', {sub}, {join}, {seq}, 0, 'p{who}', {quit}, 1, 0, 0, 1, \
             false, false, false, {join});"
        ));
        if seq == 40 {
            insert.push_str(
                "INSERT INTO snapshots VALUES ('old', 0, 0, 40); \
                 INSERT INTO snapshot_rows (name, tbl, row) \
                 SELECT 'old', 'sessions', to_jsonb(s) FROM sessions s;",
            );
        }
    }
    {
        let lazy = PgStore::lazy(&fresh.url, fresh.options.clone()).expect("lazy");
        let c = lazy.checkout().await.expect("client");
        c.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        for sql in &schema::MIGRATIONS[..6] {
            c.batch_execute(sql).await.expect("v1..v6");
        }
        c.batch_execute(&format!(
            "CREATE TABLE rollcall_migrations (version BIGINT PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); \
             INSERT INTO rollcall_migrations (version) VALUES (1), (2), (3), (4), (5), (6); \
             {insert}"
        ))
        .await
        .expect("v6 data");
    }
    let store = fresh.store().await.expect("migrates");
    for expected in [60, 40] {
        let mut rows = Vec::new();
        for sub in 0..3 {
            let scan = rollcall_store::suite::fixtures::everything(1, sub);
            rows.extend(store.scan_sessions(&scan).await.expect("scan"));
        }
        assert_eq!(rows.len(), expected);
        for view in [0, 1, 2, WHOLE_MEETING] {
            let in_view: Vec<_> = rows
                .iter()
                .filter(|r| views_of(r.sub_key).any(|v| v == view))
                .cloned()
                .collect();
            for now in [0, 500, 2_000] {
                let totals = store.person_totals(1, view, now).await.expect("totals");
                assert_eq!(
                    person_totals::people(totals, now),
                    schedule::people(&in_view, now),
                    "{expected} sessions, view {view} as of {now}"
                );
            }
        }
        // The snapshot saved before the migration restores with its aggregates.
        store.restore_snapshot("old").await.expect("restore");
    }
    drop(store);
    fresh.cleanup().await;
}

/// The backstop behind the meeting lock: a key the batch's load did not see, stored by a
/// writer that skipped the lock, fails the batch whole as `Unavailable` ("retry"), and the
/// retry applies it. Here a trigger stands in for that writer: inside the ingest's own
/// statement it stores session `b` first, so the ingest's insert of `b` takes a key that
/// was free when the batch was loaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_taken_behind_the_meeting_lock_fails_the_batch_for_a_retry() {
    use rollcall_core::ingest::Outcome;
    use rollcall_store::suite::fixtures;
    let Some(fresh) = Fresh::new() else { return };
    let store = fresh.store().await.expect("connect");
    let m = one_off_meeting(&store, "m-1").await;
    let c = store.checkout().await.expect("client");
    c.batch_execute(
        "CREATE FUNCTION interleave() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.session_key = 'b' AND pg_trigger_depth() = 1 THEN \
         INSERT INTO sessions SELECT (NEW).*; END IF; RETURN NEW; END $$; \
         CREATE TRIGGER interleave BEFORE INSERT ON sessions \
         FOR EACH ROW EXECUTE FUNCTION interleave();",
    )
    .await
    .expect("trigger");
    let batch = [
        fixtures::join(m.key, "e-1", "a", T0),
        fixtures::join(m.key, "e-2", "b", T0 + 1),
        fixtures::join(m.key, "e-3", "c", T0 + 2),
    ];
    match store.ingest(&batch, T0).await {
        Err(StoreError::Unavailable(reason)) => {
            assert!(reason.contains("retry the batch"), "{reason}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // Rolled back whole: no session, no counter, no dedupe record.
    assert_eq!(store.last_seq(m.key).await.expect("seq"), 0);
    let stored: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM applied_events)",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 0, "the failed batch left rows behind");
    c.batch_execute("DROP TRIGGER interleave ON sessions")
        .await
        .expect("drop trigger");
    let outcomes = store.ingest(&batch, T0).await.expect("retry");
    assert_eq!(outcomes, vec![Outcome::Accepted; 3]);
    assert_eq!(store.last_seq(m.key).await.expect("seq"), 3);
    fresh.cleanup().await;
}
