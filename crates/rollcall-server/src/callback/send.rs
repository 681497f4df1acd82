//! Sending one callback as WeCom does (接收消息与事件,
//! <https://developer.work.weixin.qq.com/document/path/90930>): `POST <url>?msg_signature=
//! &timestamp=&nonce=` with the `<xml><ToUserName/><AgentID/><Encrypt/></xml>` envelope, the
//! event encrypted and signed with the app's token and key. What the answer means (only 200
//! is received; the body is not read, as WeCom ignores it) is
//! [`rollcall_core::delivery::outcome`]'s to decide.
//!
//! One attempt, no state: the delivery loop ([`super::deliver`]) builds on it.

use std::time::Duration;

use rollcall_callback::{MeetingEvent, MsgCrypt, Sealed};
use rollcall_core::callback::AppCallback;
use rollcall_core::delivery::Answer;
use rollcall_core::model::AppRef;

use super::verify::describe;

/// POST `event` to `target` for `app`, once, within `timeout` (WeCom's 5 s, less any
/// injected latency); the status it answered, or why there was no answer.
pub async fn send(
    http: &reqwest::Client,
    target: &AppCallback,
    app: &AppRef,
    event: &MeetingEvent,
    now: i64,
    timeout: Duration,
) -> Answer {
    let crypt = MsgCrypt::new(&target.token, target.aes_key.clone(), &app.corpid);
    let nonce = rand::random::<u32>().to_string();
    let sealed = Sealed::new(&crypt, app.agentid, &event.to_xml(), now, &nonce);
    let mut url = target.url.clone();
    {
        let q = &sealed.query;
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("msg_signature", &q.msg_signature);
        pairs.append_pair("timestamp", &q.timestamp);
        pairs.append_pair("nonce", &q.nonce);
    }
    match http
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .body(sealed.envelope.to_xml())
        .send()
        .await
    {
        Ok(resp) => Answer::Status(resp.status().as_u16()),
        Err(e) => Answer::NoAnswer(describe(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Query, State};
    use axum::http::StatusCode;
    use axum::routing::post;
    use rollcall_callback::{CallbackQuery, ChangeType, EncodingAesKey, Event, Receiver};
    use std::sync::{Arc, Mutex};

    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    type Seen = Arc<Mutex<Vec<Event>>>;

    async fn receiver(token: &str) -> (String, Seen) {
        async fn take(
            State((rx, seen)): State<(Arc<Receiver>, Seen)>,
            Query(q): Query<CallbackQuery>,
            body: String,
        ) -> StatusCode {
            match rx.receive(&q, &body) {
                Ok(got) => {
                    seen.lock().unwrap().push(got.event);
                    StatusCode::OK
                }
                Err(_) => StatusCode::FORBIDDEN,
            }
        }
        let key = EncodingAesKey::parse(KEY).unwrap();
        let rx = Arc::new(Receiver::new(MsgCrypt::new(token, key, "ww1")));
        let seen: Seen = Arc::default();
        let app = axum::Router::new()
            .route("/cb", post(take))
            .with_state((rx, seen.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, seen)
    }

    fn target(url: &str) -> AppCallback {
        rollcall_core::callback::parse(
            1,
            rollcall_core::callback::CallbackFields {
                url: Some(url),
                token: Some("tok"),
                aes_key: Some(KEY),
            },
        )
        .unwrap()
        .unwrap()
    }

    fn event() -> MeetingEvent {
        MeetingEvent {
            to_user_name: "ww1".into(),
            from_user_name: "sys".into(),
            from_user_tmp_open_id: None,
            operated_user: None,
            create_time: 1_760_000_000,
            change_type: ChangeType::CancelMeeting,
            meeting_id: "m1".into(),
        }
    }

    #[tokio::test]
    async fn a_receiver_gets_the_event_and_a_refusal_is_reported() {
        let app = AppRef {
            corpid: "ww1".into(),
            agentid: 1_000_002,
        };
        let http = super::super::verify::client();
        let (base, seen) = receiver("tok").await;
        let t = Duration::from_secs(5);
        let status = send(
            &http,
            &target(&format!("{base}/cb?k=v")),
            &app,
            &event(),
            5,
            t,
        )
        .await;
        assert_eq!(status, Answer::Status(200));
        assert_eq!(*seen.lock().unwrap(), vec![Event::Meeting(event())]);

        let (other, _) = receiver("another-token").await;
        let refused = send(&http, &target(&format!("{other}/cb")), &app, &event(), 5, t).await;
        assert_eq!(refused, Answer::Status(403));
    }
}
