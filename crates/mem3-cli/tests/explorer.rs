//! The heap explorer (`--html`) in a real browser: headless Chromium loads the page with `#selftest`, on
//! which the page checks its canvas's pixels, moves the slider, zooms and hovers, and writes what it saw
//! into the DOM, which `--dump-dom` prints.
//!
//! Chromium is Debian's `chromium` package (`.ci/run` installs it); `MEM3_CHROMIUM` names another
//! binary. Without one the tests fail when `CI=true`, and otherwise print why they skip.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// The browser, or `None` (after saying so) when the test may skip.
fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("MEM3_CHROMIUM").map(PathBuf::from).into_iter().chain(
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
            .into_iter()
            .map(PathBuf::from),
    );
    for path in candidates {
        if path.is_file() {
            return Some(path);
        }
    }
    let message = "no Chromium found (/usr/bin/chromium, or set MEM3_CHROMIUM): install Debian's \
                   `chromium` package to run the browser test";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and {message}");
    }
    eprintln!("skipping the browser test: {message}");
    None
}

/// Loads `page` with `#selftest` in headless Chromium and returns what the page wrote.
fn selftest(browser: &Path, page: &Path) -> serde_json::Value {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}#selftest", page.display());
    let mut child = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Read while it runs: the DOM is larger than a pipe's buffer.
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut bytes).map(|_| bytes)
    });
    let start = Instant::now();
    while child.try_wait().expect("chromium runs").is_none() {
        if start.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 3 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = reader.join().expect("the reader").expect("chromium's output");
    let dom = String::from_utf8_lossy(&out);
    let start = dom.find(r#"<pre id="selftest">"#).expect("the page has its selftest element") + 19;
    let end = start + dom[start..].find("</pre>").expect("the element ends");
    let text = dom[start..end].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the page wrote no selftest result ({e}): {}", &dom[start..end]))
}

/// Writes a page with `mem3 ARGS --html PAGE` and checks it in the browser.
fn check(browser: &Path, args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("explorer.html");
    let out = Command::new(assert_cmd::cargo::cargo_bin("mem3"))
        .args(args)
        .arg("--html")
        .arg(&page)
        .output()
        .expect("mem3 runs");
    assert!(out.status.code().is_some_and(|c| c <= 1), "{args:?}: {out:?}");
    let result = selftest(browser, &page);
    // The canvas drew: pixels other than the white background, some of them blocks in use.
    assert!(result["pixels"].as_u64().unwrap() > 10_000, "{result}");
    assert!(result["usedPixels"].as_u64().unwrap() > 100, "{result}");
    assert!(result["pixelsAfter"].as_u64().unwrap() > 10_000, "{result}");
    // Moving the slider changed the figures shown.
    assert_ne!(result["before"], result["after"], "{result}");
    assert_ne!(result["moved"], result["start"], "{result}");
    // Zoomed to the first bytes, hovering names a block.
    assert!(result["zoomed"].as_str().unwrap().starts_with("showing 0 B to"), "{result}");
    assert!(result["hover"].as_str().unwrap().starts_with("offset 0 (0x0), size "), "{result}");
    result
}

#[test]
fn the_replay_explorer_draws_and_its_slider_moves_for_every_shared_trace() {
    let Some(browser) = chromium() else { return };
    for name in ["gcc-as", "sqlite-mem", "perl-hash"] {
        let trace = repo(&format!("tests/data/{name}.trace.gz"));
        let result = check(&browser, &["replay", trace.to_str().unwrap()]);
        assert!(
            result["before"].as_str().unwrap().contains("the peak"),
            "{name} opens at the peak"
        );
        assert!(result["hover"].as_str().unwrap().contains("line"), "{name}: {result}");
    }
    // A replay that fails, with its failure marked.
    let trace = repo("tests/data/gcc-as.trace.gz");
    check(&browser, &["replay", trace.to_str().unwrap(), "--pool-size", "64K"]);
}

#[test]
fn the_vm_explorer_draws_object_kinds_and_its_slider_moves_for_every_example() {
    let Some(browser) = chromium() else { return };
    for name in ["hello", "fib", "defrag", "stale", "strings"] {
        let path = repo(&format!("examples/{name}.m3"));
        let result = check(&browser, &["run", path.to_str().unwrap()]);
        assert!(result["hover"].as_str().unwrap().contains("object"), "{name}: {result}");
    }
}

#[test]
fn the_compacting_replay_explorer_shows_the_heap_before_and_after_a_compaction() {
    let Some(browser) = chromium() else { return };
    // gcc-as in a best-fit pool just above its floor: one compaction, at the request on line 21,197.
    let trace = repo("tests/data/gcc-as.trace.gz");
    let args = ["replay", trace.to_str().unwrap(), "--policy", "best-fit", "--compact"];
    let result = check(&browser, &[&args[..], &["--pool-size", "3223500"]].concat());
    assert!(result["before"].as_str().unwrap().contains("the peak"), "{result}");
    assert!(
        result["hover"].as_str().unwrap().contains("line"),
        "blocks carry their line: {result}"
    );
    let event = &result["event"];
    assert_eq!(event["kind"], "compaction", "{result}");
    let (before, after) = (&event["before"], &event["after"]);
    assert!(before["label"].as_str().unwrap().ends_with("before the compaction"), "{event}");
    assert!(after["label"].as_str().unwrap().ends_with("after the compaction"), "{event}");
    assert!(before["figures"].as_str().unwrap().contains("(line 21,197)"), "{event}");
    // The largest free block and the free blocks changed: the map shows the heap compacted.
    assert_ne!(before["figures"], after["figures"], "{event}");
    assert!(after["blocks"].as_str().unwrap().ends_with(" 1 free"), "{event}");
    assert_ne!(before["blocks"], after["blocks"], "{event}");
}
