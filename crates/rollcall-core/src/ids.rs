//! Generated identifiers: meeting ids, sub-meeting ids, token nonces, request ids.
//!
//! One [`IdGen`] per server. Seeded (`--seed N`), every value it produces is a function of
//! N and the order of requests, so an integration test sees the same ids on every run;
//! unseeded, it draws from the OS.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::sync::Mutex;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A thread-safe generator of random bytes and ids.
#[derive(Debug)]
pub struct IdGen {
    rng: Mutex<ChaCha20Rng>,
    /// The seed it was made with, if any: what [`Self::reset`] starts the sequence from.
    seed: Option<u64>,
}

impl IdGen {
    /// Random ids from the OS's entropy.
    pub fn random() -> Self {
        Self {
            rng: Mutex::new(ChaCha20Rng::from_entropy()),
            seed: None,
        }
    }

    /// Deterministic ids: the same seed and call order give the same values.
    pub fn seeded(seed: u64) -> Self {
        Self {
            rng: Mutex::new(ChaCha20Rng::seed_from_u64(seed)),
            seed: Some(seed),
        }
    }

    /// Start the sequence again (SPEC §9 reset): seeded, the next values are the first ones
    /// the seed gave; random, fresh entropy is drawn (there is no sequence to repeat).
    pub fn reset(&self) {
        let fresh = match self.seed {
            Some(seed) => ChaCha20Rng::seed_from_u64(seed),
            None => ChaCha20Rng::from_entropy(),
        };
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    fn with<T>(&self, f: impl FnOnce(&mut ChaCha20Rng) -> T) -> T {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut rng)
    }

    /// `N` random bytes.
    pub fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.with(|r| r.fill_bytes(&mut out));
        out
    }

    /// An alphanumeric string of `len` characters with `prefix`.
    pub fn token(&self, prefix: &str, len: usize) -> String {
        self.with(|r| {
            let mut s = String::with_capacity(prefix.len() + len);
            s.push_str(prefix);
            for _ in 0..len {
                s.push(ALPHABET[r.gen_range(0..ALPHABET.len())] as char);
            }
            s
        })
    }

    /// A WeCom-looking meeting id (`hy` + 30 characters).
    pub fn meetingid(&self) -> String {
        self.token("hy", 30)
    }

    /// A nine-digit meeting code, as WeCom shows users.
    pub fn meeting_code(&self) -> String {
        self.with(|r| format!("{:09}", r.gen_range(100_000_000u32..1_000_000_000)))
    }

    /// A request id as it appears in `hint: [...]`: the second and six hex digits.
    pub fn request_id(&self, now: i64) -> String {
        let n: u32 = self.with(|r| r.gen_range(0..0x100_0000));
        format!("{now}_{n:06x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_reset_repeats_the_sequence() {
        let ids = IdGen::seeded(7);
        let first = (ids.meetingid(), ids.bytes::<16>(), ids.request_id(1));
        ids.reset();
        assert_eq!(
            first,
            (ids.meetingid(), ids.bytes::<16>(), ids.request_id(1))
        );
    }
}
