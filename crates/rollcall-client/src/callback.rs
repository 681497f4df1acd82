//! Receiving WeCom's callbacks (回调) in a Rust app: URL verification and the encrypted
//! meeting events, from WeCom itself or from rollcall (the bytes are the same).
//!
//! A [`CallbackReceiver`] holds what the app configured next to its callback URL — the
//! Token, the 43-character EncodingAESKey — and the corpid the messages must be for. It
//! checks `msg_signature` (constant time), decrypts (AES-256-CBC, WeCom's framing), checks
//! the corpid inside, and parses the event; every refusal is a typed [`CallbackError`].
//!
//! What to answer WeCom: on `GET` (URL verification) the decrypted echostr as the whole
//! body, exactly; on `POST` any 2xx within 5 seconds (WeCom retries otherwise), so do the
//! slow part of handling an event after answering, and deduplicate on
//! `FromUserName + CreateTime` (WeCom's advice for events), since delivery is at least once.
//!
//! # An axum handler
//!
//! ```no_run
//! use axum::extract::{Query, State};
//! use axum::http::StatusCode;
//! use axum::routing::get;
//! use axum::Router;
//! use rollcall_client::callback::{CallbackQuery, CallbackReceiver, ChangeType, Event};
//! use std::sync::Arc;
//!
//! // GET: WeCom checks the URL; answer the decrypted echostr.
//! async fn verify(
//!     State(rx): State<Arc<CallbackReceiver>>,
//!     Query(query): Query<CallbackQuery>,
//! ) -> Result<String, StatusCode> {
//!     rx.verify_url(&query).map_err(|_| StatusCode::FORBIDDEN)
//! }
//!
//! // POST: one encrypted event.
//! async fn event(
//!     State(rx): State<Arc<CallbackReceiver>>,
//!     Query(query): Query<CallbackQuery>,
//!     body: String,
//! ) -> StatusCode {
//!     match rx.receive(&query, &body) {
//!         Ok(received) => {
//!             if let Event::Meeting(e) = received.event {
//!                 if e.change_type == ChangeType::MeetingEnd {
//!                     // Time to fetch the attendee list of e.meeting_id (after answering).
//!                     tokio::spawn(async move { println!("ended: {}", e.meeting_id) });
//!                 }
//!             }
//!             StatusCode::OK
//!         }
//!         // Forged or not for this app: refuse (WeCom would not have sent it).
//!         Err(_) => StatusCode::FORBIDDEN,
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let rx = CallbackReceiver::new(
//!     "the-token",
//!     "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
//!     "wwa1b2c3d4e5f60001",
//! )?;
//! let app = Router::new()
//!     .route("/wecom/callback", get(verify).post(event))
//!     .with_state(Arc::new(rx));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

pub use rollcall_callback::{
    CallbackError, CallbackQuery, ChangeType, CryptoError, EncodingAesKey, Event, KeyError,
    MeetingEvent, OperatedUser, Received, XmlError,
};

use rollcall_callback::{MsgCrypt, Receiver};

/// Verifies and decrypts the callbacks of one app.
#[derive(Debug, Clone)]
pub struct CallbackReceiver {
    inner: Receiver,
}

impl CallbackReceiver {
    /// `token` and `encoding_aes_key` as configured for the app's callback URL; `corpid`
    /// is the corp the messages must be for (the receiveid of a 自建应用).
    pub fn new(token: &str, encoding_aes_key: &str, corpid: &str) -> Result<Self, KeyError> {
        let key = EncodingAesKey::parse(encoding_aes_key)?;
        Ok(Self {
            inner: Receiver::new(MsgCrypt::new(token, key, corpid)),
        })
    }

    /// Answer URL verification (`GET ?msg_signature&timestamp&nonce&echostr`): the
    /// decrypted echostr, to send back as the whole body.
    pub fn verify_url(&self, query: &CallbackQuery) -> Result<String, CallbackError> {
        self.inner.verify_url(query)
    }

    /// Verify, decrypt and parse one callback (`POST ?msg_signature&timestamp&nonce` with
    /// the `<xml><ToUserName/><AgentID/><Encrypt/></xml>` body). The decrypted XML comes
    /// back too, for messages this crate does not model.
    pub fn receive(&self, query: &CallbackQuery, body: &str) -> Result<Received, CallbackError> {
        self.inner.receive(query, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_wecoms_published_verification_request() {
        let rx = CallbackReceiver::new(
            "QDG6eK",
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "wx5823bf96d3bd56c7",
        )
        .unwrap();
        let query = CallbackQuery::from_query_str(
            "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589\
             &nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D",
        )
        .unwrap();
        assert_eq!(rx.verify_url(&query).unwrap(), "1616140317555161061");
    }

    #[test]
    fn a_bad_key_is_refused_up_front() {
        assert_eq!(
            CallbackReceiver::new("t", "short", "ww").unwrap_err(),
            KeyError::Length { found: 5 }
        );
    }
}
