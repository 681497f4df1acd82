//! WeCom's message crypto, as its WXBizMsgCrypt libraries do it
//! (加解密方案说明, <https://developer.work.weixin.qq.com/document/path/90968>):
//!
//! - ciphertext = base64(AES-256-CBC(key, iv = key[..16],
//!   PKCS#7-to-32(random(16) ‖ u32be(len(msg)) ‖ msg ‖ receiveid)));
//! - `msg_signature` = hex(SHA-1(concat(sort([token, timestamp, nonce, ciphertext])))).
//!
//! The padding block is **32** bytes (WeCom's `block_size = 32`), not AES's 16, so the
//! padding is done here and the cipher runs without one. Decryption checks everything it
//! can and returns a typed error for each failure; no input makes it panic (a proptest
//! feeds it arbitrary bytes).

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use crate::key::EncodingAesKey;

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

/// WeCom's PKCS#7 block: plaintexts are padded to a multiple of 32 bytes.
pub const PAD_BLOCK: usize = 32;
/// The random prefix of every plaintext.
const RANDOM_LEN: usize = 16;
/// Random prefix plus the 4-byte length.
const HEADER_LEN: usize = RANDOM_LEN + 4;

/// Why a callback could not be verified or decrypted. [`CryptoError::code`] gives the
/// WXBizMsgCrypt error code a WeCom library reports for the same failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// `msg_signature` does not match (forged, tampered, or the wrong token).
    #[error("msg_signature does not match the token, timestamp, nonce and ciphertext")]
    Signature,
    /// The ciphertext is not base64.
    #[error("the ciphertext is not base64")]
    Base64,
    /// The ciphertext is not a whole number of AES blocks (or is empty).
    #[error("the ciphertext is {len} bytes, not a positive multiple of 16")]
    CiphertextLength { len: usize },
    /// The decrypted padding is not PKCS#7 with 1..=32 bytes (the wrong key, or tampering).
    #[error("bad padding after decryption (the wrong EncodingAESKey?)")]
    Padding,
    /// The length field points outside the plaintext.
    #[error("the message length field ({declared}) does not fit the {available} bytes decrypted")]
    MessageLength { declared: u32, available: usize },
    /// The plaintext names another receiver (corpid): meant for someone else.
    #[error("the message is for receiveid {found:?}, not this corp")]
    ReceiveId { found: String },
    /// The message is not UTF-8 (WeCom's messages are UTF-8 XML).
    #[error("the decrypted message is not UTF-8")]
    Utf8,
}

impl CryptoError {
    /// WXBizMsgCrypt's code: -40001 signature, -40005 corpid, -40007 decrypt, -40008 buffer,
    /// -40010 base64.
    pub fn code(&self) -> i32 {
        match self {
            CryptoError::Signature => -40001,
            CryptoError::ReceiveId { .. } => -40005,
            CryptoError::CiphertextLength { .. } | CryptoError::Padding => -40007,
            CryptoError::MessageLength { .. } | CryptoError::Utf8 => -40008,
            CryptoError::Base64 => -40010,
        }
    }
}

/// SHA-1 hex of the four values sorted and concatenated: WeCom's `msg_signature`.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypt];
    parts.sort_unstable();
    let mut sha = Sha1::new();
    for p in parts {
        sha.update(p.as_bytes());
    }
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One app's callback crypto: its token, key and the receiveid (the corpid for a 自建应用).
#[derive(Clone)]
pub struct MsgCrypt {
    token: String,
    key: EncodingAesKey,
    receive_id: String,
}

impl std::fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgCrypt")
            .field("token", &"<redacted>")
            .field("key", &self.key)
            .field("receive_id", &self.receive_id)
            .finish()
    }
}

impl MsgCrypt {
    pub fn new(
        token: impl Into<String>,
        key: EncodingAesKey,
        receive_id: impl Into<String>,
    ) -> Self {
        Self {
            token: token.into(),
            key,
            receive_id: receive_id.into(),
        }
    }

    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    /// The `msg_signature` of a ciphertext under this app's token.
    pub fn sign(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        signature(&self.token, timestamp, nonce, encrypt)
    }

    /// Check a `msg_signature` in constant time (hex compared case-insensitively).
    pub fn verify(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<(), CryptoError> {
        let expected = self.sign(timestamp, nonce, encrypt);
        let given = msg_signature.to_ascii_lowercase();
        if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(CryptoError::Signature)
        }
    }

    /// Encrypt `msg` with a fresh random prefix.
    pub fn encrypt(&self, msg: &[u8]) -> String {
        self.encrypt_with(msg, rand::random())
    }

    /// Encrypt `msg` with the given 16-byte random prefix (tests use a fixed one).
    pub fn encrypt_with(&self, msg: &[u8], random: [u8; RANDOM_LEN]) -> String {
        let len = u32::try_from(msg.len()).expect("a callback message is far below 4 GiB");
        let mut plain =
            Vec::with_capacity(HEADER_LEN + msg.len() + self.receive_id.len() + PAD_BLOCK);
        plain.extend_from_slice(&random);
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(msg);
        plain.extend_from_slice(self.receive_id.as_bytes());
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        plain.resize(plain.len() + pad, pad as u8);
        let n = plain.len();
        let cipher = Encryptor::new(self.key.aes_key().into(), &self.key.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut plain, n)
            .expect("the plaintext is padded to whole blocks");
        STANDARD.encode(cipher)
    }

    /// Decrypt a base64 ciphertext and return the message, checking the padding, the length
    /// field and that the receiveid is this app's corp.
    pub fn decrypt(&self, encrypt: &str) -> Result<Vec<u8>, CryptoError> {
        let mut buf = STANDARD
            .decode(encrypt.trim().as_bytes())
            .map_err(|_| CryptoError::Base64)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError::CiphertextLength { len: buf.len() });
        }
        let plain = Decryptor::new(self.key.aes_key().into(), &self.key.iv().into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::CiphertextLength { len: encrypt.len() })?;
        let pad = usize::from(*plain.last().ok_or(CryptoError::Padding)?);
        if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
            return Err(CryptoError::Padding);
        }
        let (content, padding) = plain.split_at(plain.len() - pad);
        if padding.iter().any(|&b| usize::from(b) != pad) {
            return Err(CryptoError::Padding);
        }
        if content.len() < HEADER_LEN {
            return Err(CryptoError::MessageLength {
                declared: 0,
                available: content.len(),
            });
        }
        let declared = u32::from_be_bytes([content[16], content[17], content[18], content[19]]);
        let rest = &content[HEADER_LEN..];
        let msg_len = usize::try_from(declared).unwrap_or(usize::MAX);
        if msg_len > rest.len() {
            return Err(CryptoError::MessageLength {
                declared,
                available: rest.len(),
            });
        }
        let (msg, receive_id) = rest.split_at(msg_len);
        if !bool::from(receive_id.ct_eq(self.receive_id.as_bytes())) {
            return Err(CryptoError::ReceiveId {
                found: String::from_utf8_lossy(receive_id).into_owned(),
            });
        }
        Ok(msg.to_vec())
    }

    /// Verify and decrypt in one step, as WXBizMsgCrypt's `DecryptMsg` / `VerifyURL` do.
    pub fn open(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<String, CryptoError> {
        self.verify(msg_signature, timestamp, nonce, encrypt)?;
        String::from_utf8(self.decrypt(encrypt)?).map_err(|_| CryptoError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WeCom's published sample (加解密方案说明; the WXBizMsgCrypt samples): URL
    /// verification with token `QDG6eK`, corpid `wx5823bf96d3bd56c7`.
    const TOKEN: &str = "QDG6eK";
    const CORPID: &str = "wx5823bf96d3bd56c7";
    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    const ECHOSTR: &str =
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";

    fn crypt() -> MsgCrypt {
        MsgCrypt::new(TOKEN, EncodingAesKey::parse(KEY).unwrap(), CORPID)
    }

    #[test]
    fn wecoms_published_url_verification_vector() {
        let c = crypt();
        assert_eq!(
            c.sign("1409659589", "263014780", ECHOSTR),
            "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
        );
        let echo = c
            .open(
                "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
                "1409659589",
                "263014780",
                ECHOSTR,
            )
            .unwrap();
        assert_eq!(echo, "1616140317555161061");
    }

    #[test]
    fn round_trips_and_pads_to_32() {
        let c = crypt();
        for len in [0usize, 1, 11, 12, 13, 31, 32, 33, 100, 1000] {
            let msg = vec![b'x'; len];
            let enc = c.encrypt(&msg);
            let raw = STANDARD.decode(&enc).unwrap();
            assert_eq!(raw.len() % PAD_BLOCK, 0, "len {len}");
            // A full 32-byte pad block when the plaintext is already a multiple of 32.
            let unpadded = HEADER_LEN + len + CORPID.len();
            assert_eq!(raw.len(), unpadded + (PAD_BLOCK - unpadded % PAD_BLOCK));
            assert_eq!(c.decrypt(&enc).unwrap(), msg);
        }
    }

    #[test]
    fn a_fixed_random_prefix_is_deterministic() {
        let c = crypt();
        assert_eq!(
            c.encrypt_with(b"hi", [7; 16]),
            c.encrypt_with(b"hi", [7; 16])
        );
        assert_ne!(c.encrypt(b"hi"), c.encrypt(b"hi"));
    }

    #[test]
    fn tampered_signatures_are_refused() {
        let c = crypt();
        let good = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3";
        assert!(c.verify(good, "1409659589", "263014780", ECHOSTR).is_ok());
        assert!(c
            .verify(&good.to_uppercase(), "1409659589", "263014780", ECHOSTR)
            .is_ok());
        let bad = format!("{}4", &good[..39]);
        assert_eq!(
            c.verify(&bad, "1409659589", "263014780", ECHOSTR),
            Err(CryptoError::Signature)
        );
        assert_eq!(
            c.verify(good, "1409659590", "263014780", ECHOSTR),
            Err(CryptoError::Signature)
        );
        assert_eq!(c.verify("", "1", "2", ECHOSTR), Err(CryptoError::Signature));
        let other_token = MsgCrypt::new("x", EncodingAesKey::parse(KEY).unwrap(), CORPID);
        assert_eq!(
            other_token.open(good, "1409659589", "263014780", ECHOSTR),
            Err(CryptoError::Signature)
        );
    }

    #[test]
    fn another_corp_is_refused() {
        let c = crypt();
        let other = MsgCrypt::new(TOKEN, EncodingAesKey::parse(KEY).unwrap(), "wwother");
        let enc = other.encrypt(b"<xml/>");
        assert_eq!(
            c.decrypt(&enc),
            Err(CryptoError::ReceiveId {
                found: "wwother".into()
            })
        );
        assert_eq!(c.decrypt(&enc).unwrap_err().code(), -40005);
    }

    /// Encrypt raw plaintext bytes (already a multiple of 16) without any framing.
    fn raw_encrypt(plain: &[u8]) -> String {
        let key = EncodingAesKey::parse(KEY).unwrap();
        let mut buf = plain.to_vec();
        let n = buf.len();
        let out = Encryptor::new(key.aes_key().into(), &key.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, n)
            .unwrap()
            .to_vec();
        STANDARD.encode(out)
    }

    #[test]
    fn bad_padding_and_lengths_are_refused() {
        let c = crypt();
        // Last byte 0, and 33: outside 1..=32.
        let mut p = vec![1u8; 64];
        p[63] = 0;
        assert_eq!(c.decrypt(&raw_encrypt(&p)), Err(CryptoError::Padding));
        p[63] = 33;
        assert_eq!(c.decrypt(&raw_encrypt(&p)), Err(CryptoError::Padding));
        // Pad 4 but the bytes before it are not all 4.
        let mut p = vec![9u8; 64];
        p[60..].copy_from_slice(&[4, 3, 4, 4]);
        assert_eq!(c.decrypt(&raw_encrypt(&p)), Err(CryptoError::Padding));
        // A length field larger than what follows.
        let mut p = vec![0u8; 64];
        p[16..20].copy_from_slice(&1000u32.to_be_bytes());
        p[48..].fill(16);
        assert!(matches!(
            c.decrypt(&raw_encrypt(&p)),
            Err(CryptoError::MessageLength { declared: 1000, .. })
        ));
        // Too short for the header.
        let p = [16u8; 16];
        assert!(matches!(
            c.decrypt(&raw_encrypt(&p)),
            Err(CryptoError::MessageLength { .. })
        ));
        assert_eq!(c.decrypt("not base64!"), Err(CryptoError::Base64));
        assert_eq!(
            c.decrypt(&STANDARD.encode([0u8; 15])),
            Err(CryptoError::CiphertextLength { len: 15 })
        );
        assert_eq!(c.decrypt(""), Err(CryptoError::CiphertextLength { len: 0 }));
    }

    #[test]
    fn the_wrong_key_fails_cleanly() {
        let enc = crypt().encrypt(b"<xml>hello</xml>");
        let wrong = MsgCrypt::new(TOKEN, EncodingAesKey::generate(), CORPID);
        // Almost always bad padding; whatever it is, an error and no panic.
        assert!(wrong.decrypt(&enc).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let c = crypt();
            let _ = c.decrypt(&STANDARD.encode(&bytes));
            let _ = c.decrypt(&String::from_utf8_lossy(&bytes));
            let _ = c.open("sig", "1", "2", &String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn arbitrary_blocks_never_panic(blocks in proptest::collection::vec(proptest::num::u8::ANY, 1..20)) {
            // Whole AES blocks, so decryption runs and the padding / length checks are hit.
            let c = crypt();
            let raw: Vec<u8> = blocks.iter().flat_map(|b| std::iter::repeat_n(*b, 16)).collect();
            let _ = c.decrypt(&STANDARD.encode(raw));
        }

        #[test]
        fn round_trip(msg in proptest::collection::vec(proptest::num::u8::ANY, 0..500)) {
            let c = crypt();
            proptest::prop_assert_eq!(c.decrypt(&c.encrypt(&msg)).unwrap(), msg);
        }
    }
}
