//! The `mem3` command against its contract (`mem3 --help`, `docs/trace-format.md`): commands, output, JSON
//! fields, exit statuses.

#![forbid(unsafe_code)]

use std::io::Read as _;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn mem3() -> Command {
    Command::cargo_bin("mem3").expect("the mem3 binary is built")
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// The shared trace, from the repository.
fn gcc_trace() -> PathBuf {
    repo("tests/data/gcc-as.trace.gz")
}

/// Runs `mem3 ARGS`, returning its exit status, standard output and standard error.
fn output(args: &[&str]) -> (i32, String, String) {
    let out = mem3().args(args).output().expect("mem3 runs");
    (
        out.status.code().expect("mem3 exits, not killed"),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

/// Every error is one or more lines `mem3: error: ...`, with no Rust debug output or panic.
fn assert_clean_error(stderr: &str) {
    assert!(stderr.starts_with("mem3: error: "), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
    assert!(!stderr.contains("Error {") && !stderr.contains("Kind {"), "{stderr}");
}

// --- demo ---------------------------------------------------------------------------------------

#[test]
fn demo_shows_the_failure_the_defragmentation_and_the_success() {
    let (status, out, err) = output(&["demo"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(err, "");
    assert!(out.contains("FAILS"), "{out}");
    assert!(out.contains("largest free block holds only"), "{out}");
    assert!(out.contains("Defragment"), "{out}");
    assert!(out.contains("again: OK"), "{out}");
    // Two maps of four rows each, with their figures and one legend.
    let rows = out.lines().filter(|l| l.trim_end().ends_with('|') && l.contains(" |")).count();
    assert_eq!(rows, 8, "{out}");
    assert_eq!(out.matches(", fragmentation ").count(), 2, "{out}");
    assert!(
        out.contains("s string") && out.contains(". free") && out.contains("P pinned"),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no colour when stdout is not a terminal");
    assert!(out.lines().count() <= 32, "the demo fits a screen: {} lines", out.lines().count());
    // The first map is fragmented, the second is not.
    let frag: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split(", fragmentation ").nth(1))
        .map(|v| v.trim_end_matches('%').parse().unwrap())
        .collect();
    assert!(frag[0] > 90.0 && frag[1] < 20.0, "{frag:?}");
}

// --- run ----------------------------------------------------------------------------------------

/// The golden output of an example: `examples/NAME.out` (the VM's golden tests read the same files).
fn golden(name: &str) -> String {
    let path = repo(&format!("examples/{name}.out"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn run_prints_each_examples_golden_output() {
    let mut names: Vec<String> = std::fs::read_dir(repo("examples"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".m3").map(str::to_owned))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let path = repo(&format!("examples/{name}.m3"));
        let (status, out, err) = output(&["run", path.to_str().unwrap()]);
        assert_eq!(out, golden(&name), "examples/{name}.m3: {err}");
        if name == "stale" {
            assert_eq!(status, 1, "{err}");
            assert_clean_error(&err);
            assert!(err.contains("line 9") && err.contains("stale handle"), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        } else {
            assert_eq!((status, err.as_str()), (0, ""), "examples/{name}.m3");
        }
    }
}

#[test]
fn run_stats_go_to_stderr_with_the_pool_and_run_figures() {
    let path = repo("examples/defrag.m3");
    let (status, out, err) = output(&["run", path.to_str().unwrap(), "--stats"]);
    assert_eq!(status, 0, "{err}");
    assert_eq!(out, golden("defrag"));
    for word in ["free", "largest free block", "fragmentation", "steps", "defrags", "1, moving 4"] {
        assert!(err.contains(word), "{word} in {err}");
    }
}

#[test]
fn run_pool_size_overrides_the_program_and_takes_suffixes() {
    let fib = repo("examples/fib.m3");
    let (status, out, err) =
        output(&["run", fib.to_str().unwrap(), "--pool-size", "64K", "--stats"]);
    assert_eq!((status, out), (0, golden("fib")));
    assert!(err.contains("65,536 B region") && err.contains("by 0 garbage collections"), "{err}");
    // In 400 bytes the eight live strings of defrag.m3 do not fit.
    let defrag = repo("examples/defrag.m3");
    let (status, _, err) = output(&["run", defrag.to_str().unwrap(), "--pool-size", "400"]);
    assert_eq!(status, 1, "{err}");
    assert_clean_error(&err);
    assert!(err.contains("out of memory"), "{err}");
}

#[test]
fn run_max_steps_stops_with_a_runtime_error_naming_the_line() {
    let fib = repo("examples/fib.m3");
    let (status, out, err) = output(&["run", fib.to_str().unwrap(), "--max-steps", "100"]);
    assert_eq!(status, 1);
    assert!(out.starts_with("fib(0) = 0\n"), "output before the error stays printed: {out}");
    assert_clean_error(&err);
    assert!(err.contains("step limit") && err.contains(": line "), "{err}");
}

#[test]
fn run_reports_every_assembly_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.m3");
    std::fs::write(&path, "push 1\nfrob\njmp nowhere\npush \"open\n").unwrap();
    let (status, out, err) = output(&["run", path.to_str().unwrap()]);
    assert_eq!((status, out.as_str()), (1, ""));
    assert_clean_error(&err);
    assert_eq!(err.lines().count(), 3, "{err}");
    assert!(err.lines().all(|l| l.starts_with("mem3: error: ")), "{err}");
    for (line, what) in [(2, "unknown instruction"), (3, "undefined label"), (4, "unterminated")] {
        assert!(err.contains(&format!("line {line}: {what}")), "line {line} in {err}");
    }
}

#[test]
fn run_runtime_errors_name_the_line_and_keep_earlier_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("div.m3");
    std::fs::write(&path, "push \"before\"\nprint\npush 1\npush 0\ndiv\nprint\n").unwrap();
    let (status, out, err) = output(&["run", path.to_str().unwrap()]);
    assert_eq!((status, out.as_str()), (1, "before\n"));
    assert_clean_error(&err);
    assert!(err.contains("line 5: division by zero"), "{err}");
}

#[test]
fn a_missing_file_is_one_clear_error() {
    for args in [&["run", "no/such/file.m3"][..], &["replay", "no/such/file.trace"]] {
        let (status, out, err) = output(args);
        assert_eq!((status, out.as_str()), (1, ""), "{args:?}");
        assert_clean_error(&err);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("no/such/file"), "{err}");
    }
}

// --- usage errors -------------------------------------------------------------------------------

#[test]
fn usage_errors_exit_2() {
    let hello = repo("examples/hello.m3");
    let hello = hello.to_str().unwrap();
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    for args in [
        &["run", hello, "--pool-size", "64X"][..],
        &["run", hello, "--pool-size", "0"],
        &["run", hello, "--max-steps", "many"],
        &["run", hello, "--pool-size", "16"],
        &["replay", trace, "--pool-size", "1G"],
        &["replay", trace, "--policy", "worst-fit"],
        &["replay", trace, "--pool-size", "16"],
        &["frobnicate"],
        &["run"],
        &[],
    ] {
        let (status, out, err) = output(args);
        assert_eq!((status, out.as_str()), (2, ""), "{args:?}: {err}");
        assert_clean_error(&err);
    }
    let (_, _, err) = output(&["run", hello, "--pool-size", "64X"]);
    assert!(err.contains("64X") && err.contains("--pool-size"), "{err}");
    let (_, _, err) = output(&["replay", trace, "--policy", "worst-fit"]);
    assert!(err.contains("worst-fit") && err.contains("first-fit"), "{err}");
}

#[test]
fn help_and_version() {
    mem3()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("demo").and(predicate::str::contains("replay")))
        .stdout(predicate::str::contains("Exit status"));
    mem3().args(["replay", "--help"]).assert().success().stdout(
        predicate::str::contains("--min-pool")
            .and(predicate::str::contains("first-fit"))
            .and(predicate::str::contains("best-fit")),
    );
    mem3()
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--max-steps"));
    mem3()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::diff(format!("mem3 {}\n", env!("CARGO_PKG_VERSION"))));
}

// --- replay -------------------------------------------------------------------------------------

/// The number of request lines (`a`, `f`, `r`) of a gzip trace.
fn request_lines(path: &Path) -> usize {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().filter(|l| matches!(l.split_whitespace().next(), Some("a" | "f" | "r"))).count()
}

fn replay_json(args: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let (status, out, err) = output(args);
    assert_eq!(status, 0, "{args:?}: {err}");
    assert_eq!(err, "", "no progress or messages with --json");
    assert_eq!(out.lines().count(), 1, "one JSON object: {out}");
    match serde_json::from_str(&out).expect("valid JSON") {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn uint(json: &serde_json::Map<String, serde_json::Value>, field: &str) -> u64 {
    json.get(field).and_then(|v| v.as_u64()).unwrap_or_else(|| panic!("{field} in {json:?}"))
}

fn float(json: &serde_json::Map<String, serde_json::Value>, field: &str) -> f64 {
    json.get(field).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("{field} in {json:?}"))
}

#[test]
fn replay_json_has_the_fields_of_cli_md() {
    let trace = gcc_trace();
    for policy in ["first-fit", "best-fit"] {
        let json = replay_json(&["replay", trace.to_str().unwrap(), "--json", "--policy", policy]);
        assert_eq!(uint(&json, "ops") as usize, request_lines(&trace));
        assert!(json["failed_at"].is_null(), "{json:?}");
        let (pool, live, extent) = (
            uint(&json, "pool_bytes"),
            uint(&json, "peak_live_bytes"),
            uint(&json, "peak_extent_bytes"),
        );
        assert!(0 < live && live <= extent && extent <= pool, "{live} {extent} {pool}");
        let (free, largest) = (uint(&json, "free_bytes"), uint(&json, "largest_free_bytes"));
        assert!(largest <= free && free <= pool, "{largest} {free} {pool}");
        let fragmentation = float(&json, "fragmentation");
        assert!((0.0..=1.0).contains(&fragmentation));
        let expected = if free == 0 { 0.0 } else { 1.0 - largest as f64 / free as f64 };
        assert!((fragmentation - expected).abs() < 1e-9, "{fragmentation} vs {expected}");
        assert!(uint(&json, "elapsed_ns") > 0);
        assert!(float(&json, "ops_per_sec") > 0.0);
        assert!(!json.contains_key("min_pool_bytes"), "only with --min-pool");
    }
}

#[test]
fn replay_with_the_front_cache_is_said_and_changes_placements() {
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    let plain = replay_json(&["replay", trace, "--json", "--min-pool"]);
    let cached = replay_json(&["replay", trace, "--json", "--min-pool", "--front-cache"]);
    assert_eq!(plain["front_cache"], serde_json::Value::Bool(false));
    assert_eq!(cached["front_cache"], serde_json::Value::Bool(true));
    assert_eq!(uint(&cached, "ops"), uint(&plain, "ops"), "both replay the whole trace");
    // Other placements, so another smallest pool.
    assert_ne!(uint(&cached, "min_pool_bytes"), uint(&plain, "min_pool_bytes"));
}

#[test]
fn replay_that_runs_out_of_pool_is_a_result() {
    let trace = gcc_trace();
    let json = replay_json(&["replay", trace.to_str().unwrap(), "--json", "--pool-size", "64K"]);
    let failed_at = uint(&json, "failed_at");
    assert!(failed_at > 1);
    assert!((uint(&json, "ops") as usize) < request_lines(&trace));
    assert_eq!(uint(&json, "pool_bytes"), 64 << 10);
    // The table says so too, and still exits 0.
    let (status, out, _) = output(&["replay", trace.to_str().unwrap(), "--pool-size", "64K"]);
    assert_eq!(status, 0);
    assert!(out.contains(&format!("line {}", failed_at)) || out.contains("did not fit"), "{out}");
}

#[test]
fn replay_min_pool_finds_a_pool_that_replays_everything() {
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    let json = replay_json(&["replay", trace, "--json", "--min-pool"]);
    let min = uint(&json, "min_pool_bytes");
    assert!(min >= uint(&json, "peak_live_bytes") && min <= uint(&json, "pool_bytes"), "{json:?}");
    let again = replay_json(&["replay", trace, "--json", "--pool-size", &min.to_string()]);
    assert!(again["failed_at"].is_null(), "{again:?}");
    assert_eq!(uint(&again, "pool_bytes"), min);
}

#[test]
fn replay_reads_plain_text_and_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.trace");
    std::fs::write(&path, "# mem3 trace v1\na 1 100\na 2 30 64\nr 1 500\nf 2\nf 1\n").unwrap();
    let (status, out, err) = output(&["replay", path.to_str().unwrap()]);
    assert_eq!((status, err.as_str()), (0, ""));
    assert!(out.contains("all 5 requests") && out.contains("peak live    530 B"), "{out}");
    let json = replay_json(&["replay", path.to_str().unwrap(), "--json"]);
    assert_eq!((uint(&json, "ops"), uint(&json, "peak_live_bytes")), (5, 530));
}

#[test]
fn a_malformed_trace_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.trace");
    std::fs::write(&path, "# mem3 trace v1\na 1 100\nf 7\n").unwrap();
    for json in [false, true] {
        let mut args = vec!["replay", path.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let (status, out, err) = output(&args);
        assert_eq!((status, out.as_str()), (1, ""));
        assert_clean_error(&err);
        assert!(err.contains("line 3") && err.contains("not live"), "{err}");
        assert_eq!(err.lines().count(), 1);
    }
    std::fs::write(&path, [0x1f, 0x8b, 0, 1, 2, 3]).unwrap();
    let (status, _, err) = output(&["replay", path.to_str().unwrap()]);
    assert_eq!(status, 1);
    assert_clean_error(&err);
}

// --- heap maps as SVG ---------------------------------------------------------------------------

/// Parses an SVG and checks what every map has: the title, cells, row offsets, a legend and captions.
fn check_svg(path: &Path, panels: usize) -> String {
    let text = std::fs::read_to_string(path).expect("the SVG was written");
    assert!(text.len() < 1 << 20, "{} is {} bytes", path.display(), text.len());
    let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    assert!(root.attribute("viewBox").is_some());
    let class = |name: &str| {
        doc.descendants().filter(|n| n.attribute("class") == Some(name)).collect::<Vec<_>>()
    };
    assert_eq!(class("panel").len(), panels);
    assert_eq!(class("cells").len(), panels);
    assert_eq!(class("legend").len(), panels);
    let rects = doc.descendants().filter(|n| n.has_tag_name("rect")).count();
    assert!(rects > 4, "{rects} rects");
    let captions: Vec<&str> = class("caption").iter().filter_map(|n| n.text()).collect();
    assert_eq!(captions.len(), 2 * panels);
    assert!(
        captions.iter().any(|c| c.contains("largest free block") && c.contains("fragmentation"))
    );
    let axis: Vec<&str> =
        class("axis").iter().flat_map(|g| g.children()).filter_map(|n| n.text()).collect();
    assert!(axis.contains(&"0") && axis.contains(&"+0"), "{axis:?}");
    assert!(doc.descendants().any(|n| n.has_tag_name("title")));
    text
}

#[test]
fn replay_map_writes_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("gcc.svg");
    let trace = gcc_trace();
    let (status, _, err) = output(&[
        "replay",
        trace.to_str().unwrap(),
        "--pool-size",
        "1M",
        "--map",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(status, 0, "{err}");
    let text = check_svg(&svg, 1);
    assert!(text.contains("used") && text.contains("free") && !text.contains(">string<"));
}

#[test]
fn run_and_demo_maps_tell_object_kinds_apart() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("strings.svg");
    let path = repo("examples/strings.m3");
    let (status, _, err) = output(&["run", path.to_str().unwrap(), "--map", svg.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    let text = check_svg(&svg, 1);
    assert!(text.contains(">string<") && text.contains(">int<"), "{text}");

    let svg = dir.path().join("demo.svg");
    let (status, _, err) = output(&["demo", "--map", svg.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    let text = check_svg(&svg, 2);
    assert!(text.contains(">pinned<") && text.contains(">float<"), "{text}");
}

#[test]
fn a_map_that_cannot_be_written_is_an_error() {
    let path = repo("examples/hello.m3");
    let (status, out, err) =
        output(&["run", path.to_str().unwrap(), "--map", "/no/such/dir/map.svg"]);
    assert_eq!((status, out.as_str()), (1, "hello, world\n"));
    assert_clean_error(&err);
}

// --- untrusted sizes (issue 11, item 4) ---------------------------------------------------------

#[test]
fn a_huge_pool_size_flag_is_a_usage_error_not_a_panic_or_abort() {
    let hello = repo("examples/hello.m3");
    let hello = hello.to_str().unwrap();
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    // usize::MAX used to panic ("capacity overflow", 101) and 100000000M to abort (134).
    for (command, file) in [("run", hello), ("replay", trace)] {
        for size in ["18446744073709551615", "100000000M", "1073741825000"] {
            let (status, out, err) = output(&[command, file, "--pool-size", size]);
            assert_eq!((status, out.as_str()), (2, ""), "{command} {size}: {err}");
            assert_clean_error(&err);
            let first = err.lines().next().unwrap_or_default();
            assert!(first.contains("--pool-size") && first.contains("above the limit"), "{err}");
        }
    }
    // The limit itself is accepted: 1 GiB for a VM pool.
    let (status, out, err) = output(&["run", hello, "--pool-size", "1024M"]);
    assert_eq!((status, out.as_str(), err.as_str()), (0, "hello, world\n", ""));
}

#[test]
fn a_huge_pool_line_is_the_programs_error_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.m3");
    for size in ["100000000M", "1025M", "18446744073709551615"] {
        std::fs::write(&path, format!(".pool {size}\npush 1\nprint\n")).unwrap();
        let (status, out, err) = output(&["run", path.to_str().unwrap()]);
        assert_eq!((status, out.as_str()), (1, ""), "{size}: {err}");
        assert_clean_error(&err);
        assert!(err.contains("big.m3") && err.contains("limit"), "{size}: {err}");
    }
}

#[test]
fn a_trace_with_a_huge_request_gets_a_capped_pool_and_reports_the_request() {
    // 40 bytes that used to size a 2 TB default pool and exit 2.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.trace");
    std::fs::write(&path, "# mem3 trace v1\na 1 1000000000000\nf 1\n").unwrap();
    let json = replay_json(&["replay", path.to_str().unwrap(), "--json"]);
    assert_eq!(uint(&json, "pool_bytes"), 1 << 30, "the default pool is capped at 1 GiB");
    assert_eq!((uint(&json, "ops"), uint(&json, "failed_at")), (0, 2));
    assert_eq!(uint(&json, "failed_request_bytes"), 1_000_000_000_000);
    let largest = uint(&json, "largest_free_bytes");
    assert!(largest > 1 << 29 && largest < 1 << 30, "{largest}");
    let (status, out, err) = output(&["replay", path.to_str().unwrap()]);
    assert_eq!((status, err.as_str()), (0, ""));
    assert!(
        out.contains("line 2 for 1,000,000,000,000 B did not fit")
            && out.contains(&format!("largest free block {}", thousands(largest))),
        "{out}"
    );
    // With a complete replay the field is null.
    let json = replay_json(&["replay", gcc_trace().to_str().unwrap(), "--json"]);
    assert!(json["failed_request_bytes"].is_null());
}

/// `1234567` as `1,234,567`, as the table prints byte counts.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// --- unbounded input memory (issue 11, item 5) --------------------------------------------------

/// `text` gzip-compressed.
fn gzip(text: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    gz.finish().unwrap()
}

#[test]
fn a_gzip_bomb_is_a_clear_error_at_the_text_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.trace.gz");
    // 4 MiB of text in a few KiB: a header and blank lines.
    let mut text = b"# mem3 trace v1\n".to_vec();
    text.resize(4 << 20, b'\n');
    std::fs::write(&path, gzip(&text)).unwrap();
    let (status, out, err) = output(&["replay", path.to_str().unwrap(), "--max-text", "1M"]);
    assert_eq!((status, out.as_str()), (1, ""), "{err}");
    assert_clean_error(&err);
    assert!(err.contains("trace too large: more than 1048576 bytes of text"), "{err}");
    assert!(
        err.contains(&format!("line {}:", (1 << 20) - 16 + 2)),
        "the line that crossed it: {err}"
    );
    // Under the default limit (256M) the same file replays: it is only blank lines.
    let (status, out, err) = output(&["replay", path.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("all 0 requests"), "{out}");
}

#[test]
fn a_trace_of_too_many_requests_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.trace.gz");
    let mut text = String::from("# mem3 trace v1\n");
    for _ in 0..5000 {
        text.push_str("a 1 8\nf 1\n");
    }
    std::fs::write(&path, gzip(text.as_bytes())).unwrap();
    let (status, _, err) = output(&["replay", path.to_str().unwrap(), "--max-requests", "9999"]);
    assert_eq!(status, 1, "{err}");
    assert_clean_error(&err);
    assert!(err.contains("line 10001: trace too large: more than 9999 requests"), "{err}");
    let json =
        replay_json(&["replay", path.to_str().unwrap(), "--json", "--max-requests", "10000"]);
    assert_eq!(uint(&json, "ops"), 10000);
    // The limit is bounded too.
    for bad in ["0", "67108865", "lots"] {
        let (status, _, err) = output(&["replay", path.to_str().unwrap(), "--max-requests", bad]);
        assert_eq!(status, 2, "{bad}: {err}");
        assert_clean_error(&err);
    }
}

// --- replay --compact ---------------------------------------------------------------------------

/// A best-fit pool just above gcc-as's floor: too small without compaction, enough with it.
const TIGHT: &str = "3223500";

#[test]
fn replay_compact_completes_where_the_non_moving_replay_fails_and_reports_its_moves() {
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    let args = ["replay", trace, "--json", "--policy", "best-fit", "--pool-size", TIGHT];
    let plain = replay_json(&args);
    assert!(!plain["failed_at"].is_null(), "without compaction the pool is too small: {plain:?}");
    assert!(!plain.contains_key("compactions") && !plain.contains_key("floor_bytes"));
    let json = replay_json(&[&args[..], &["--compact"]].concat());
    assert!(json["failed_at"].is_null(), "{json:?}");
    assert_eq!(uint(&json, "ops") as usize, request_lines(&gcc_trace()));
    assert!(uint(&json, "compactions") >= 1, "{json:?}");
    assert!(uint(&json, "bytes_moved") >= uint(&json, "moved_blocks") * 32, "{json:?}");
    assert_eq!(uint(&json, "pinned_blocks"), 0);
    let (floor, floor_pool) = (uint(&json, "floor_bytes"), uint(&json, "floor_pool_bytes"));
    assert!(uint(&json, "peak_live_bytes") < floor && floor < floor_pool, "{json:?}");
    assert!(floor_pool <= uint(&json, "pool_bytes"));
    // The table has the same figures.
    let (status, out, err) =
        output(&["replay", trace, "--policy", "best-fit", "--pool-size", TIGHT, "--compact"]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("replayed     all 33,037 requests"), "{out}");
    assert!(out.contains("compaction   1 compactions moved"), "{out}");
    assert!(out.contains("floor        3,171,960 B of live blocks at most"), "{out}");
}

#[test]
fn replay_compact_min_pool_is_below_the_non_moving_one_and_replays() {
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    let plain = uint(&replay_json(&["replay", trace, "--json", "--min-pool"]), "min_pool_bytes");
    let json = replay_json(&["replay", trace, "--json", "--min-pool", "--compact"]);
    let min = uint(&json, "min_pool_bytes");
    assert!(uint(&json, "floor_pool_bytes") <= min && min < plain, "{min} vs {plain}: {json:?}");
    let again =
        replay_json(&["replay", trace, "--json", "--compact", "--pool-size", &min.to_string()]);
    assert!(again["failed_at"].is_null(), "{again:?}");
    // Pinning 1% costs room, and the pinned blocks are counted.
    let pinned =
        replay_json(&["replay", trace, "--json", "--min-pool", "--compact", "--pin-every", "100"]);
    assert!(uint(&pinned, "min_pool_bytes") >= min);
    assert_eq!(uint(&pinned, "pinned_blocks"), 16516 / 100);
}

#[test]
fn replay_compact_map_draws_the_heap_before_and_after_the_first_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("compact.svg");
    let trace = gcc_trace();
    let (status, _, err) = output(&[
        "replay",
        trace.to_str().unwrap(),
        "--policy",
        "best-fit",
        "--pool-size",
        TIGHT,
        "--compact",
        "--map",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(status, 0, "{err}");
    let text = check_svg(&svg, 2);
    assert!(text.contains("before the first compaction (the request on line 21,197)"), "{text}");
    assert!(text.contains("after it"));
    // With room to spare nothing compacts: one map of the end, as without --compact.
    let (status, _, err) = output(&[
        "replay",
        trace.to_str().unwrap(),
        "--compact",
        "--map",
        svg.to_str().unwrap(),
        "--map-at",
        "end",
    ]);
    assert_eq!(status, 0, "{err}");
    let text = check_svg(&svg, 1);
    assert!(text.contains("at the end, after 33,037 requests"), "{text}");
}

#[test]
fn replay_pin_every_needs_compact_and_a_positive_count() {
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    for args in [
        &["replay", trace, "--pin-every", "100"][..],
        &["replay", trace, "--compact", "--pin-every", "0"],
        &["replay", trace, "--compact", "--pin-every", "x"],
    ] {
        let (status, out, err) = output(args);
        assert_eq!((status, out.as_str()), (2, ""), "{args:?}: {err}");
        assert_clean_error(&err);
    }
}

// --- issue 16: the VM's options, --stats --json, maps at any moment, the explorer, messages ------

#[test]
fn run_help_gives_every_vm_option_with_its_default_and_no_step_limit_by_default() {
    let (status, out, _) = output(&["run", "--help"]);
    assert_eq!(status, 0);
    for flag in [
        "--no-gc",
        "--no-defrag",
        "--stress-defrag",
        "--max-stack",
        "--max-call-depth",
        "--json",
        "--map-at",
        "--html",
    ] {
        assert!(out.contains(flag), "{flag} in {out}");
    }
    assert!(out.contains("[default: 1048576]") && out.contains("[default: 65536]"), "{out}");
    assert!(out.contains("no step limit"), "{out}");
    assert!(out.contains("[default: peak]"), "{out}");
    let (_, out, _) = output(&["replay", "--help"]);
    assert!(out.contains("--html") && out.contains("--map-at") && out.contains("[default: peak]"));
}

#[test]
fn run_no_gc_lets_garbage_fill_the_pool() {
    let fib = repo("examples/fib.m3");
    let (status, out, err) = output(&["run", fib.to_str().unwrap(), "--no-gc"]);
    assert_eq!(status, 1, "{err}");
    assert!(out.starts_with("fib(0) = 0\n"), "{out}");
    assert_clean_error(&err);
    assert!(err.contains("out of memory"), "{err}");
    // A `gc` instruction still runs; without the flag the same program completes.
    let (status, out, _) = output(&["run", fib.to_str().unwrap()]);
    assert_eq!((status, out), (0, golden("fib")));
}

#[test]
fn run_no_defrag_stops_defrag_m3_with_out_of_memory_naming_the_block_it_needs() {
    let defrag = repo("examples/defrag.m3");
    let (status, _, err) = output(&["run", defrag.to_str().unwrap(), "--no-defrag"]);
    assert_eq!(status, 1, "{err}");
    assert_clean_error(&err);
    assert!(err.contains("out of memory: requested 165 bytes, 296 bytes free"), "{err}");
    assert!(err.contains("largest free block 64 bytes (a 176-byte block: 165 + 8 bytes of block header, rounded up to 8)"), "{err}");
}

#[test]
fn run_stress_defrag_defragments_at_every_allocation_and_keeps_the_output() {
    let strings = repo("examples/strings.m3");
    let args = ["run", strings.to_str().unwrap(), "--stress-defrag", "--stats", "--json"];
    let (status, out, err) = output(&args);
    assert_eq!((status, out), (0, golden("strings")), "{err}");
    let json: serde_json::Value = serde_json::from_str(&err).expect("--stats --json is JSON");
    assert!(json["defragmentations"].as_u64().unwrap() >= json["allocations"].as_u64().unwrap());
}

#[test]
fn run_stack_limits_come_from_the_flags() {
    let fib = repo("examples/fib.m3");
    let fib = fib.to_str().unwrap();
    let (status, _, err) = output(&["run", fib, "--max-stack", "1"]);
    assert_eq!(status, 1);
    assert!(err.contains("value stack would exceed 1 values"), "{err}");
    let (status, _, err) = output(&["run", fib, "--max-call-depth", "0"]);
    assert_eq!(status, 1);
    assert!(err.contains("call stack would exceed 0 frames"), "{err}");
    for bad in [["--max-stack", "lots"], ["--max-call-depth", "-1"]] {
        let (status, _, err) = output(&["run", fib, bad[0], bad[1]]);
        assert_eq!(status, 2, "{bad:?}: {err}");
        assert_clean_error(&err);
    }
}

/// The value stack, the call stack and the buffer strings are built in live outside the pool, on the global
/// heap, so with limits that memory cannot meet, a program that grows them (`dup` or `call` without
/// allocating objects, a string doubled in a large pool) must stop with a clear error when the system
/// refuses the memory, not abort. Run under a limit on address space (`ulimit -v`, Linux), so that the
/// refusal comes soon.
#[cfg(target_os = "linux")]
#[test]
fn run_stops_with_an_error_when_no_memory_is_left_outside_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let mem3 = assert_cmd::cargo::cargo_bin("mem3");
    let max = usize::MAX.to_string();
    let doubling =
        "push \"xxxxxxxxxxxxxxxx\"\nstore s\nloop: load s\nload s\nconcat\nstore s\njmp loop\n";
    let cases = [
        (
            "push 1\nloop: dup\njmp loop\n",
            ["--pool-size", "1M", "--max-stack", &max],
            400_000,
            "value stack",
        ),
        ("f: call f\n", ["--pool-size", "1M", "--max-call-depth", &max], 400_000, "call stack"),
        // The pool takes 1 GiB of the 1.4 GB; doubling the string needs a buffer of 512 MiB.
        (
            doubling,
            ["--pool-size", "1024M", "--max-steps", "1000000"],
            1_400_000,
            "a string of 536870912 bytes",
        ),
    ];
    for (i, (program, args, limit_kib, expected)) in cases.into_iter().enumerate() {
        let file = dir.path().join(format!("p{i}.m3"));
        std::fs::write(&file, program).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v {limit_kib} && exec '{}' run '{}' {}",
                mem3.display(),
                file.display(),
                args.join(" ")
            ))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{program:?}: {:?}, {}",
            out.status,
            &err[..err.len().min(500)]
        );
        assert_clean_error(&err);
        assert!(err.contains(expected), "{program:?}: {err}");
    }
}

#[test]
fn run_stats_json_has_every_figure_and_one_meaning_of_used() {
    let defrag = repo("examples/defrag.m3");
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("d.svg");
    let (status, out, err) = output(&[
        "run",
        defrag.to_str().unwrap(),
        "--stats",
        "--json",
        "--map",
        svg.to_str().unwrap(),
        "--map-at",
        "end",
    ]);
    assert_eq!((status, out), (0, golden("defrag")), "{err}");
    let json: serde_json::Value = serde_json::from_str(&err).expect("one JSON object");
    for field in [
        "pool_bytes",
        "capacity_bytes",
        "used_bytes",
        "payload_bytes",
        "header_bytes",
        "free_bytes",
        "largest_free_bytes",
        "fragmentation",
        "steps",
        "allocations",
        "collections",
        "defragmentations",
        "peak_stack",
        "peak_call_depth",
    ] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }
    let n = |f: &str| json[f].as_u64().unwrap();
    assert_eq!(n("used_bytes"), n("payload_bytes") + n("header_bytes"));
    assert_eq!(n("used_bytes") + n("free_bytes"), n("capacity_bytes"));
    assert!(json["error"].is_null());
    // The SVG's "used" is the same figure, and so is the table's.
    let text = check_svg(&svg, 1);
    let used = format!("used {} B in", thousands(n("used_bytes")));
    assert!(text.contains(&used), "{used} in the SVG");
    let (_, _, table) = output(&["run", defrag.to_str().unwrap(), "--stats"]);
    let row = format!("used         {} B in", thousands(n("used_bytes")));
    assert!(table.contains(&row), "{row} in {table}");
    // --json alone is a usage error: it shapes --stats.
    let (status, _, err) = output(&["run", defrag.to_str().unwrap(), "--json"]);
    assert_eq!(status, 2, "{err}");
}

#[test]
fn maps_draw_the_peak_by_default_and_any_moment_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("m.svg");
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    let svg_text = |extra: &[&str]| {
        let mut args = vec!["replay", trace, "--map", svg.to_str().unwrap()];
        args.extend_from_slice(extra);
        let (status, _, err) = output(&args);
        assert_eq!(status, 0, "{extra:?}: {err}");
        check_svg(&svg, 1)
    };
    let peak = svg_text(&[]);
    assert!(peak.contains("at the peak of live bytes"), "the default is the peak");
    assert!(!peak.contains("fragmentation 0.0%"), "the peak of gcc-as is fragmented");
    let end = svg_text(&["--map-at", "end"]);
    assert!(end.contains("at the end") && end.contains("fragmentation 0.0%"));
    let line = svg_text(&["--map-at", "1000"]);
    assert!(line.contains("(line 1,000)"), "the request on line 1,000");
    // The largest free blocks are named, and outlined when a cell or more.
    assert!(peak.contains("largest free blocks (outlined)"));
    for bad in ["middle", "0", "-3"] {
        let (status, _, err) = output(&["replay", trace, "--map", "-", "--map-at", bad]);
        assert_eq!(status, 2, "{bad}: {err}");
        assert_clean_error(&err);
    }
}

#[test]
fn maps_read_at_16_kib_and_at_64_mib() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("m.svg");
    let trace = gcc_trace();
    let map = |size: &str| {
        let args = ["replay", trace.to_str().unwrap(), "--pool-size", size, "--map"];
        let (status, _, err) = output(&[&args[..], &[svg.to_str().unwrap()]].concat());
        assert_eq!(status, 0, "{err}");
        check_svg(&svg, 1)
    };
    let small = map("16K");
    assert!(small.contains("1 cell = 8 B") && small.contains("largest free blocks (outlined)"));
    let large = map("64M");
    assert!(large.contains("1 cell = 16 KiB") && large.contains(r#"class="holes""#));
}

#[test]
fn text_maps_go_to_the_terminal_for_run_and_replay() {
    let trace = gcc_trace();
    let (status, out, err) = output(&["replay", trace.to_str().unwrap(), "--map", "-"]);
    assert_eq!(status, 0, "{err}");
    let rows = out.lines().filter(|l| l.trim_end().ends_with('|') && l.contains(" |")).count();
    assert!((3..=4).contains(&rows), "{out}");
    assert!(out.contains("at the peak of live bytes") && out.contains(". free"), "{out}");
    // With --json the map goes to standard error, and standard output stays one JSON object.
    let (status, out, err) = output(&["replay", trace.to_str().unwrap(), "--map", "-", "--json"]);
    assert_eq!(status, 0);
    serde_json::from_str::<serde_json::Value>(&out).expect("JSON alone");
    assert!(err.contains(". free"), "{err}");
    // `run` keeps standard output for the program.
    let strings = repo("examples/strings.m3");
    let (status, out, err) = output(&["run", strings.to_str().unwrap(), "--map", "-"]);
    assert_eq!((status, out), (0, golden("strings")));
    assert!(err.contains("the pool at its peak") && err.contains("s string"), "{err}");
    let (status, _, err) =
        output(&["run", strings.to_str().unwrap(), "--map", "-", "--map-at", "9999"]);
    assert_eq!(status, 2);
    assert!(err.contains("--map-at 9999: no allocation on that line"), "{err}");
}

/// The page's embedded data, parsed.
fn explorer_data(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the page was written");
    assert!(text.starts_with("<!doctype html>"), "{}", &text[..100]);
    assert!(!text.contains("http://") && !text.contains("https://"), "no network");
    let start = text.find(r#"<script id="data" type="application/json">"#).unwrap() + 42;
    let end = start + text[start..].find("</script>").unwrap();
    serde_json::from_str(&text[start..end]).expect("the data is JSON")
}

#[test]
fn the_explorer_is_one_bounded_page_for_every_trace_and_example() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("x.html");
    let html_arg = html.to_str().unwrap();
    for name in ["gcc-as", "sqlite-mem", "perl-hash"] {
        let trace = repo(&format!("tests/data/{name}.trace.gz"));
        let (status, _, err) = output(&["replay", trace.to_str().unwrap(), "--html", html_arg]);
        assert_eq!(status, 0, "{name}: {err}");
        let size = std::fs::metadata(&html).unwrap().len();
        assert!(size < 4 << 20, "{name}: {size} bytes");
        let data = explorer_data(&html);
        let snapshots = data["snapshots"].as_array().unwrap();
        assert!(snapshots.len() > 10 && snapshots.len() < 100, "{name}: {}", snapshots.len());
        let peak = data["peak"].as_u64().unwrap() as usize;
        assert!(snapshots[peak]["exact"].as_bool().unwrap(), "{name}: the peak is exact");
        let used: Vec<u64> = snapshots.iter().map(|s| s["used"].as_u64().unwrap()).collect();
        assert_eq!(used[peak], *used.iter().max().unwrap(), "{name}: the peak is the most used");
        assert_eq!(data["tagMeaning"], "line");
    }
    for name in ["hello", "fib", "defrag", "stale", "strings"] {
        let path = repo(&format!("examples/{name}.m3"));
        let (status, out, err) = output(&["run", path.to_str().unwrap(), "--html", html_arg]);
        // stale.m3 ends with its runtime error, by design.
        let expected = if name == "stale" { 1 } else { 0 };
        assert_eq!((status, out), (expected, golden(name)), "{name}: {err}");
        let data = explorer_data(&html);
        assert_eq!(data["tagMeaning"], "kind");
        assert!(!data["snapshots"].as_array().unwrap().is_empty());
    }
    // fib collects and compacts: each marked with the pool before and after.
    let fib = repo("examples/fib.m3");
    output(&["run", fib.to_str().unwrap(), "--html", html_arg]);
    let data = explorer_data(&html);
    let events = data["events"].as_array().unwrap();
    for kind in ["collection", "compaction"] {
        let e = events.iter().find(|e| e["kind"] == kind).unwrap_or_else(|| panic!("{kind}"));
        assert!(e["before"].is_u64() && e["after"].is_u64(), "{e}");
    }
    // A replay that fails marks the failure.
    let trace = gcc_trace();
    output(&["replay", trace.to_str().unwrap(), "--pool-size", "64K", "--html", html_arg]);
    let data = explorer_data(&html);
    assert!(data["events"].as_array().unwrap().iter().any(|e| e["kind"] == "failure"));
    // So does a VM run that stops with out of memory.
    let defrag = repo("examples/defrag.m3");
    let (status, _, _) =
        output(&["run", defrag.to_str().unwrap(), "--no-defrag", "--html", html_arg]);
    assert_eq!(status, 1);
    let data = explorer_data(&html);
    assert!(data["events"].as_array().unwrap().iter().any(|e| e["kind"] == "failure"));
    // A page that cannot be written is an error.
    let (status, _, err) = output(&["run", fib.to_str().unwrap(), "--html", "/no/such/dir/x.html"]);
    assert_eq!(status, 1);
    assert!(err.contains("cannot write /no/such/dir/x.html"), "{err}");
}

#[test]
fn echoed_input_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.trace");
    std::fs::write(&path, b"# mem3 trace v1\nx\0\x1b[31m 1 2\n").unwrap();
    let (status, _, err) = output(&["replay", path.to_str().unwrap()]);
    assert_eq!(status, 1);
    assert_clean_error(&err);
    assert!(!err.contains('\0') && !err.contains('\x1b'), "{err:?}");
    assert!(err.contains("x\\x00\\x1b[31m"), "{err}");
    let program = dir.path().join("bad.m3");
    std::fs::write(&program, b"push 1\nfr\x07ob\n").unwrap();
    let (status, _, err) = output(&["run", program.to_str().unwrap()]);
    assert_eq!(status, 1);
    assert!(!err.contains('\x07') && err.contains("\\x07"), "{err:?}");
    // A file name is echoed too, in the table.
    let named = dir.path().join("a\x1bb.trace");
    std::fs::write(&named, "# mem3 trace v1\na 1 10\nf 1\n").unwrap();
    let (status, out, _) = output(&["replay", named.to_str().unwrap()]);
    assert_eq!(status, 0);
    assert!(!out.contains('\x1b') && out.contains("a\\x1bb.trace"), "{out:?}");
}

#[test]
fn a_failed_replay_names_the_request_size_and_the_largest_free_block() {
    let trace = gcc_trace();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("f.svg");
    let args = ["replay", trace.to_str().unwrap(), "--pool-size", "16K", "--map-at", "end"];
    let (status, out, err) = output(&[&args[..], &["--map", svg.to_str().unwrap()]].concat());
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("on line 65 for 4,064 B did not fit (largest free block 3,432 B)"),
        "{out}"
    );
    let text = check_svg(&svg, 1);
    assert!(text.contains("line 65 for 4,064 B (largest free block 3,432 B)"));
}

/// Runs `mem3 ARGS` in a shell whose address space is limited, so that a large region cannot be had.
#[cfg(target_os = "linux")]
fn output_in_small_address_space(args: &[&str]) -> (i32, String, String) {
    let bin = assert_cmd::cargo::cargo_bin("mem3");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 400000 && exec "$0" "$@""#)
        .arg(bin)
        .args(args)
        .output()
        .expect("sh runs");
    (
        out.status.code().expect("mem3 exits, not killed"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg(target_os = "linux")]
fn a_pool_the_system_refuses_is_a_clear_error_never_an_abort() {
    let hello = repo("examples/hello.m3");
    let hello = hello.to_str().unwrap();
    // A flag: exit 2.
    let (status, _, err) = output_in_small_address_space(&["run", hello, "--pool-size", "1024M"]);
    assert_eq!(status, 2, "{err}");
    assert_clean_error(&err);
    assert!(err.contains("--pool-size: cannot make a pool of 1,073,741,824 B"), "{err}");
    let trace = gcc_trace();
    let (status, _, err) =
        output_in_small_address_space(&["replay", trace.to_str().unwrap(), "--pool-size", "4096M"]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("refused"), "{err}");
    // A `.pool` line: exit 1, the program's error.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.m3");
    std::fs::write(&path, ".pool 1024M\npush 1\nprint\n").unwrap();
    let (status, _, err) = output_in_small_address_space(&["run", path.to_str().unwrap()]);
    assert_eq!(status, 1, "{err}");
    assert_clean_error(&err);
    assert!(err.contains("big.m3: cannot make a pool") && err.contains("refused"), "{err}");
}

/// `rounds` rounds of: twenty 1000-byte blocks, every other one freed, one 5000-byte block (which fits in
/// a pool at the floor only once the ten holes are compacted), then the round's blocks freed.
fn compacting_rounds(dir: &Path, rounds: usize) -> PathBuf {
    let mut text = String::from("# mem3 trace v1\n");
    for r in 0..rounds {
        let id = |k: usize| r * 100 + k;
        for k in 1..=20 {
            text += &format!("a {} 1000\n", id(k));
        }
        for k in (2..=20).step_by(2) {
            text += &format!("f {}\n", id(k));
        }
        text += &format!("a {} 5000\n", id(50));
        for k in (1..=20).step_by(2).chain([50]) {
            text += &format!("f {}\n", id(k));
        }
    }
    let path = dir.join("rounds.trace");
    std::fs::write(&path, text).unwrap();
    path
}

/// The compaction events of an explorer page, each checked to have the heap before and after it: the
/// same moment and line, the same bytes in use, fewer free blocks and a larger largest free block after.
fn compaction_events(data: &serde_json::Value) -> Vec<serde_json::Value> {
    let snapshots = data["snapshots"].as_array().unwrap();
    let events: Vec<serde_json::Value> = data["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "compaction")
        .cloned()
        .collect();
    for e in &events {
        let (Some(before), Some(after)) = (e["before"].as_u64(), e["after"].as_u64()) else {
            panic!("no snapshots around {e}")
        };
        let (before, after) = (&snapshots[before as usize], &snapshots[after as usize]);
        for s in [before, after] {
            assert_eq!((&s["at"], &s["line"]), (&e["at"], &e["line"]), "{e}: {s}");
        }
        assert!(before["freeBlocks"].as_u64() > after["freeBlocks"].as_u64(), "{e}");
        assert!(before["largest"].as_u64() < after["largest"].as_u64(), "{e}");
        let used = |s: &serde_json::Value| s["used"].as_u64().unwrap();
        // Compaction moves blocks and trims them to the size last asked for: never more used bytes.
        assert!(used(after) <= used(before) && used(after) + 4096 > used(before), "{e}");
    }
    events
}

#[test]
fn replay_compact_html_marks_each_compaction_with_the_heap_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("x.html");
    let html_arg = html.to_str().unwrap();
    // gcc-as in a tight best-fit pool compacts once, at the request on line 21,197.
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    let args = ["replay", trace, "--policy", "best-fit", "--pool-size", TIGHT, "--compact"];
    let (status, out, err) = output(&[&args[..], &["--html", html_arg]].concat());
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("compaction   1 compactions moved"), "the table as without --html: {out}");
    let size = std::fs::metadata(&html).unwrap().len();
    assert!(size < 4 << 20, "{size} bytes");
    let data = explorer_data(&html);
    assert!(
        data["title"].as_str().unwrap().contains("gcc-as.trace.gz --compact: 3,223,500 B pool")
    );
    assert_eq!(data["tagMeaning"], "line");
    let events = compaction_events(&data);
    assert_eq!(events.len(), 1, "{}", data["events"]);
    assert_eq!(events[0]["line"], 21197);
    assert!(!data["events"].as_array().unwrap().iter().any(|e| e["kind"] == "failure"));
    let snapshots = data["snapshots"].as_array().unwrap();
    let peak = data["peak"].as_u64().unwrap() as usize;
    assert!(snapshots.len() > 10 && snapshots.len() < 100, "{}", snapshots.len());
    assert!(snapshots[peak]["exact"].as_bool().unwrap());
    // Five rounds that each compact once: five events, each with its before and after.
    let rounds = compacting_rounds(dir.path(), 5);
    let rounds = rounds.to_str().unwrap();
    let floor = uint(&replay_json(&["replay", rounds, "--compact", "--json"]), "floor_pool_bytes");
    let floor = floor.to_string();
    let args = ["replay", rounds, "--compact", "--pool-size", &floor, "--json"];
    let json = replay_json(&[&args[..], &["--html", html_arg]].concat());
    assert_eq!((uint(&json, "compactions"), json["failed_at"].is_null()), (5, true), "{json:?}");
    let data = explorer_data(&html);
    let lines: Vec<u64> =
        compaction_events(&data).iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [32, 74, 116, 158, 200], "each round's 5000-byte request (42 lines a round)");
    // Without compaction the same pool fails, and the failure is marked where the explorer shows it.
    let (status, _, err) = output(&["replay", rounds, "--pool-size", &floor, "--html", html_arg]);
    assert_eq!(status, 0, "{err}");
    let data = explorer_data(&html);
    let kinds: Vec<&str> =
        data["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["failure"]);
    // Below the floor even compaction fails: the failure is marked, and no compaction ran.
    let below = (floor.parse::<usize>().unwrap() - 8).to_string();
    let (status, _, err) =
        output(&["replay", rounds, "--compact", "--pool-size", &below, "--html", html_arg]);
    assert_eq!(status, 0, "{err}");
    let data = explorer_data(&html);
    let kinds: Vec<&str> =
        data["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["failure"]);
    // Pinning is in the title.
    let (status, _, err) =
        output(&[&args[..5], &["--pin-every", "7", "--html", html_arg]].concat());
    assert_eq!(status, 0, "{err}");
    let data = explorer_data(&html);
    assert!(
        data["title"].as_str().unwrap().contains("--compact --pin-every 7:"),
        "{}",
        data["title"]
    );
    // Bad input is a clear error: a page that cannot be written, a pool too small to make.
    let (status, _, err) = output(&[&args[..5], &["--html", "/no/such/dir/x.html"]].concat());
    assert_eq!(status, 1);
    assert_clean_error(&err);
    assert!(err.contains("cannot write /no/such/dir/x.html"), "{err}");
    let (status, _, err) =
        output(&["replay", rounds, "--compact", "--pool-size", "8", "--html", html_arg]);
    assert_eq!(status, 2, "{err}");
    assert_clean_error(&err);
}

// --- replay --breakdown (issue 14) ---------------------------------------------------------------

#[test]
fn replay_breakdown_splits_the_region_at_the_peak_and_around_the_smallest_pool() {
    let trace = gcc_trace();
    let trace = trace.to_str().unwrap();
    let json = replay_json(&["replay", trace, "--json", "--breakdown", "--min-pool"]);
    let parts = |b: &serde_json::Value| -> u64 {
        [
            "requested_bytes",
            "header_bytes",
            "rounding_bytes",
            "min_block_bytes",
            "absorbed_bytes",
            "metadata_bytes",
            "unused_bytes",
            "hole_bytes",
            "top_bytes",
        ]
        .iter()
        .map(|f| b[f].as_u64().unwrap())
        .sum()
    };
    let all = json["breakdown"].as_array().expect("a breakdown array");
    let moments: Vec<&str> = all.iter().map(|b| b["moment"].as_str().unwrap()).collect();
    assert_eq!(
        moments,
        ["peak", "peak in the smallest pool", "failure 8 bytes below the smallest pool"]
    );
    for b in all {
        assert_eq!(parts(b), b["region_bytes"].as_u64().unwrap(), "{b:?}");
    }
    assert_eq!(all[0]["region_bytes"].as_u64(), Some(uint(&json, "pool_bytes")));
    assert_eq!(all[0]["requested_bytes"].as_u64(), Some(uint(&json, "peak_live_bytes")));
    let min = uint(&json, "min_pool_bytes");
    assert_eq!(all[1]["region_bytes"].as_u64(), Some(min));
    assert_eq!(all[2]["region_bytes"].as_u64(), Some(min - 8));
    // Without --json the same split is a table.
    let (status, out, err) = output(&["replay", trace, "--breakdown"]);
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("breakdown    peak, line 21,197"), "{out}");
    for part in ["requested", "headers", "rounding", "smallest block", "metadata", "holes by size"]
    {
        assert!(out.contains(part), "{part} in {out}");
    }
    // A breakdown is of a pool that does not move blocks.
    let (status, out, err) = output(&["replay", trace, "--breakdown", "--compact"]);
    assert_eq!((status, out.as_str()), (2, ""), "{err}");
}
