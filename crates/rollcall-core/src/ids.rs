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
    /// Seeded: the generator as it was at the start (see [`Self::mark_start`]), what
    /// [`Self::reset`] goes back to. `None`: random, nothing to repeat.
    start: Mutex<Option<ChaCha20Rng>>,
}

impl IdGen {
    /// Random ids from the OS's entropy.
    pub fn random() -> Self {
        Self {
            rng: Mutex::new(ChaCha20Rng::from_entropy()),
            start: Mutex::new(None),
        }
    }

    /// Deterministic ids: the same seed and call order give the same values.
    pub fn seeded(seed: u64) -> Self {
        Self {
            rng: Mutex::new(ChaCha20Rng::seed_from_u64(seed)),
            start: Mutex::new(Some(ChaCha20Rng::seed_from_u64(seed))),
        }
    }

    /// Seeded: make the current position the start [`Self::reset`] returns to. The server
    /// calls it once it has drawn what a start-up draws (a candidate server secret), so a
    /// reset repeats the requests' values, not the start-up's.
    pub fn mark_start(&self) {
        let now = self.rng.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut start = self.start.lock().unwrap_or_else(|p| p.into_inner());
        if start.is_some() {
            *start = Some(now);
        }
    }

    /// Start the sequence again (SPEC §9 reset): seeded, the next values are the ones that
    /// followed the start; random, fresh entropy is drawn (there is no sequence to repeat).
    pub fn reset(&self) {
        let start = self.start.lock().unwrap_or_else(|p| p.into_inner()).clone();
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) =
            start.unwrap_or_else(ChaCha20Rng::from_entropy);
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
        let _startup: [u8; 32] = ids.bytes();
        ids.mark_start();
        let first = (ids.meetingid(), ids.bytes::<16>(), ids.request_id(1));
        ids.reset();
        assert_eq!(
            first,
            (ids.meetingid(), ids.bytes::<16>(), ids.request_id(1))
        );
    }
}
