//! The cryptographic pieces: the server secret, access tokens, `tmp_openid`, secret hashes.
//!
//! All derived values are HMAC-SHA256 under the server secret with a distinct label per use,
//! so a value of one kind can never be replayed as another. The server secret is created once
//! per store (atomically, so nodes sharing a database agree) and never leaves it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::Participant;

type HmacSha256 = Hmac<Sha256>;

/// Tokens are 43 characters of URL-safe base64 (256 bits); anything else is malformed.
pub const TOKEN_LEN: usize = 43;

/// The server's 256-bit secret. `Debug` does not print it.
///
/// Keeps the HMAC state already keyed with the secret: cloning it is cheaper than keying a
/// new one, and a page of attendees derives a hundred `tmp_openid`s.
#[derive(Clone)]
pub struct ServerSecret {
    keyed: HmacSha256,
}

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

impl ServerSecret {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self {
            keyed: HmacSha256::new_from_slice(&bytes).expect("HMAC takes any key length"),
        }
    }

    /// HMAC-SHA256 of `parts` under this secret, with a `label` that separates uses.
    pub fn mac(&self, label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut m = self.keyed.clone();
        m.update(label);
        for p in parts {
            // Length-prefix each part so that ("ab","c") and ("a","bc") differ.
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// The access token string for a stored nonce.
    pub fn token(&self, nonce: &[u8; 16]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(b"rollcall/access_token/v1", &[nonce]))
    }

    /// The per-meeting temporary id of a participant: stable within a meeting, different
    /// across meetings, and not derivable from the userid without this secret.
    pub fn tmp_openid(&self, meeting_key: i64, participant: &Participant) -> String {
        let kind = participant.kind_code().to_be_bytes();
        let mac = self.mac(
            b"rollcall/tmp_openid/v1",
            &[
                &meeting_key.to_be_bytes(),
                &kind,
                participant.id().as_bytes(),
            ],
        );
        format!("wo{}", URL_SAFE_NO_PAD.encode(&mac[..18]))
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The stored form of an app secret.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    sha256(secret.as_bytes())
}

/// Does `given` match the stored hash? Constant time in the hash comparison.
pub fn secret_matches(given: &str, stored_hash: &[u8; 32]) -> bool {
    hash_secret(given).ct_eq(stored_hash).into()
}

/// The lookup key of a token string, or `None` when it cannot be a token we issued.
pub fn token_hash(token: &str) -> Option<[u8; 32]> {
    if token.len() != TOKEN_LEN
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    Some(sha256(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_shape() {
        let s = ServerSecret::new([7; 32]);
        let t = s.token(&[1; 16]);
        assert_eq!(t.len(), TOKEN_LEN);
        assert_eq!(token_hash(&t), Some(sha256(t.as_bytes())));
        assert_ne!(t, s.token(&[2; 16]));
        assert_ne!(t, ServerSecret::new([8; 32]).token(&[1; 16]));
        assert_eq!(token_hash("short"), None);
        assert_eq!(token_hash(&format!("{}!", &t[..42])), None);
    }

    #[test]
    fn tmp_openid_is_per_meeting_and_per_participant() {
        let s = ServerSecret::new([7; 32]);
        let zs = Participant::Member("zhangsan".into());
        assert_eq!(s.tmp_openid(1, &zs), s.tmp_openid(1, &zs));
        assert_ne!(s.tmp_openid(1, &zs), s.tmp_openid(2, &zs));
        assert_ne!(
            s.tmp_openid(1, &zs),
            s.tmp_openid(1, &Participant::External("zhangsan".into()))
        );
        assert_ne!(
            s.tmp_openid(1, &zs),
            ServerSecret::new([9; 32]).tmp_openid(1, &zs)
        );
        assert!(!s.tmp_openid(1, &zs).contains("zhangsan"));
    }

    #[test]
    fn secrets_compare_by_hash() {
        let h = hash_secret("s3cret");
        assert!(secret_matches("s3cret", &h));
        assert!(!secret_matches("s3cret ", &h));
        assert!(!format!("{:?}", ServerSecret::new([1; 32])).contains('1'));
    }
}
