//! mem3's VM beside Lua 5.4 and MicroPython on the programs in `benches/interpreters/`, and the table in
//! `docs/interpreters.md`.
//!
//! `cargo run --release -p mem3-benches --bin interpreters` (a few minutes on 2 cores). It runs each program
//! in each interpreter it finds (`lua5.4`, `micropython`; one that is missing is named and skipped), checks
//! that every output equals mem3's, and measures:
//!
//! - time: the median of `MEM3_BENCH_REPS` (default 5) runs, each timed inside the interpreter (compiling
//!   and running the program, not starting the process: MicroPython's unix port from PyPI starts inside
//!   CPython, which takes longer than most programs here): `Instant` for mem3, `time.ticks_us` for
//!   MicroPython, `os.clock` (CPU time; stock Lua has no finer clock) for Lua;
//! - peak memory: the process's peak resident set above that of the empty program;
//! - instructions: callgrind's count for the whole process tree (`valgrind --tool=callgrind
//!   --trace-children=yes`), less the empty program's, when valgrind is installed (`MEM3_BENCH_INSTRUCTIONS=0`
//!   skips it; it takes a few minutes). Unlike the times these repeat to a few parts in a million, so they
//!   settle a comparison on a noisy machine;
//! - the smallest heap the program runs in, by bisection: mem3's `--pool-size` (the whole region, bitmap
//!   included), MicroPython's `-X heapsize`, and for Lua a limit on the bytes its allocator holds
//!   (`benches/interpreters/lua_limit.c`, built with `cc` when the Lua 5.4 headers are installed).
//!
//! mem3 runs in a child process of this binary (`interpreters --run-m3 POOL FILE`), the same way as the
//! others, with a 2 MiB pool (MicroPython's default heap); its instructions and allocations per second are
//! measured in this process. Only the part of `docs/interpreters.md` between the two markers is rewritten,
//! so the analysis written around it stays.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use mem3_benches::{callgrind, workloads::median};

/// The programs, by file stem in `benches/interpreters/`.
const PROGRAMS: [&str; 5] = ["fib", "arith", "strings", "churn", "torture"];
/// mem3's pool for the timed runs: MicroPython's default heap.
const TIMING_POOL: usize = 2 << 20;
/// The largest heap the bisection tries.
const MAX_HEAP: usize = 2 << 20;
/// GNU time, for each run's peak resident set (Debian's `time`); without it the figure includes what the
/// child inherited from this process.
const GNU_TIME: &str = "/usr/bin/time";
const BEGIN: &str = "<!-- interpreters: generated, do not edit by hand -->";
const END: &str = "<!-- interpreters: end of generated part -->";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interpreters")
}

/// What one run of a child process did.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    wall: Duration,
    /// Peak resident set in KiB.
    max_rss_kib: u64,
}

/// Runs `argv` to the end, its output in files (so no pipe can fill), and takes its resource usage from
/// `wait4`.
fn run(argv: &[String]) -> Run {
    let tmp = std::env::temp_dir();
    let id = std::process::id();
    let (out_path, err_path) =
        (tmp.join(format!("mem3-interp-{id}.out")), tmp.join(format!("mem3-interp-{id}.err")));
    let out = fs::File::create(&out_path).expect("a temporary file");
    let err = fs::File::create(&err_path).expect("a temporary file");
    // A child's `ru_maxrss` includes what it inherited from this process before its `exec`, and this
    // process holds mem3 pools of its own. GNU time is a small process: the peak it reports for its own
    // child is the interpreter's.
    let rss_path = tmp.join(format!("mem3-interp-{id}.rss"));
    let mut argv = argv.to_vec();
    if Path::new(GNU_TIME).exists() {
        let wrap = [GNU_TIME, "-f", "maxrss-kib %M", "-o"].map(String::from);
        argv.splice(0..0, wrap.into_iter().chain([rss_path.display().to_string()]));
    }
    let start = Instant::now();
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", argv[0]));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain old data, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (`child` is never waited on or dropped with a wait),
    // and both out-pointers point to live, writable locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(reaped, pid, "wait4 failed");
    drop(child);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
    let run = Run {
        ok,
        stdout: read(&out_path),
        stderr: read(&err_path),
        wall,
        max_rss_kib: fs::read_to_string(&rss_path)
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| l.strip_prefix("maxrss-kib ")?.trim().parse().ok())
            })
            .unwrap_or(usage.ru_maxrss as u64),
    };
    let _ = fs::remove_file(rss_path);
    let _ = fs::remove_file(out_path);
    let _ = fs::remove_file(err_path);
    run
}

/// The time a run reported on stderr (see [`Interp::timed`]).
fn inner_seconds(r: &Run) -> Option<f64> {
    let line = r.stderr.lines().find_map(|l| l.strip_prefix("interp-time-us "))?;
    Some(line.trim().parse::<f64>().ok()? / 1e6)
}

/// The executable a command name runs: through pyenv's shim (a shell script that starts several processes,
/// whose instructions would swamp a small program's), the one it would run.
fn resolve(name: &str) -> String {
    Command::new("pyenv")
        .args(["which", name])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| name.to_string())
}

/// One interpreter: how to run a file, and how to run it in a heap of a given size.
struct Interp {
    name: &'static str,
    ext: &'static str,
    argv: Vec<String>,
    /// `argv` for a run in a heap of `n` bytes, ending just before the file name.
    limited: Option<Box<dyn Fn(usize) -> Vec<String>>>,
}

impl Interp {
    fn command(&self, file: &Path) -> Vec<String> {
        let mut v = self.argv.clone();
        v.push(file.display().to_string());
        v
    }

    /// The command that runs `file` and reports the time it took inside the interpreter (compiling and
    /// running, not starting the process) on stderr, as `interp-time-us N`.
    fn timed(&self, file: &Path) -> Vec<String> {
        let f = file.display().to_string();
        match self.ext {
            // `os.clock` is the process's CPU time: stock Lua has no finer wall clock.
            "lua" => vec![
                self.argv[0].clone(),
                "-e".into(),
                format!(
                    "local c = os.clock() dofile({f:?}) \
                     io.stderr:write(string.format('interp-time-us %d\\n', math.floor((os.clock() - c) * 1e6)))"
                ),
            ],
            "py" => vec![
                self.argv[0].clone(),
                "-c".into(),
                format!(
                    "import time, sys\nt = time.ticks_us()\nexec(open({f:?}).read())\n\
                     sys.stderr.write('interp-time-us %d\\n' % time.ticks_diff(time.ticks_us(), t))\n"
                ),
            ],
            _ => self.command(file),
        }
    }

    fn limited(&self, n: usize, file: &Path) -> Option<Vec<String>> {
        let mut v = self.limited.as_ref()?(n);
        v.push(file.display().to_string());
        Some(v)
    }
}

/// Whether `argv` runs an empty program successfully.
fn works(argv: &[String], empty: &Path) -> bool {
    let mut v = argv.to_vec();
    v.push(empty.display().to_string());
    Command::new(&v[0])
        .args(&v[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Builds `lua_limit` next to this binary; `None` (with the reason printed) when it cannot.
fn build_lua_limit() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.join("lua_limit");
    let source = dir().join("lua_limit.c");
    let status = Command::new("cc")
        .args(["-O2", "-I/usr/include/lua5.4"])
        .arg(&source)
        .args(["-llua5.4", "-o"])
        .arg(&target)
        .status();
    match status {
        Ok(s) if s.success() => Some(target),
        _ => {
            println!(
                "Lua's smallest heap skipped: building {} needs cc and liblua5.4-dev",
                source.display()
            );
            None
        }
    }
}

/// The smallest `n` in `lo..=hi` for which `fits(n)`, by bisection to `step` bytes, assuming that a larger
/// heap never fails where a smaller one runs. `None` if even `hi` does not fit.
fn smallest(
    mut lo: usize,
    mut hi: usize,
    step: usize,
    mut fits: impl FnMut(usize) -> bool,
) -> Option<usize> {
    if !fits(hi) {
        return None;
    }
    while hi - lo > step {
        let mid = (lo + hi) / 2 / step * step;
        let mid = mid.max(lo + 1);
        if fits(mid) { hi = mid } else { lo = mid }
    }
    Some(hi)
}

/// mem3's figures measured in this process.
struct VmFigures {
    steps: u64,
    allocations: u64,
    collections: u64,
    seconds: f64,
}

fn vm_figures(source: &str, reps: usize) -> VmFigures {
    let program = mem3_vm::assemble(source).expect("the program assembles");
    let options = mem3_vm::Options { pool_size: Some(TIMING_POOL), ..Default::default() };
    let mut times = Vec::new();
    let mut stats = None;
    for _ in 0..reps {
        let start = Instant::now();
        let outcome =
            mem3_vm::run_program(&program, &options, &mut std::io::sink()).expect("a pool");
        times.push(start.elapsed().as_secs_f64());
        stats = Some(outcome.result.expect("the program runs"));
    }
    let stats = stats.expect("at least one run");
    VmFigures {
        steps: stats.steps,
        allocations: stats.allocations,
        collections: stats.collections,
        seconds: median(&times),
    }
}

/// `interpreters --run-m3 POOL FILE`: runs one mem3 program, as a child process.
fn run_m3(pool: &str, file: &str) -> ! {
    let source = fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let start = Instant::now();
    let program = match mem3_vm::assemble(&source) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{file}: {e:?}");
            std::process::exit(1);
        }
    };
    let options =
        mem3_vm::Options { pool_size: Some(pool.parse().expect("POOL")), ..Default::default() };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = match mem3_vm::run_program(&program, &options, &mut out) {
        Ok(outcome) => match outcome.result {
            Ok(_) => 0,
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
        Err(e) => {
            eprintln!("{e}");
            1
        }
    };
    drop(out);
    eprintln!("interp-time-us {}", start.elapsed().as_micros());
    std::process::exit(code);
}

/// Per program and interpreter.
#[derive(Default, Clone)]
struct Cell {
    seconds: Option<f64>,
    rss_kib: Option<u64>,
    smallest: Option<usize>,
    /// Instructions, less the empty program's.
    instructions: Option<u64>,
    /// mem3 only: bytes of the handle table (outside the pool) in a run in the smallest pool.
    table_bytes: Option<usize>,
    note: Option<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--run-m3") {
        run_m3(&args[2], &args[3]);
    }
    let reps: usize =
        std::env::var("MEM3_BENCH_REPS").ok().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let out_path = std::env::var("MEM3_BENCH_OUT").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/interpreters.md")
    });
    let dir = dir();
    let exe = std::env::current_exe().expect("the path of this binary").display().to_string();
    let empty_dir = std::env::temp_dir().join(format!("mem3-interp-empty-{}", std::process::id()));
    fs::create_dir_all(&empty_dir).expect("a temporary directory");

    let mut interps = vec![Interp {
        name: "mem3",
        ext: "m3",
        argv: vec![exe.clone(), "--run-m3".into(), TIMING_POOL.to_string()],
        limited: None,
    }];
    let lua = vec![resolve("lua5.4")];
    let mpy = vec![resolve("micropython")];
    for (name, ext, argv) in [("Lua 5.4", "lua", lua), ("MicroPython", "py", mpy)] {
        let empty = empty_dir.join(format!("empty.{ext}"));
        fs::write(&empty, "").expect("an empty program");
        if works(&argv, &empty) {
            interps.push(Interp { name, ext, argv, limited: None });
        } else {
            println!(
                "{name} skipped: `{}` cannot be run (see benches/README.md to install it)",
                argv[0]
            );
        }
    }
    for interp in &mut interps {
        match interp.ext {
            "py" => {
                let mpy = interp.argv[0].clone();
                interp.limited =
                    Some(Box::new(move |n| vec![mpy.clone(), "-X".into(), format!("heapsize={n}")]))
            }
            "lua" => {
                if let Some(host) = build_lua_limit() {
                    let host = host.display().to_string();
                    interp.limited = Some(Box::new(move |n| vec![host.clone(), n.to_string()]));
                }
            }
            _ => {}
        }
    }

    // Start-up: the empty program's median time and peak resident set.
    let mut startup = Vec::new();
    for interp in &interps {
        let empty = empty_dir.join(format!("empty.{}", interp.ext));
        fs::write(&empty, "").expect("an empty program");
        let runs: Vec<Run> = (0..reps).map(|_| run(&interp.command(&empty))).collect();
        let t: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
        let rss = runs.iter().map(|r| r.max_rss_kib).min().unwrap_or(0);
        startup.push((median(&t), rss));
        println!(
            "{}: start-up {:.1} ms, {} KiB resident",
            interp.name,
            startup.last().unwrap().0 * 1e3,
            rss
        );
    }

    let mut cells: Vec<Vec<Cell>> = Vec::new();
    let mut vm = Vec::new();
    for program in PROGRAMS {
        let m3 = dir.join(format!("{program}.m3"));
        let source = fs::read_to_string(&m3).expect("the mem3 program");
        let expected = run(&interps[0].command(&m3));
        assert!(expected.ok, "{program}.m3 fails in mem3: {}", expected.stderr);
        // The repetitions take turns between the interpreters, so a change in the machine's load falls on
        // all of them alike.
        let file_of = |interp: &Interp| dir.join(format!("{program}.{}", interp.ext));
        let mut all_runs: Vec<Vec<Run>> = interps.iter().map(|_| Vec::new()).collect();
        for _ in 0..reps {
            for (interp, runs) in interps.iter().zip(&mut all_runs) {
                runs.push(run(&interp.timed(&file_of(interp))));
            }
        }
        let mut row = Vec::new();
        for ((i, interp), runs) in interps.iter().enumerate().zip(all_runs) {
            let file = file_of(interp);
            let mut cell = Cell::default();
            if let Some(bad) = runs.iter().find(|r| !r.ok || r.stdout != expected.stdout) {
                cell.note = Some(format!("output differs or fails: {}", bad.stderr.trim()));
                println!("{program} in {}: {}", interp.name, cell.note.as_deref().unwrap());
                row.push(cell);
                continue;
            }
            let t: Vec<f64> = runs.iter().filter_map(inner_seconds).collect();
            cell.seconds = (t.len() == runs.len()).then(|| median(&t));
            let rss = runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);
            cell.rss_kib = Some(rss.saturating_sub(startup[i].1));
            cell.smallest = if interp.ext == "m3" {
                let program = mem3_vm::assemble(&source).expect("assembles");
                let fits = |n| {
                    let options = mem3_vm::Options { pool_size: Some(n), ..Default::default() };
                    let mut out = Vec::new();
                    mem3_vm::run_program(&program, &options, &mut out)
                        .ok()
                        .filter(|o| o.result.is_ok() && out == expected.stdout.as_bytes())
                        .map(|o| o.heap.handle_table_bytes)
                };
                let min = smallest(256, MAX_HEAP, 8, |n| fits(n).is_some());
                cell.table_bytes = min.and_then(fits);
                min
            } else if interp.limited.is_some() {
                smallest(1024, MAX_HEAP, 64, |n| {
                    let r = run(&interp.limited(n, &file).expect("limited"));
                    r.ok && r.stdout == expected.stdout
                })
            } else {
                None
            };
            println!(
                "{program} in {}: {:.1} ms, {} KiB, smallest heap {:?}",
                interp.name,
                cell.seconds.unwrap() * 1e3,
                cell.rss_kib.unwrap(),
                cell.smallest
            );
            row.push(cell);
        }
        // MicroPython in mem3's smallest pool.
        if let (Some(m3_min), Some(i)) =
            (row[0].smallest, interps.iter().position(|i| i.ext == "py"))
        {
            let file = dir.join(format!("{program}.py"));
            if let Some(argv) = interps[i].limited(m3_min, &file) {
                let r = run(&argv);
                let what = if r.ok {
                    "runs".to_string()
                } else if r.stderr.contains("MemoryError") || r.stdout.contains("MemoryError") {
                    "MemoryError".to_string()
                } else if r.stderr.contains("Invalid command line arguments") {
                    "refuses a heap that small".to_string()
                } else {
                    format!("fails: {}", r.stderr.lines().last().unwrap_or(""))
                };
                row[i].note = Some(what);
            }
        }
        vm.push(vm_figures(&source, reps));
        cells.push(row);
    }

    // Instructions, after every output was checked: the empty program and each program that ran right.
    let mut startup_instructions = vec![None; interps.len()];
    if let Some(why) = callgrind::skipped() {
        println!("instruction counts skipped: {why}");
    } else {
        let mut jobs = Vec::new();
        let mut commands = Vec::new();
        for (i, interp) in interps.iter().enumerate() {
            jobs.push((None, i));
            let empty = interp.command(&empty_dir.join(format!("empty.{}", interp.ext)));
            commands.push(callgrind::Count { argv: empty, inside: None });
            for (p, program) in PROGRAMS.iter().enumerate() {
                if cells[p][i].seconds.is_some() {
                    jobs.push((Some(p), i));
                    let argv = interp.command(&dir.join(format!("{program}.{}", interp.ext)));
                    commands.push(callgrind::Count { argv, inside: None });
                }
            }
        }
        println!("counting instructions: {} runs under callgrind", commands.len());
        let counts = callgrind::instructions_of_all(&commands);
        for (&(p, i), &n) in jobs.iter().zip(&counts) {
            if p.is_none() {
                startup_instructions[i] = n;
            }
        }
        for (&(p, i), &n) in jobs.iter().zip(&counts) {
            if let Some(p) = p {
                cells[p][i].instructions =
                    n.zip(startup_instructions[i]).map(|(n, s)| n.saturating_sub(s));
            }
        }
    }
    let _ = fs::remove_dir_all(&empty_dir);

    let md = table(&interps, &startup, &startup_instructions, &cells, &vm, reps);
    let old = fs::read_to_string(&out_path).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        // The hand-written part after the marker keeps one blank line before it, however often this runs.
        (Some(b), Some(e)) if b < e => {
            format!("{}{md}\n{}", &old[..b], old[e + END.len()..].trim_start_matches('\n'))
        }
        _ => format!("# mem3's VM beside Lua and MicroPython\n\n{md}\n"),
    };
    fs::write(&out_path, new).unwrap_or_else(|e| panic!("{}: {e}", out_path.display()));
    println!("wrote {}", out_path.display());
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{:.0} ms", s * 1e3))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "-".into(),
    }
}

fn mega(n: Option<f64>) -> String {
    n.map_or("-".into(), |n| format!("{:.1}M", n / 1e6))
}

fn kib(n: Option<usize>) -> String {
    n.map_or("-".into(), |n| format!("{:.1} KiB", n as f64 / 1024.0))
}

fn table(
    interps: &[Interp],
    startup: &[(f64, u64)],
    startup_instructions: &[Option<u64>],
    cells: &[Vec<Cell>],
    vm: &[VmFigures],
    reps: usize,
) -> String {
    let pos = |ext: &str| interps.iter().position(|i| i.ext == ext);
    let (lua, py) = (pos("lua"), pos("py"));
    let get = |row: &[Cell], i: Option<usize>| i.map(|i| row[i].clone()).unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(md, "{BEGIN}\n");
    let _ = writeln!(
        md,
        "Generated by `cargo run --release -p mem3-benches --bin interpreters` on {} (median of {reps} runs; \
         the machine is shared, so compare the ratios, measured in one run). Times are taken inside each interpreter (compile and run, without process start-up: {}).\n",
        date(),
        interps
            .iter()
            .zip(startup)
            .map(|(i, (t, rss))| format!("{} {:.1} ms and {} KiB resident", i.name, t * 1e3, rss))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if lua.is_none() || py.is_none() {
        let _ = writeln!(
            md,
            "Skipped (not installed): {}.\n",
            [("Lua 5.4", lua), ("MicroPython", py)]
                .iter()
                .filter(|(_, p)| p.is_none())
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // One figure per program and interpreter, with mem3's ratios to the two peers.
    let comparison = |md: &mut String,
                      figure: &dyn Fn(&Cell) -> Option<f64>,
                      show: fn(Option<f64>) -> String| {
        let _ = writeln!(
            md,
            "| program | mem3 | Lua 5.4 | MicroPython | mem3 / Lua | mem3 / MicroPython |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for (program, row) in PROGRAMS.iter().zip(cells) {
            let (m, l, p) = (figure(&row[0]), figure(&get(row, lua)), figure(&get(row, py)));
            let _ = writeln!(
                md,
                "| {program} | {} | {} | {} | {} | {} |",
                show(m),
                show(l),
                show(p),
                ratio(m, l),
                ratio(m, p)
            );
        }
    };
    let _ = writeln!(md, "### Time\n");
    comparison(&mut md, &|c| c.seconds, ms);
    if startup_instructions.iter().any(Option::is_some) {
        let _ = writeln!(md, "\n### Instructions\n");
        let _ = writeln!(
            md,
            "callgrind's count of each interpreter's whole process (`valgrind --tool=callgrind \
             --trace-children=yes`), less its count for an empty program ({}); mem3 with the {} KiB pool of \
             the timed runs. They repeat to a few parts in a million where the times above move by a tenth; an \
             instruction is not a unit of time, but the order is the same.\n",
            interps
                .iter()
                .zip(startup_instructions)
                .map(|(i, n)| format!("{} {}", i.name, mega(n.map(|n| n as f64))))
                .collect::<Vec<_>>()
                .join(", "),
            TIMING_POOL / 1024
        );
        comparison(&mut md, &|c| c.instructions.map(|n| n as f64), mega);
    }
    let _ = writeln!(md, "\n### Memory\n");
    let _ = writeln!(
        md,
        "Peak resident set above the interpreter's start-up, and the smallest heap the program runs in \
         (bisection: mem3's whole pool region, Lua's allocator limit, MicroPython's `-X heapsize`). mem3's \
         handle table (16 bytes a slot) and its program live outside the pool, on the global heap; the column \
         after the pool gives the table's bytes in that run. MicroPython's heap holds its compiled program \
         too. The last column runs MicroPython with a heap of mem3's smallest pool.\n"
    );
    let _ = writeln!(
        md,
        "| program | peak RSS mem3 | Lua | MicroPython | smallest heap mem3 | (+ handle table) | Lua | MicroPython | mem3 / MicroPython | MicroPython in mem3's smallest pool |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    for (program, row) in PROGRAMS.iter().zip(cells) {
        let (l, p) = (get(row, lua), get(row, py));
        let rss = |c: &Cell| c.rss_kib.map_or("-".into(), |k| format!("{k} KiB"));
        let heap_ratio = match (row[0].smallest, p.smallest) {
            (Some(a), Some(b)) => format!("{:.2}×", a as f64 / b as f64),
            _ => "-".into(),
        };
        let _ = writeln!(
            md,
            "| {program} | {} | {} | {} | {} | {} | {} | {} | {heap_ratio} | {} |",
            rss(&row[0]),
            rss(&l),
            rss(&p),
            kib(row[0].smallest),
            row[0].table_bytes.map_or("-".into(), |b| format!("{b} B")),
            kib(l.smallest),
            kib(p.smallest),
            p.note.as_deref().unwrap_or("-")
        );
    }
    let _ = writeln!(md, "\n### mem3's VM, in process\n");
    let _ = writeln!(
        md,
        "`mem3_vm::run_program` with a {} KiB pool, output discarded.\n",
        TIMING_POOL / 1024
    );
    let _ = writeln!(
        md,
        "| program | instructions | allocations | collections | time | instructions/s | allocations/s |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (program, f) in PROGRAMS.iter().zip(vm) {
        let _ = writeln!(
            md,
            "| {program} | {} | {} | {} | {:.0} ms | {:.1} M/s | {:.1} M/s |",
            f.steps,
            f.allocations,
            f.collections,
            f.seconds * 1e3,
            f.steps as f64 / f.seconds / 1e6,
            f.allocations as f64 / f.seconds / 1e6
        );
    }
    let _ = writeln!(md, "\n{END}");
    md
}

/// Today's date and time, from `date` (the bench crate takes no dependency for it).
fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
