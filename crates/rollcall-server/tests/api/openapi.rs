//! `openapi.json` (issue 9 point 7) against the running server, so the document cannot drift.
//!
//! - The document parses, is OpenAPI 3.1.0 with the crate's version, and `GET /openapi.json`
//!   serves exactly the committed file.
//! - Its operations are the server's: the set of paths is the set of `.route("…")` literals in
//!   the crate's source, and for every path each method is probed on the live router, which
//!   tells a served method from one it refuses (see [`documented_routes_are_the_served_routes`]).
//! - Every operation is driven for real ([`drive`]): success and errors of each `/cgi-bin/`
//!   call, admin 200/201/400/401/404 cases, ingest accepted / rejected / refused; every reply
//!   is validated against the document's schema for its path, method, status and content
//!   type, and the test fails unless each documented operation was driven.
//!
//! Why probe and scan rather than a `pub` route table the router is built from: the router is
//! composed in several modules (each resource merges its own `Router`, with per-route
//! fallbacks and layers), and flattening it into one table would restructure code other work
//! edits. The scan reads every `.route(` in `src/` and fails on a path that is not a string
//! literal or on `nest` / `route_service`, so a route cannot be added where it does not look;
//! the probe asks the real router, so the methods cannot drift either.

mod drive;
mod spec;

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use spec::{document, operations, DOCUMENT, METHODS};

#[test]
fn the_document_is_openapi_3_1_of_this_version() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["jsonSchemaDialect"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    // Every schema the document holds compiles as JSON Schema 2020-12.
    for (name, _) in doc["components"]["schemas"].as_object().expect("schemas") {
        let mut root = doc.clone();
        root["$ref"] = Value::String(format!("#/components/schemas/{name}"));
        jsonschema::draft202012::options()
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {name}: {e}"));
    }
    // Each /cgi-bin/ call lists its errcodes, and its error shape allows exactly those.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/cgi-bin/") {
            continue;
        }
        for (method, op) in item.as_object().expect("path item") {
            let listed: Vec<i64> = op["x-errcodes"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no x-errcodes"))
                .iter()
                .map(|c| c.as_i64().expect("an integer errcode"))
                .collect();
            assert_eq!(listed.first(), Some(&0), "{path}: x-errcodes starts with 0");
            let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
            let enumerated: Vec<i64> = schema["oneOf"][1]["allOf"][1]["properties"]["errcode"]
                ["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: the error shape has no errcode enum"))
                .iter()
                .map(|c| c.as_i64().expect("integer"))
                .collect();
            assert_eq!(&listed[1..], &enumerated[..], "{path}");
        }
    }
}

/// The path templates the router is built from: every `.route(` in the crate's source, whose
/// first argument must be a string literal.
fn source_routes() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let mut text = std::fs::read_to_string(&p).expect("read source");
                // A unit-test module (at the end of a file, by convention) may build its own
                // router, a test receiver say: not the server's routes.
                if let Some(at) = text.find("#[cfg(test)]\nmod tests") {
                    text.truncate(at);
                }
                out.push((p.display().to_string(), text));
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut routes = BTreeSet::new();
    for (file, text) in files {
        for hidden in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !text.contains(hidden),
                "{file} uses {hidden}: teach tests/api/openapi.rs to read its routes"
            );
        }
        for (at, _) in text.match_indices(".route(") {
            let rest = text[at + ".route(".len()..].trim_start();
            let literal = rest
                .strip_prefix('"')
                .and_then(|r| r.split_once('"'))
                .map(|(path, _)| path.to_owned())
                .unwrap_or_else(|| {
                    panic!("{file}: a .route( whose path is not a string literal: {rest:.60}")
                });
            routes.insert(literal);
        }
    }
    routes
}

/// Is `method` served at `path`? Asked without credentials and without a body, so nothing
/// is changed: the router picks the method before any extractor runs, so a method it does
/// not serve answers its fallback (405, or errcode 40058 "only accepts" on `/cgi-bin/`),
/// while a served one reaches the handler's first check (401, 41001, 41004, or the answer
/// of an open route).
async fn served(app: &TestApp, method: &str, path: &str) -> bool {
    let concrete = path.replace("{id}", "f0").replace("{name}", "probe");
    let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
    let r = app
        .http
        .request(m, format!("{}{concrete}", app.base))
        .send()
        .await
        .expect("send");
    let status = r.status();
    let body = r.bytes().await.expect("body");
    assert_ne!(
        status,
        StatusCode::NOT_FOUND,
        "{method} {path}: unknown path"
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        return false;
    }
    if path.starts_with("/cgi-bin/") {
        let v: Value = serde_json::from_slice(&body).expect("a WeCom reply");
        let refused = v["errcode"] == 40058
            && v["errmsg"]
                .as_str()
                .is_some_and(|m| m.contains("only accepts"));
        return !refused;
    }
    true
}

#[tokio::test]
async fn documented_routes_are_the_served_routes() {
    let doc = document();
    let documented = operations(&doc);
    let doc_paths: BTreeSet<String> = documented.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(
        source_routes(),
        doc_paths,
        "the router's paths (left) and openapi.json's (right) differ"
    );
    let app = spawn_app().await;
    let mut live = BTreeSet::new();
    for path in &doc_paths {
        for m in METHODS {
            if served(&app, m, path).await {
                live.insert((m.to_owned(), path.clone()));
            }
        }
    }
    assert_eq!(
        live, documented,
        "the methods the server serves (left) and openapi.json's (right) differ"
    );
    // The probe can tell: a path the router does not know is a 404, a wrong method a refusal.
    let r = app
        .http
        .get(format!("{}/admin/v1/nothing-here", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!served(&app, "put", "/cgi-bin/meeting/create").await);
    assert!(!served(&app, "post", "/cgi-bin/gettoken").await);
    assert!(!served(&app, "get", "/admin/v1/reset").await);
    assert!(served(&app, "post", "/admin/v1/reset").await);
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"].to_str().expect("ascii"),
        "application/json"
    );
    assert_eq!(r.text().await.expect("body"), DOCUMENT);
}

#[tokio::test]
async fn the_checker_refuses_a_reply_the_document_does_not_allow() {
    let mut spec = spec::Spec::new();
    let get = "/cgi-bin/meeting/get_attendee_list";
    let ok = serde_json::json!({"errcode": 0, "errmsg": "ok", "has_more": false,
                                "next_cursor": "abc", "attendees": []});
    assert!(!spec.refuses("post", get, 200, &ok));
    for bad in [
        // A field WeCom does not send.
        serde_json::json!({"errcode": 0, "errmsg": "ok", "has_more": false,
                           "next_cursor": "abc", "attendees": [], "total": 0}),
        // A time as a number where WeCom sends a string of digits.
        serde_json::json!({"errcode": 0, "errmsg": "ok", "has_more": false, "next_cursor": "",
                           "attendees": [{"tmp_openid": "t", "userid": "", "join_time": 5,
                                          "instance_id": 1, "role": 0, "webinar_role": 0,
                                          "join_type": 1, "audio_state": true,
                                          "video_state": false, "screen_shared_state": false}]}),
        // An errcode this call does not answer, and an error with a payload.
        serde_json::json!({"errcode": 40013, "errmsg": "invalid corpid"}),
        serde_json::json!({"errcode": 40058, "errmsg": "x", "has_more": false}),
    ] {
        assert!(spec.refuses("post", get, 200, &bad), "{bad}");
    }
    assert!(spec.refuses(
        "get",
        "/admin/v1/faults",
        200,
        &serde_json::json!({"faults": [{"id": "f1"}]})
    ));
}

#[tokio::test]
async fn every_operation_answers_as_documented() {
    let app = spawn_app().await;
    let mut spec = spec::Spec::new();
    drive::everything(&app, &mut spec).await;
    let documented = operations(spec.doc());
    let driven: BTreeSet<_> = spec.seen.statuses.keys().cloned().collect();
    let missing: Vec<_> = documented.difference(&driven).collect();
    assert!(missing.is_empty(), "operations never driven: {missing:?}");
    for (op, (ok, err)) in &spec.seen.wecom {
        assert!(
            *ok && *err,
            "{op:?}: success driven {ok}, error driven {err}"
        );
    }
    assert_eq!(spec.seen.wecom.len(), 7, "{:?}", spec.seen.wecom.keys());
}
