//! Keeps the README true: its set-up commands, and a row for every command
//! and every setting the server has (regenerate the tables with
//! `cargo run --example readme_tables -- commands|config`).

use inmemory::cmd::table;
use inmemory::server::config::PARAMS;
use inmemory::server::config_inert::INERT_PARAMS;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

#[test]
fn first_screen_has_the_two_setup_commands() {
    let text = readme();
    let first_screen: String = text.lines().take(25).collect::<Vec<_>>().join("\n");
    assert!(first_screen.contains("cargo run --release"), "server command missing from the first screen");
    assert!(first_screen.contains("cargo test"), "test command missing from the first screen");
}

#[test]
fn every_command_and_setting_is_documented() {
    let text = readme();
    for c in table::all().filter(|c| c.alias_of.is_none()) {
        let row = format!("| `{}` |", c.name.to_uppercase());
        assert!(text.contains(&row), "README lacks a row for {}", c.name);
    }
    for p in PARAMS {
        let row = format!("| `{}` |", p.name);
        assert!(text.contains(&row), "README lacks a row for setting {}", p.name);
    }
    for p in INERT_PARAMS {
        assert!(text.contains(&format!("`{}`", p.name)), "README does not list inert setting {}", p.name);
    }
}
