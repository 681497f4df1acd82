//! Snapshot names (SPEC §9): `[A-Za-z0-9_.-]{1,64}`.
//!
//! Checked here, once, before a name reaches a store, so both backends and the admin API
//! refuse the same names with the same reason. The alphabet has no `/` and no NUL, so a name
//! is also safe as a file name inside the SQLite store's snapshot directory.

/// The longest name allowed.
pub const MAX_NAME_LEN: usize = 64;

/// `Ok` for a valid snapshot name, else the reason (for a 400 `{"error": …}`).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("snapshot name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "snapshot name is {} bytes long; at most {MAX_NAME_LEN} are allowed",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        Some(c) => Err(format!(
            "snapshot name has {c:?}: only A-Z, a-z, 0-9, '_', '.' and '-' are allowed"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_alphabet_and_length_pass() {
        for ok in ["a", "before-test_1.2", "...", &"x".repeat(64), "Z9"] {
            assert_eq!(validate_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn other_names_are_refused_with_a_reason() {
        for bad in ["", &"x".repeat(65), "a/b", "a b", "é", "a\0", "../x", "名"] {
            let err = validate_name(bad).expect_err(bad);
            assert!(err.contains("snapshot name"), "{bad}: {err}");
        }
    }
}
