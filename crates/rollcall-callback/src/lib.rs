//! WeCom's callbacks (回调) as a library both ends use: rollcall's server sends them, an
//! app (through `rollcall_client::callback`) receives them — from rollcall or from WeCom,
//! since the bytes are the same.
//!
//! No I/O here: values in, values out. The crypto is WeCom's WXBizMsgCrypt scheme on the
//! RustCrypto crates (`aes`, `cbc`, `sha1`); the XML is read with quick-xml.
//!
//! Pages followed:
//! - 加解密方案说明 <https://developer.work.weixin.qq.com/document/path/90968>
//!   (third-party copy: path/91144) — key, cipher, padding to 32, framing, signature;
//! - 接收消息与事件 / 回调配置 <https://developer.work.weixin.qq.com/document/path/90930>
//!   — URL verification, the envelope, the 5-second answer;
//! - 会议 › 回调通知 <https://developer.work.weixin.qq.com/document/path/99103> and the event
//!   pages listed on [`event::ChangeType`].
//!
//! # Layout
//! - [`key`]: [`EncodingAesKey`] (43 characters → 32-byte AES key), [`KeyError`].
//! - [`crypt`]: [`MsgCrypt`] (encrypt, decrypt, sign, verify), [`CryptoError`] with
//!   WXBizMsgCrypt's codes.
//! - [`xml`]: the flat callback XML, parsed with quick-xml; CDATA-safe writing.
//! - [`event`]: [`MeetingEvent`], [`ChangeType`], [`Event`].
//! - [`wire`]: [`CallbackQuery`], [`Envelope`], [`Sealed`] and [`UrlCheck`] (sender),
//!   [`Receiver`] (app), [`CallbackError`].
#![forbid(unsafe_code)]

pub mod crypt;
pub mod event;
pub mod key;
pub mod wire;
pub mod xml;

pub use crypt::{signature, CryptoError, MsgCrypt};
pub use event::{ChangeType, Event, MeetingEvent, OperatedUser};
pub use key::{EncodingAesKey, KeyError};
pub use wire::{
    CallbackError, CallbackQuery, Envelope, Received, Receiver, Sealed, UrlCheck, TIMEOUT_SECS,
};
pub use xml::XmlError;
