//! The EncodingAESKey: how an app's callback key is written, and the AES key it stands for.
//!
//! WeCom (加解密方案说明, <https://developer.work.weixin.qq.com/document/path/90968>):
//! "EncodingAESKey … 长度固定为43个字符 … 是AESKey的Base64编码", and
//! `AESKey = Base64_Decode(EncodingAESKey + "=")`, 32 bytes. The 43rd character carries two
//! bits the key does not use; WeCom's own keys leave them set (its sample key ends in `C`),
//! and its libraries ignore them, so decoding here ignores them too — a strict decoder
//! would refuse keys WeCom hands out.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Base64 as WeCom's libraries decode the key: padding required (the appended `=`),
/// trailing bits ignored.
const KEY_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The length WeCom fixes for an EncodingAESKey.
pub const ENCODING_AES_KEY_LEN: usize = 43;

/// Why a string is not an EncodingAESKey.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 43 characters.
    #[error("an EncodingAESKey has 43 characters, this one has {found}")]
    Length { found: usize },
    /// A character outside base64's alphabet (WeCom's keys use a-z, A-Z and 0-9).
    #[error("an EncodingAESKey is base64 (a-z, A-Z, 0-9), found {found:?} at position {position}")]
    Character { found: char, position: usize },
}

/// A validated EncodingAESKey: its text (as configured) and the 32-byte AES key.
///
/// `Debug` hides both: the key decrypts every callback of the app.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodingAesKey {
    text: String,
    aes: [u8; 32],
}

impl std::fmt::Debug for EncodingAesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncodingAesKey(<redacted>)")
    }
}

impl EncodingAesKey {
    /// Parse a configured key: exactly 43 base64 characters.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let found = text.chars().count();
        if found != ENCODING_AES_KEY_LEN {
            return Err(KeyError::Length { found });
        }
        if let Some((position, found)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '+' || *c == '/'))
        {
            return Err(KeyError::Character { found, position });
        }
        let mut padded = String::with_capacity(44);
        padded.push_str(text);
        padded.push('=');
        let bytes = KEY_ENGINE
            .decode(padded.as_bytes())
            // 43 characters of the alphabet plus "=" always decode (trailing bits allowed).
            .map_err(|_| KeyError::Length { found })?;
        let aes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length { found })?;
        Ok(Self {
            text: text.to_owned(),
            aes,
        })
    }

    /// The key that encodes these 32 AES bytes (e.g. a freshly generated one).
    pub fn from_aes_key(aes: [u8; 32]) -> Self {
        let text = base64::engine::general_purpose::STANDARD_NO_PAD.encode(aes);
        Self { text, aes }
    }

    /// A new random key, as WeCom's admin console generates one.
    pub fn generate() -> Self {
        Self::from_aes_key(rand::random())
    }

    /// The 43 characters, as configured (to store or show the owner).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The AES-256 key.
    pub fn aes_key(&self) -> &[u8; 32] {
        &self.aes
    }

    /// The CBC initialisation vector: WeCom uses the key's first 16 bytes.
    pub fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.aes[..16]);
        iv
    }
}

impl std::str::FromStr for EncodingAesKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WeCom's sample key (加解密方案说明 and the WXBizMsgCrypt samples).
    const SAMPLE: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    #[test]
    fn wecoms_sample_key_parses_despite_its_trailing_bits() {
        let key = EncodingAesKey::parse(SAMPLE).unwrap();
        assert_eq!(key.as_str(), SAMPLE);
        assert_eq!(key.iv(), key.aes_key()[..16]);
        // Re-encoding gives the canonical form, which differs only in the unused bits.
        let canonical = EncodingAesKey::from_aes_key(*key.aes_key());
        assert_eq!(canonical.aes_key(), key.aes_key());
        assert_eq!(canonical.as_str()[..42], SAMPLE[..42]);
    }

    #[test]
    fn wrong_lengths_and_characters_are_named() {
        assert_eq!(
            EncodingAesKey::parse(&SAMPLE[..42]),
            Err(KeyError::Length { found: 42 })
        );
        assert_eq!(
            EncodingAesKey::parse(&format!("{SAMPLE}=")),
            Err(KeyError::Length { found: 44 })
        );
        assert_eq!(
            EncodingAesKey::parse(""),
            Err(KeyError::Length { found: 0 })
        );
        let bad = format!("{}-{}", &SAMPLE[..10], &SAMPLE[11..]);
        assert_eq!(
            EncodingAesKey::parse(&bad),
            Err(KeyError::Character {
                found: '-',
                position: 10
            })
        );
        // Multi-byte characters count as one each.
        let wide = format!("{}é", &SAMPLE[..42]);
        assert_eq!(
            EncodingAesKey::parse(&wide),
            Err(KeyError::Character {
                found: 'é',
                position: 42
            })
        );
    }

    #[test]
    fn generated_keys_round_trip() {
        let key = EncodingAesKey::generate();
        assert_eq!(key.as_str().len(), 43);
        assert_eq!(EncodingAesKey::parse(key.as_str()).unwrap(), key);
    }

    #[test]
    fn debug_hides_the_key() {
        let key = EncodingAesKey::parse(SAMPLE).unwrap();
        assert!(!format!("{key:?}").contains(&SAMPLE[..8]));
    }
}
