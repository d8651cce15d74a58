//! Prints the README's tables from the server's own tables, so the README
//! cannot drift from the code: `cargo run --example readme_tables -- commands`
//! or `-- config`.

use inmemory::cmd::table;
use inmemory::server::config::{Config, PARAMS};

fn commands() {
    println!("| Command | Original alias | Group | Complexity | Summary |");
    println!("|---|---|---|---|---|");
    let aliases: Vec<_> = table::all().filter(|c| c.alias_of.is_some()).collect();
    let mut rows: Vec<_> = table::all().filter(|c| c.alias_of.is_none()).collect();
    rows.sort_by_key(|c| (c.group, c.name));
    for c in rows {
        let mut alias: Vec<String> = aliases
            .iter()
            .filter(|a| a.alias_of == Some(c.name))
            .map(|a| format!("`{}`", a.name.to_uppercase()))
            .collect();
        if c.name == "ttl" {
            alias.push("`TTL key seconds` sets a TTL".into());
        }
        println!(
            "| `{}` | {} | {} | {} | {} |",
            c.name.to_uppercase(),
            alias.join(", "),
            c.group,
            c.complexity.replace('|', "\\|"),
            c.summary.replace('|', "\\|")
        );
    }
}

fn config() {
    let defaults = Config::default();
    println!("| Setting (flag `--name`, CONFIG name) | Default | CONFIG SET at run time |");
    println!("|---|---|---|");
    for p in PARAMS {
        let v = (p.get)(&defaults);
        let v = if v.is_empty() { "\"\"".to_string() } else { format!("`{v}`") };
        println!("| `{}` | {} | {} |", p.name, v, if p.mutable { "yes" } else { "no (start only)" });
    }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("config") => config(),
        _ => commands(),
    }
}
