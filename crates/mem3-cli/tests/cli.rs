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
const TIGHT: &str = "3222500";

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
    let (status, _, err) =
        output(&["replay", trace.to_str().unwrap(), "--compact", "--map", svg.to_str().unwrap()]);
    assert_eq!(status, 0, "{err}");
    assert!(check_svg(&svg, 1).contains("after all 33,037 requests"));
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
