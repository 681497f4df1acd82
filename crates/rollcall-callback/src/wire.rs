//! The callback as it travels (接收消息与事件 / 回调配置,
//! <https://developer.work.weixin.qq.com/document/path/90930>):
//!
//! - URL verification: `GET <url>?msg_signature=…&timestamp=…&nonce=…&echostr=<ciphertext>`;
//!   the receiver checks the signature over the echostr, decrypts it and answers the
//!   plaintext as the whole body (no quotes, no BOM, no newline).
//! - Each callback: `POST <url>?msg_signature=…&timestamp=…&nonce=…` with the [`Envelope`]
//!   `<xml><ToUserName/><AgentID/><Encrypt/></xml>`; the signature covers `Encrypt`.
//!
//! Both sides are here: [`Sealed`] / [`UrlCheck`] for the sender, [`Receiver`] for an app.

use serde::{Deserialize, Serialize};

use crate::crypt::{CryptoError, MsgCrypt};
use crate::event::Event;
use crate::xml::{self, XmlError};

/// WeCom's wait for the receiver's answer (5 seconds, then it retries).
pub const TIMEOUT_SECS: u64 = 5;

/// The query string of a callback request (`echostr` only on URL verification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackQuery {
    pub msg_signature: String,
    pub timestamp: String,
    pub nonce: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echostr: Option<String>,
}

impl CallbackQuery {
    /// Parse a raw (percent-encoded) query string, as the part of a URL after `?`.
    pub fn from_query_str(query: &str) -> Result<Self, CallbackError> {
        serde_urlencoded::from_str(query).map_err(|e| CallbackError::Query(e.to_string()))
    }

    /// The percent-encoded query string.
    pub fn to_query_string(&self) -> String {
        serde_urlencoded::to_string(self).expect("four strings always encode")
    }
}

/// The POST body: `<xml><ToUserName/><AgentID/><Encrypt/></xml>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The corpid.
    pub to_user_name: String,
    /// The app's agentid, as text (WeCom writes it in CDATA).
    pub agent_id: String,
    /// The base64 ciphertext the signature covers.
    pub encrypt: String,
}

impl Envelope {
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<xml>");
        xml::push_text(&mut out, "ToUserName", &self.to_user_name);
        xml::push_text(&mut out, "AgentID", &self.agent_id);
        xml::push_text(&mut out, "Encrypt", &self.encrypt);
        out.push_str("</xml>");
        out
    }

    /// Parse a body; only `Encrypt` is required (receivers ignore the rest, as WeCom's
    /// libraries do).
    pub fn parse(body: &str) -> Result<Self, XmlError> {
        let doc = xml::parse(body)?;
        Ok(Self {
            to_user_name: doc.text_of("ToUserName").unwrap_or_default().to_owned(),
            agent_id: doc.text_of("AgentID").unwrap_or_default().to_owned(),
            encrypt: doc.required("Encrypt")?.to_owned(),
        })
    }
}

/// One encrypted, signed callback ready to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub query: CallbackQuery,
    pub envelope: Envelope,
}

impl Sealed {
    /// Encrypt and sign `plain_xml` for an app.
    pub fn new(
        crypt: &MsgCrypt,
        agentid: u32,
        plain_xml: &str,
        timestamp: i64,
        nonce: &str,
    ) -> Self {
        let encrypt = crypt.encrypt(plain_xml.as_bytes());
        let timestamp = timestamp.to_string();
        let msg_signature = crypt.sign(&timestamp, nonce, &encrypt);
        Self {
            query: CallbackQuery {
                msg_signature,
                timestamp,
                nonce: nonce.to_owned(),
                echostr: None,
            },
            envelope: Envelope {
                to_user_name: crypt.receive_id().to_owned(),
                agent_id: agentid.to_string(),
                encrypt,
            },
        }
    }
}

/// The sender's side of URL verification: the query to send and the answer to expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCheck {
    pub query: CallbackQuery,
    /// The echostr plaintext the receiver must answer.
    pub expected: String,
}

impl UrlCheck {
    /// A check with a fresh random echostr (WeCom's are decimal digit strings).
    pub fn new(crypt: &MsgCrypt, timestamp: i64, nonce: &str) -> Self {
        let expected = rand::random::<u64>().to_string();
        let echostr = crypt.encrypt(expected.as_bytes());
        let timestamp = timestamp.to_string();
        let msg_signature = crypt.sign(&timestamp, nonce, &echostr);
        Self {
            query: CallbackQuery {
                msg_signature,
                timestamp,
                nonce: nonce.to_owned(),
                echostr: Some(echostr),
            },
            expected,
        }
    }

    /// Whether the receiver's body is the echostr plaintext (exactly, as WeCom demands).
    pub fn accepts(&self, body: &[u8]) -> bool {
        body == self.expected.as_bytes()
    }
}

/// Why a callback request was refused by a [`Receiver`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The query string lacks a parameter or is malformed.
    #[error("bad callback query: {0}")]
    Query(String),
    /// A URL verification request without `echostr`.
    #[error("the URL verification request has no echostr")]
    NoEchostr,
    /// The body is not the callback envelope, or the decrypted message is not its XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Signature, ciphertext or receiveid refused.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// A decrypted callback: the message's XML as sent, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub xml: String,
    pub event: Event,
}

/// An app's side: verifies and decrypts what WeCom (or rollcall) sends to its callback URL.
#[derive(Debug, Clone)]
pub struct Receiver {
    crypt: MsgCrypt,
}

impl Receiver {
    pub fn new(crypt: MsgCrypt) -> Self {
        Self { crypt }
    }

    /// Answer URL verification: the decrypted echostr, to send back as the whole body.
    pub fn verify_url(&self, query: &CallbackQuery) -> Result<String, CallbackError> {
        let echostr = query.echostr.as_deref().ok_or(CallbackError::NoEchostr)?;
        Ok(self.crypt.open(
            &query.msg_signature,
            &query.timestamp,
            &query.nonce,
            echostr,
        )?)
    }

    /// Verify and decrypt one callback POST and parse its message.
    pub fn receive(&self, query: &CallbackQuery, body: &str) -> Result<Received, CallbackError> {
        let envelope = Envelope::parse(body)?;
        let xml = self.crypt.open(
            &query.msg_signature,
            &query.timestamp,
            &query.nonce,
            &envelope.encrypt,
        )?;
        let event = Event::from_xml(&xml)?;
        Ok(Received { xml, event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ChangeType, MeetingEvent};
    use crate::key::EncodingAesKey;

    fn crypt() -> MsgCrypt {
        MsgCrypt::new(
            "QDG6eK",
            EncodingAesKey::parse("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").unwrap(),
            "wx5823bf96d3bd56c7",
        )
    }

    fn event() -> MeetingEvent {
        MeetingEvent {
            to_user_name: "wx5823bf96d3bd56c7".into(),
            from_user_name: "sys".into(),
            from_user_tmp_open_id: None,
            operated_user: None,
            create_time: 1_409_659_813,
            change_type: ChangeType::MeetingEnd,
            meeting_id: "m1".into(),
        }
    }

    #[test]
    fn wecoms_published_query_parses_and_verifies() {
        let raw = "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589\
                   &nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D";
        let query = CallbackQuery::from_query_str(raw).unwrap();
        let receiver = Receiver::new(crypt());
        assert_eq!(receiver.verify_url(&query).unwrap(), "1616140317555161061");
    }

    #[test]
    fn sealed_callbacks_are_received() {
        let sealed = Sealed::new(&crypt(), 218, &event().to_xml(), 1_409_659_813, "n1");
        assert_eq!(sealed.envelope.agent_id, "218");
        let body = sealed.envelope.to_xml();
        let got = Receiver::new(crypt())
            .receive(&sealed.query, &body)
            .unwrap();
        assert_eq!(got.event, Event::Meeting(event()));
        assert_eq!(got.xml, event().to_xml());
        // The query survives its own encoding.
        let reparsed = CallbackQuery::from_query_str(&sealed.query.to_query_string()).unwrap();
        assert_eq!(reparsed, sealed.query);
    }

    #[test]
    fn url_checks_round_trip_and_refuse_wrong_answers() {
        let check = UrlCheck::new(&crypt(), 1, "n");
        let answer = Receiver::new(crypt()).verify_url(&check.query).unwrap();
        assert!(check.accepts(answer.as_bytes()));
        assert!(!check.accepts(format!("{answer}\n").as_bytes()));
        assert!(!check.accepts(b""));
    }

    #[test]
    fn receivers_refuse_tampering() {
        let sealed = Sealed::new(&crypt(), 1, &event().to_xml(), 5, "n");
        let body = sealed.envelope.to_xml();
        let receiver = Receiver::new(crypt());
        let mut query = sealed.query.clone();
        query.nonce.push('x');
        assert_eq!(
            receiver.receive(&query, &body),
            Err(CallbackError::Crypto(CryptoError::Signature))
        );
        let no_echo = CallbackQuery {
            echostr: None,
            ..sealed.query.clone()
        };
        assert_eq!(receiver.verify_url(&no_echo), Err(CallbackError::NoEchostr));
        assert!(matches!(
            receiver.receive(&sealed.query, "<xml></xml>"),
            Err(CallbackError::Xml(XmlError::Missing("Encrypt")))
        ));
        assert!(matches!(
            CallbackQuery::from_query_str("timestamp=1"),
            Err(CallbackError::Query(_))
        ));
    }
}
