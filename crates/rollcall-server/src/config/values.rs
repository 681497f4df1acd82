//! The typed values of the file's keys that are more than a string or a number: a
//! [`Secret`] (never shown by `Debug`, never empty) and a [`ClockSpec`]. The command line
//! parses the same types from its flags (`FromStr`), so both layers refuse the same values
//! with the same words.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// A key or secret: printable when the program means to (`expose`), never by `Debug`, so
/// it cannot leak into logs through a derived `Debug` of a struct holding it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.to_owned().try_into()
    }
}

/// An empty key would make `Authorization: Bearer ` a valid credential: refuse it.
impl TryFrom<String> for Secret {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty() {
            return Err("a key or secret must not be empty".into());
        }
        Ok(Self(s))
    }
}

/// Which clock the server reads (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum ClockSpec {
    /// The machine's wall clock.
    #[default]
    System,
    /// A clock that moves only when told to, starting at the given unix seconds (or at the
    /// current time when none is given).
    Virtual(Option<i64>),
}

impl FromStr for ClockSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("clock {s:?} is not `system`, `virtual` or `virtual:<unix secs>`");
        match s {
            "system" => Ok(ClockSpec::System),
            "virtual" => Ok(ClockSpec::Virtual(None)),
            _ => {
                let t = s.strip_prefix("virtual:").ok_or_else(bad)?;
                let t: u32 = t.parse().map_err(|_| bad())?;
                Ok(ClockSpec::Virtual(Some(i64::from(t))))
            }
        }
    }
}

impl TryFrom<String> for ClockSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_spec_parses() {
        assert_eq!("system".parse(), Ok(ClockSpec::System));
        assert_eq!("virtual".parse(), Ok(ClockSpec::Virtual(None)));
        assert_eq!("virtual:5".parse(), Ok(ClockSpec::Virtual(Some(5))));
        for bad in [
            "",
            "virtual:",
            "virtual:-1",
            "virtual:1.5",
            "System",
            "wall",
        ] {
            assert!(bad.parse::<ClockSpec>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
    }
}
