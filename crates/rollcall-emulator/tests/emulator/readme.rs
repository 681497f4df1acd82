//! The README's "In a Rust test" example is `examples/attendance_sync.rs`, to the byte, so
//! the code users copy is the code CI runs.

use std::path::Path;

const SECTION: &str = "## Testing your WeCom integration with rollcall";
const SUBSECTION: &str = "### In a Rust test";

/// The first ```rust block of the subsection.
fn readme_example(readme: &str) -> Option<&str> {
    let section = &readme[readme.find(SECTION)?..];
    let sub = &section[section.find(SUBSECTION)?..];
    let open = "```rust\n";
    let start = sub.find(open)? + open.len();
    let len = sub[start..].find("\n```\n")? + 1;
    Some(&sub[start..start + len])
}

#[test]
fn the_readme_shows_the_example_that_ci_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../../README.md")).expect("README.md");
    let example =
        std::fs::read_to_string(root.join("examples/attendance_sync.rs")).expect("example");
    let shown = readme_example(&readme)
        .unwrap_or_else(|| panic!("no ```rust block under {SECTION:?} / {SUBSECTION:?}"));
    if shown != example {
        let line = shown
            .lines()
            .zip(example.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the length".to_owned(), |n| format!("line {}", n + 1));
        panic!(
            "README.md's example differs from examples/attendance_sync.rs at {line}: copy the \
             file into the README"
        );
    }
    // And it says which line to add.
    let section = &readme[readme.find(SECTION).expect("section")..];
    assert!(
        section.contains("rollcall-emulator = "),
        "the README names the dev-dependency"
    );
}

#[test]
fn the_block_finder_finds_the_first_rust_block_of_the_subsection() {
    let text = format!(
        "# x\n```rust\nnot this\n```\n{SECTION}\n{SUBSECTION}\ntext\n```toml\na\n```\n```rust\nfn f() {{}}\n\nfn g() {{}}\n```\n```rust\nlater\n```\n"
    );
    assert_eq!(readme_example(&text), Some("fn f() {}\n\nfn g() {}\n"));
    assert_eq!(readme_example("no section"), None);
}
