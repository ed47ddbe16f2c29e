//! `docs/ARCHITECTURE.md`'s code map against the tree: every Rust source file under `crates/` is named in its
//! crate's table, and every file a table names exists. Adding, moving or deleting a file without updating the
//! map fails this test.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Per crate directory name (`mem3-pool`), the files its `### crates/NAME` table names in its first column.
fn code_map(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            current = heading.trim().strip_prefix("crates/").map(str::to_owned);
            if let Some(name) = &current {
                map.entry(name.clone()).or_default();
            }
        } else if line.starts_with("## ") {
            current = None;
        } else if let (Some(name), Some(row)) = (&current, line.strip_prefix("| `")) {
            if let Some(end) = row.find('`') {
                map.entry(name.clone()).or_default().insert(row[..end].to_owned());
            }
        }
    }
    map
}

/// Every source file (`.rs`, and `.js` such as the explorer's script) under `dir`, as paths relative to
/// `base` with `/` separators.
fn rust_files(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "js") {
            let rel = path.strip_prefix(base).unwrap();
            out.insert(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
}

#[test]
fn the_code_map_names_every_source_file_under_crates_and_no_other() {
    let text = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let map = code_map(&text);
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    let crates = root().join("crates");
    for entry in std::fs::read_dir(&crates).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("Cargo.toml").exists() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files = BTreeSet::new();
        rust_files(&dir, &dir, &mut files);
        let named = map.get(&name).cloned().unwrap_or_default();
        missing.extend(files.difference(&named).map(|f| format!("crates/{name}/{f}")));
        stale.extend(named.difference(&files).map(|f| format!("crates/{name}/{f}")));
    }
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/ARCHITECTURE.md's code map is out of date.\nnot named: {missing:#?}\nnamed but absent: {stale:#?}"
    );
}

#[test]
fn the_code_map_parser_reads_tables_per_crate() {
    // The check itself must see a missing file: a map with one crate naming one of two files.
    let map = code_map(
        "## Code Map\n### crates/a\n| file | owns |\n|---|---|\n| `src/lib.rs` | x |\n#### detail\n\
         | `src/more.rs` | y |\n### benches/\n| `src/no.rs` | z |\n## Invariants\n| `src/x.rs` | w |\n",
    );
    assert_eq!(map.len(), 1);
    assert_eq!(map["a"], BTreeSet::from(["src/lib.rs".to_owned(), "src/more.rs".to_owned()]));
}
