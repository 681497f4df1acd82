//! The config file as the binary meets it: read from disk, then parsed and located by
//! [`rollcall_server::config`] (pure: text → typed config, or `<file>:<line>: <problem>`).
//!
//! Its keys are layered under flags and environment by [`crate::settings`]; its corps are
//! checked against the store and applied by `serve` (all or nothing).

use std::path::Path;

pub use rollcall_server::config::{parse_config, ConfigError, LoadedConfig};

/// Read and parse the file at `path`.
pub fn load_config(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let name = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: name.clone(),
        line: None,
        message: format!("cannot read the config file: {e}"),
    })?;
    parse_config(&name, &source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_file_says_so() {
        let e = load_config(Path::new("/nonexistent/rollcall.toml")).unwrap_err();
        assert_eq!(e.line, None);
        assert!(e
            .to_string()
            .starts_with("/nonexistent/rollcall.toml: cannot read"));
    }
}
