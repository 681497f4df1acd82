//! Every documented operation driven for real, each reply checked by [`Spec::check`]: the
//! `/cgi-bin/` calls' successes and errors, ingest accepted / rejected / refused, the admin
//! API's 200 / 201 / 400 / 401 / 404 answers, and the open routes.

use serde_json::{json, Value};

use super::spec::Spec;
use crate::helpers::*;

/// The credentials a request carries.
#[derive(Debug, Clone, Copy)]
enum Key {
    None,
    Admin,
    Ingest,
    Wrong,
}

/// A body and its content type.
type Body = Option<(&'static str, String)>;

struct Driver<'a> {
    app: &'a TestApp,
    spec: &'a mut Spec,
}

impl Driver<'_> {
    /// Send `method uri` (a concrete path and query for the `template`), check the reply
    /// against the document, and return its status and body.
    async fn send(
        &mut self,
        method: &str,
        template: &str,
        uri: &str,
        key: Key,
        body: Body,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.app.http.request(m, format!("{}{uri}", self.app.base));
        req = match key {
            Key::None => req,
            Key::Admin => req.bearer_auth(ADMIN_KEY),
            Key::Ingest => req.bearer_auth(INGEST_KEY),
            Key::Wrong => req.bearer_auth("not-the-key"),
        };
        if let Some((content_type, text)) = body {
            req = req.header("content-type", content_type).body(text);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body");
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let v = self
            .spec
            .check(method, template, status, content_type.as_deref(), &bytes);
        if template.starts_with("/cgi-bin/") {
            // WeCom's headers carry the body's errcode.
            let header = headers.get("Error-Code").expect("Error-Code header");
            assert_eq!(
                header.to_str().ok(),
                Some(v["errcode"].to_string().as_str())
            );
        }
        (status, v)
    }

    /// An admin call with the admin key and a JSON body (or none).
    async fn admin(
        &mut self,
        method: &str,
        template: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let body = body.map(|b| ("application/json", b.to_string()));
        self.send(method, template, uri, Key::Admin, body).await
    }

    /// A `/cgi-bin/meeting/<call>` with `token` (none when empty) and a JSON body.
    async fn cgi(&mut self, call: &str, token: &str, body: Value) -> Value {
        let template = format!("/cgi-bin/meeting/{call}");
        let uri = if token.is_empty() {
            template.clone()
        } else {
            format!("{template}?access_token={token}")
        };
        let body = Some(("application/json", body.to_string()));
        let (status, v) = self.send("POST", &template, &uri, Key::None, body).await;
        assert_eq!(status, 200);
        v
    }

    async fn gettoken(&mut self, query: &str) -> Value {
        let uri = format!("/cgi-bin/gettoken?{query}");
        let (status, v) = self
            .send("GET", "/cgi-bin/gettoken", &uri, Key::None, None)
            .await;
        assert_eq!(status, 200);
        v
    }
}

fn errcode(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or_else(|| panic!("{v}"))
}

/// Drive every operation; the caller checks that each one was reached.
pub async fn everything(app: &TestApp, spec: &mut Spec) {
    let mut d = Driver { app, spec };
    wecom(&mut d).await;
    ingest(&mut d).await;
    admin(&mut d).await;
    controls(&mut d).await;
    open_routes(&mut d).await;
}

async fn wecom(d: &mut Driver<'_>) {
    // gettoken: a token, and each way of failing it.
    let t = d
        .gettoken(&format!("corpid={CORP}&corpsecret={SECRET}"))
        .await;
    let token = t["access_token"].as_str().expect("token").to_owned();
    assert_eq!(
        errcode(&d.gettoken(&format!("corpid={CORP}&corpsecret=wrong")).await),
        40001
    );
    assert_eq!(
        errcode(&d.gettoken("corpid=wwnobody&corpsecret=x").await),
        40013
    );
    assert_eq!(errcode(&d.gettoken(&format!("corpid={CORP}")).await), 41004);
    assert_eq!(errcode(&d.gettoken("corpsecret=x").await), 41002);
    let noapi = d
        .gettoken(&format!("corpid={CORP}&corpsecret={NOAPI_SECRET}"))
        .await;
    let noapi = noapi["access_token"].as_str().expect("token").to_owned();

    // A meeting in progress with attendance: two members the app sees, an external user.
    let (status, m) = d
        .admin(
            "POST",
            "/admin/v1/meetings",
            "/admin/v1/meetings",
            Some(
                json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "Live",
                        "meeting_start": NOW - 3600, "meeting_duration": 7200}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    let live = m["meetingid"].as_str().expect("meetingid").to_owned();
    app_ingest(
        d,
        json!([
            join(&live, "s-bob", NOW - 3000, "bob"),
            quit(&live, "s-bob", NOW - 1000),
            join(&live, "s-carol", NOW - 2000, "carol"),
            join_as(&live, "s-ext", NOW - 1500, json!({"external_id": "ext-1"})),
        ]),
    )
    .await;

    // get_attendee_list: a page with open and closed sessions; refusals.
    let page = d
        .cgi(
            "get_attendee_list",
            &token,
            json!({"meetingid": live, "limit": "2"}),
        )
        .await;
    assert_eq!((errcode(&page), page["has_more"].clone()), (0, json!(true)));
    let rest = d
        .cgi(
            "get_attendee_list",
            &token,
            json!({"meetingid": live, "limit": 2, "cursor": page["next_cursor"]}),
        )
        .await;
    assert_eq!(
        rest["attendees"].as_array().map(Vec::len),
        Some(1),
        "{rest}"
    );
    let wrong_limit = json!({"meetingid": live, "limit": 3, "cursor": page["next_cursor"]});
    assert_eq!(
        errcode(&d.cgi("get_attendee_list", &token, wrong_limit).await),
        50100
    );
    let over = json!({"meetingid": live, "limit": 101});
    assert_eq!(
        errcode(&d.cgi("get_attendee_list", &token, over).await),
        40058
    );
    let forbidden = json!({"meetingid": live});
    assert_eq!(
        errcode(&d.cgi("get_attendee_list", &noapi, forbidden).await),
        48002
    );
    assert_eq!(
        errcode(&d.cgi("get_attendee_list", "", json!({})).await),
        41001
    );

    // create: a recurring meeting with settings and reminders; refusals.
    let create = json!({
        "admin_userid": "bob", "title": "周会", "meeting_start": NOW + DAY,
        "meeting_duration": "3600", "description": "weekly", "location": "Room 1",
        "invitees": {"userid": ["carol"]},
        "settings": {"password": "1234", "remind_scope": "3", "hosts": {"userid": ["bob"]},
                     "enable_waiting_room": true, "auto_record_type": "cloud",
                     "enable_doc_upload": true},
        "reminders": {"is_repeat": 1, "repeat_type": 0, "repeat_until_type": 1,
                      "repeat_until_count": 3, "remind_before": [300]},
    });
    let created = d.cgi("create", &token, create).await;
    assert_eq!(errcode(&created), 0, "{created}");
    let weekly = created["meetingid"].as_str().expect("meetingid").to_owned();
    let untitled =
        json!({"admin_userid": "bob", "meeting_start": NOW + DAY, "meeting_duration": 600});
    assert_eq!(errcode(&d.cgi("create", &token, untitled).await), 40058);
    assert_eq!(
        errcode(&d.cgi("create", "not-a-token", json!({})).await),
        40014
    );

    // get_info: the recurring meeting (sub-meetings, settings, reminders) and the live one
    // (members and external attendance); refusals.
    let info = d
        .cgi("get_info", &token, json!({"meetingid": weekly}))
        .await;
    assert_eq!(
        info["sub_meetings"].as_array().map(Vec::len),
        Some(3),
        "{info}"
    );
    let sub = info["sub_meetings"][1]["sub_meetingid"].clone();
    let one = d
        .cgi(
            "get_info",
            &token,
            json!({"meetingid": weekly, "sub_meetingid": sub}),
        )
        .await;
    assert_eq!(errcode(&one), 0, "{one}");
    let by_code = json!({"meeting_code": info["meeting_code"]});
    assert_eq!(errcode(&d.cgi("get_info", &token, by_code).await), 0);
    let attended = d.cgi("get_info", &token, json!({"meetingid": live})).await;
    assert_eq!(
        attended["attendees"]["member"].as_array().map(Vec::len),
        Some(2),
        "{attended}"
    );
    assert_eq!(
        errcode(
            &d.cgi("get_info", &token, json!({"meetingid": "nope"}))
                .await
        ),
        40058
    );
    let bad_json = d.cgi("get_info", &token, json!("not an object")).await;
    assert_eq!(errcode(&bad_json), 40058);

    // update, get_user_meetingid, cancel.
    let renamed = json!({"meetingid": weekly, "title": "Renamed", "invitees": {"userid": []}});
    assert_eq!(errcode(&d.cgi("update", &token, renamed).await), 0);
    let half = json!({"meetingid": weekly, "meeting_start": NOW + 2 * DAY});
    assert_eq!(errcode(&d.cgi("update", &token, half).await), 40058);
    let mine = d
        .cgi(
            "get_user_meetingid",
            &token,
            json!({"userid": "bob", "cursor": "0", "limit": 1}),
        )
        .await;
    assert_eq!(mine["meetingid_list"], json!([weekly]), "{mine}");
    let forged = json!({"userid": "bob", "cursor": "forged"});
    assert_eq!(
        errcode(&d.cgi("get_user_meetingid", &token, forged).await),
        50100
    );
    assert_eq!(
        errcode(&d.cgi("get_user_meetingid", &token, json!({})).await),
        40058
    );
    assert_eq!(
        errcode(&d.cgi("cancel", &token, json!({"meetingid": weekly})).await),
        0
    );
    assert_eq!(
        errcode(&d.cgi("cancel", &token, json!({"meetingid": weekly})).await),
        40058
    );
    let cancelled = d
        .cgi("get_info", &token, json!({"meetingid": weekly}))
        .await;
    assert_eq!(cancelled["status"], 4);
}

async fn app_ingest(d: &mut Driver<'_>, events: Value) -> Value {
    let body = Some(("application/json", events.to_string()));
    let (status, v) = d
        .send(
            "POST",
            "/ingest/v1/events",
            "/ingest/v1/events",
            Key::Ingest,
            body,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn ingest(d: &mut Driver<'_>) {
    let (_, m) = d
        .admin(
            "POST",
            "/admin/v1/meetings",
            "/admin/v1/meetings",
            Some(
                json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 0, "title": "Ingest",
                        "meeting_start": NOW - 600, "meeting_duration": 3600}),
            ),
        )
        .await;
    let id = m["meetingid"].as_str().expect("meetingid").to_owned();
    let batch = json!([join(&id, "s-1", NOW - 500, "bob"), {"event_id": "e", "kind": "leave"}]);
    let report = app_ingest(d, batch.clone()).await;
    assert_eq!(
        (
            report["accepted"].clone(),
            report["rejected"][0]["index"].clone()
        ),
        (json!(1), json!(1))
    );
    let again = app_ingest(d, batch).await;
    assert_eq!(again["duplicates"], 1, "{again}");
    // NDJSON: each line on its own, a bad line is one rejected event.
    let lines = format!("{}\nnot json\n", quit(&id, "s-1", NOW - 100));
    let (status, v) = d
        .send(
            "POST",
            "/ingest/v1/events",
            "/ingest/v1/events",
            Key::Ingest,
            Some(("application/x-ndjson", lines)),
        )
        .await;
    assert_eq!(
        (
            status,
            v["accepted"].clone(),
            v["rejected"][0]["index"].clone()
        ),
        (200, json!(1), json!(1))
    );
    // Refusals of the whole body.
    let (status, _) = d
        .send(
            "POST",
            "/ingest/v1/events",
            "/ingest/v1/events",
            Key::Ingest,
            Some(("application/json", "5".into())),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = d
        .send(
            "POST",
            "/ingest/v1/events",
            "/ingest/v1/events",
            Key::Wrong,
            Some(("application/json", "[]".into())),
        )
        .await;
    assert_eq!(status, 401);
}

async fn admin(d: &mut Driver<'_>) {
    let path = "/admin/v1/meetings";
    let recurring = json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 1, "title": "Standup",
                           "meeting_start": NOW, "meeting_duration": 900, "admin_userid": "bob",
                           "sub_meetings": [{"start_time": NOW, "end_time": NOW + 900},
                                            {"start_time": NOW + DAY, "end_time": NOW + DAY + 900}]});
    let (status, m) = d.admin("POST", path, path, Some(recurring)).await;
    assert_eq!(
        (status, m["sub_meetings"].as_array().map(Vec::len)),
        (201, Some(2))
    );
    let webinar = json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 6, "title": "Webinar",
                         "meeting_start": NOW, "meeting_duration": 900});
    assert_eq!(d.admin("POST", path, path, Some(webinar)).await.0, 201);
    let bad_type = json!({"corpid": CORP, "agentid": AGENT, "meeting_type": 2, "title": "x",
                          "meeting_start": NOW, "meeting_duration": 900});
    assert_eq!(d.admin("POST", path, path, Some(bad_type)).await.0, 400);
    let no_corp = json!({"corpid": "wwnobody", "agentid": AGENT, "meeting_type": 0, "title": "x",
                         "meeting_start": NOW, "meeting_duration": 900});
    assert_eq!(d.admin("POST", path, path, Some(no_corp)).await.0, 404);
    let (status, _) = d
        .send(
            "POST",
            path,
            path,
            Key::None,
            Some(("application/json", "{}".into())),
        )
        .await;
    assert_eq!(status, 401);

    let corps = "/admin/v1/corps";
    let corp = json!({"corpid": "wwopenapi", "name": "Doc Corp",
                      "departments": [{"id": 1, "name": "HQ"}],
                      "users": [{"userid": "u1", "name": "U", "departments": [1]}],
                      "apps": [{"agentid": 7, "secret": "s", "meeting_api": true,
                                "visible_departments": [1]}]});
    let (status, v) = d.admin("POST", corps, corps, Some(corp)).await;
    assert_eq!((status, v), (200, json!({"corpid": "wwopenapi"})));
    let unknown_field = json!({"corpid": "wwopenapi", "colour": "blue"});
    assert_eq!(
        d.admin("POST", corps, corps, Some(unknown_field)).await.0,
        400
    );
    let not_json = Some(("application/json", "{".to_owned()));
    assert_eq!(
        d.send("POST", corps, corps, Key::Admin, not_json).await.0,
        400
    );

    // An app with a callback URL nobody answers: listed, verified or not.
    let with_callback = json!({"corpid": "wwopenapicb", "name": "Callback Corp",
                      "apps": [{"agentid": 8, "secret": "s",
                                "callback_url": "http://127.0.0.1:9/callback",
                                "callback_token": "QDG6eK",
                                "callback_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}]});
    assert_eq!(
        d.admin("POST", corps, corps, Some(with_callback)).await.0,
        200
    );
    // Its meeting's create_meeting event is in the outbox (pending or failing: nobody
    // answers), listed beside the targets.
    let cb_meeting = json!({"corpid": "wwopenapicb", "agentid": 8, "meeting_type": 0,
                            "title": "Callback", "meeting_start": NOW, "meeting_duration": 900});
    assert_eq!(d.admin("POST", path, path, Some(cb_meeting)).await.0, 201);
    let callbacks = "/admin/v1/callbacks";
    let (status, listed) = d.admin("GET", callbacks, callbacks, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed["apps"][0]["corpid"], "wwopenapicb", "{listed}");
    assert_eq!(listed["deliveries"][0]["corpid"], "wwopenapicb", "{listed}");
    assert_eq!(listed["deliveries"][0]["change_type"], "create_meeting");
    let bad_limit = "/admin/v1/callbacks?limit=0";
    assert_eq!(d.admin("GET", callbacks, bad_limit, None).await.0, 400);
    assert_eq!(
        d.send("GET", callbacks, callbacks, Key::None, None).await.0,
        401
    );
}

async fn controls(d: &mut Driver<'_>) {
    let clock = "/admin/v1/clock";
    let (_, now) = d.admin("GET", clock, clock, None).await;
    assert_eq!(now["virtual"], true);
    let (status, moved) = d
        .admin("POST", clock, clock, Some(json!({"advance_secs": 60})))
        .await;
    assert_eq!((status, moved["now"].clone()), (200, json!(NOW + 60)));
    let both = json!({"now": NOW, "advance_secs": 1});
    assert_eq!(d.admin("POST", clock, clock, Some(both)).await.0, 400);

    // Faults that never match a real call (another corp), so nothing else is disturbed.
    let faults = "/admin/v1/faults";
    let one = "/admin/v1/faults/{id}";
    let rule = json!({"path": "meeting/get_info", "corpid": "wwnobody", "errcode": -1, "times": 2});
    let (status, f1) = d.admin("POST", faults, faults, Some(rule)).await;
    assert_eq!(status, 201, "{f1}");
    let slow = json!({"path": "*", "corpid": "wwnobody", "agentid": 1, "latency_ms": 1,
                      "probability": 0.5});
    assert_eq!(d.admin("POST", faults, faults, Some(slow)).await.0, 201);
    let gateway = json!({"path": "ingest/v1/events", "corpid": "wwnobody", "http_status": 502});
    assert_eq!(d.admin("POST", faults, faults, Some(gateway)).await.0, 201);
    let dropper = json!({"path": "gettoken", "corpid": "wwnobody", "drop": true});
    assert_eq!(d.admin("POST", faults, faults, Some(dropper)).await.0, 201);
    let (_, listed) = d.admin("GET", faults, faults, None).await;
    assert_eq!(
        listed["faults"].as_array().map(Vec::len),
        Some(4),
        "{listed}"
    );
    let id = f1["id"].as_str().expect("id");
    let uri = format!("{faults}/{id}");
    assert_eq!(d.admin("DELETE", one, &uri, None).await.0, 200);
    assert_eq!(d.admin("DELETE", one, &uri, None).await.0, 404);
    let bad = json!({"path": "meeting/nope", "errcode": -1});
    assert_eq!(d.admin("POST", faults, faults, Some(bad)).await.0, 400);
    let (status, cleared) = d.admin("DELETE", faults, faults, None).await;
    assert_eq!((status, cleared), (200, json!({"faults": []})));

    // The journal, filtered and refused.
    let requests = "/admin/v1/requests";
    let (_, all) = d
        .admin("GET", requests, &format!("{requests}?limit=50"), None)
        .await;
    assert!(
        all["requests"].as_array().is_some_and(|r| r.len() > 10),
        "{all}"
    );
    let only = format!("{requests}?path=gettoken&errcode=40001");
    let (_, refused) = d.admin("GET", requests, &only, None).await;
    assert_eq!(
        refused["requests"].as_array().map(Vec::len),
        Some(1),
        "{refused}"
    );
    let unknown = format!("{requests}?colour=blue");
    assert_eq!(d.admin("GET", requests, &unknown, None).await.0, 400);
    assert_eq!(
        d.admin("DELETE", requests, requests, None).await,
        (200, json!({"requests": []}))
    );

    let limits = "/admin/v1/rate_limits";
    let (_, current) = d.admin("GET", limits, limits, None).await;
    assert_eq!(current["per_minute"], 6000);
    let set = json!({"per_minute": 5000, "calls": {"meeting/create": 100}});
    assert_eq!(
        d.admin("PUT", limits, limits, Some(set.clone())).await,
        (200, set)
    );
    assert_eq!(
        d.admin("PUT", limits, limits, Some(json!({"per_minute": 0})))
            .await
            .0,
        400
    );
    assert_eq!(d.admin("PUT", limits, limits, Some(json!({}))).await.0, 200);

    // Snapshots: save, list, restore, delete; bad and unknown names.
    let named = "/admin/v1/snapshots/{name}";
    let restore = "/admin/v1/snapshots/{name}/restore";
    let list = "/admin/v1/snapshots";
    let (status, saved) = d
        .admin("POST", named, "/admin/v1/snapshots/doc.1", None)
        .await;
    assert_eq!((status, saved["name"].clone()), (201, json!("doc.1")));
    let (_, all) = d.admin("GET", list, list, None).await;
    assert_eq!(all["snapshots"].as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(
        d.admin("POST", restore, "/admin/v1/snapshots/doc.1/restore", None)
            .await
            .0,
        200
    );
    assert_eq!(
        d.admin("POST", named, "/admin/v1/snapshots/bad!name", None)
            .await
            .0,
        400
    );
    assert_eq!(
        d.admin("POST", restore, "/admin/v1/snapshots/nope/restore", None)
            .await
            .0,
        404
    );
    assert_eq!(
        d.admin("DELETE", named, "/admin/v1/snapshots/doc.1", None)
            .await
            .0,
        200
    );
    assert_eq!(
        d.admin("DELETE", named, "/admin/v1/snapshots/doc.1", None)
            .await
            .0,
        404
    );
    assert_eq!(
        d.admin("DELETE", named, "/admin/v1/snapshots/bad!name", None)
            .await
            .0,
        400
    );

    let reset = "/admin/v1/reset";
    assert_eq!(
        d.admin("POST", reset, reset, None).await,
        (200, json!({"reset": true}))
    );
}

async fn open_routes(d: &mut Driver<'_>) {
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let (status, _) = d.send("GET", path, path, Key::None, None).await;
        assert_eq!(status, 200, "{path}");
    }
}
