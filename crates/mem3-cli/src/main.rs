//! The mem3 command line: `mem3 demo`, `mem3 run`, `mem3 replay` (`mem3 --help` describes each; the
//! repository's `docs/vm.md` and `docs/trace-format.md` describe the inputs).
//!
//! This crate only parses arguments, calls the library crates and prints; the heap-map data comes from
//! `mem3_pool::map`, the figures from the pool, the heap, the VM and the trace module.

// The command only parses, calls the libraries and prints; nothing here needs `unsafe`.
#![forbid(unsafe_code)]

mod demo;
mod heapmap;
mod html;
mod replay;
mod run;
mod units;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Sizes take the suffixes K (x1024) and M (x1024x1024), as in `.pool 64K`.

Exit status: 0 on success (a replay that ran out of pool included), 1 when the program or trace is wrong or
cannot be read, or a program stops with a runtime error, 2 for a usage error.";

/// mem3: a fixed memory pool, typed objects that move, and a VM on top. Shows why the allocator's
/// choices matter.
#[derive(Debug, Parser)]
#[command(name = "mem3", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fragment a small pool and defragment it, with heap maps before and after (needs no file).
    ///
    /// Fills a 16 KiB pool with VM objects and frees some, shows that a large allocation fails for lack
    /// of a contiguous block although enough bytes are free, defragments, and shows it succeed.
    Demo {
        /// Also write an SVG picture of the pool after defragmentation.
        #[arg(long, value_name = "OUT.svg")]
        map: Option<PathBuf>,
    },
    /// Assemble and run a VM program (.m3); its output goes to standard output.
    Run {
        /// The program.
        file: PathBuf,
        /// The pool size, overriding the program's `.pool` (default 64K, at most 1024M).
        #[arg(long, value_name = "SIZE", value_parser = parse_vm_pool_size)]
        pool_size: Option<usize>,
        /// Stop with a runtime error after this many instructions. Without it there is no step limit: a
        /// program that loops forever runs forever.
        #[arg(long, value_name = "N")]
        max_steps: Option<u64>,
        /// The most values the value stack may hold.
        #[arg(long, value_name = "N", default_value_t = mem3_vm::DEFAULT_MAX_STACK)]
        max_stack: usize,
        /// The most calls that may be in progress at once.
        #[arg(long, value_name = "N", default_value_t = mem3_vm::DEFAULT_MAX_CALL_DEPTH)]
        max_call_depth: usize,
        /// Never collect garbage when an allocation does not fit (`gc` instructions still run).
        #[arg(long)]
        no_gc: bool,
        /// Never defragment when an allocation does not fit (`defrag` instructions still run).
        #[arg(long)]
        no_defrag: bool,
        /// Defragment before every allocation (a test mode: the output must not change).
        #[arg(long)]
        stress_defrag: bool,
        /// Print the pool's and the run's figures to standard error at the end.
        #[arg(long)]
        stats: bool,
        /// With --stats: print the figures as one JSON object (to standard error).
        #[arg(long, requires = "stats")]
        json: bool,
        /// Draw the pool: an SVG picture to OUT.svg, or `-` for a text map on standard error.
        #[arg(long, value_name = "OUT.svg|-")]
        map: Option<PathBuf>,
        /// The moment --map draws: `peak` (the most bytes in use), `end`, or LINE (the first allocation by
        /// the instruction on that source line).
        #[arg(long, value_name = "peak|end|LINE", default_value = "peak", value_parser = parse_map_at)]
        map_at: MapAt,
        /// Write a self-contained interactive heap explorer (open it in a browser).
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
    },
    /// Replay an allocation trace (plain or .gz) on a pool and report its figures.
    Replay {
        /// The trace (format: docs/trace-format.md in the mem3 repository); gzip is recognised by its content.
        trace: PathBuf,
        /// The pool size, at most 4096M (default: sized from the trace's peak live bytes, at most 1024M).
        #[arg(long, value_name = "SIZE", value_parser = parse_replay_pool_size)]
        pool_size: Option<usize>,
        /// Where each allocation goes among the free blocks that fit.
        #[arg(long, value_enum, default_value_t = PolicyArg::FirstFit)]
        policy: PolicyArg,
        /// Turn on the pool's front cache: freed blocks of up to 256 bytes are reused, most recently freed
        /// first, before the policy is asked (faster; placements then differ from the policy's).
        #[arg(long)]
        front_cache: bool,
        /// Also search for the smallest pool that replays the whole trace.
        #[arg(long)]
        min_pool: bool,
        /// Say where the pool's bytes go (requested payload, headers, rounding, the smallest-block rule,
        /// absorbed bytes, metadata, holes by size, top) at the trace's peak, at a failure, and with
        /// --min-pool in the smallest pool and at the failure of one 8 bytes smaller.
        #[arg(long, conflicts_with = "compact")]
        breakdown: bool,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Draw the pool: an SVG picture to OUT.svg, or `-` for a text map on standard output (with
        /// --compact: just before and just after the first compaction).
        #[arg(long, value_name = "OUT.svg|-")]
        map: Option<PathBuf>,
        /// The moment --map draws: `peak` (the most requested bytes live), `end`, or LINE (after the
        /// request on that trace line, or the first one after it).
        #[arg(long, value_name = "peak|end|LINE", default_value = "peak", value_parser = parse_map_at)]
        map_at: MapAt,
        /// Write a self-contained interactive heap explorer (open it in a browser); with --compact, each
        /// compaction is marked, the first ones with the heap just before and just after.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// Let the replay move blocks: each trace ID names a movable block, and a request that does not
        /// fit, although the free bytes would hold it, compacts the pool and is tried again.
        #[arg(long)]
        compact: bool,
        /// With --compact, pin every Nth allocation (100 pins 1%): pinned blocks never move.
        #[arg(long, value_name = "N", requires = "compact", value_parser = clap::value_parser!(u32).range(1..))]
        pin_every: Option<u32>,
        /// Refuse a trace whose text (after decompression) is longer than this.
        #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_text_limit)]
        max_text: u64,
        /// Refuse a trace of more requests than this (at most 67108864; parsing takes up to about 56
        /// bytes per request).
        #[arg(long, value_name = "N", default_value_t = mem3_trace::Limits::DEFAULT.max_requests,
              value_parser = parse_request_limit)]
        max_requests: usize,
    },
}

/// The placement policies `--policy` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PolicyArg {
    /// The lowest-addressed free block that fits.
    FirstFit,
    /// The smallest free block that fits.
    BestFit,
}

impl PolicyArg {
    fn policy(self) -> mem3_pool::Policy {
        match self {
            PolicyArg::FirstFit => mem3_pool::Policy::FirstFit,
            PolicyArg::BestFit => mem3_pool::Policy::BestFit,
        }
    }

    fn name(self) -> &'static str {
        match self {
            PolicyArg::FirstFit => "first fit",
            PolicyArg::BestFit => "best fit",
        }
    }
}

/// The moment `--map-at` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MapAt {
    /// The most bytes in use.
    Peak,
    /// The end of the run.
    End,
    /// An input line.
    Line(usize),
}

/// `--map-at`: `peak`, `end` or a line number from 1.
fn parse_map_at(text: &str) -> Result<MapAt, String> {
    match text.trim() {
        "peak" => Ok(MapAt::Peak),
        "end" => Ok(MapAt::End),
        t => match t.parse::<usize>() {
            Ok(n) if n > 0 => Ok(MapAt::Line(n)),
            _ => Err("expected `peak`, `end` or a line number from 1".into()),
        },
    }
}

/// Whether a `--map` path means the terminal.
fn is_terminal_map(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// `--pool-size`: a size with an optional K or M suffix, as `.pool` takes, at most `max`. The bound is
/// checked here, before anything is allocated, so that a huge size is a usage error.
fn parse_size(text: &str, max: usize) -> Result<usize, String> {
    let size = mem3_vm::parse_size(text).map_err(|e| e.to_string())?;
    if size > max {
        return Err(format!("{size} bytes is above the limit of {}", units::short(max)));
    }
    Ok(size)
}

/// `mem3 run --pool-size`: at most [`mem3_vm::MAX_POOL_SIZE`].
fn parse_vm_pool_size(text: &str) -> Result<usize, String> {
    parse_size(text, mem3_vm::MAX_POOL_SIZE)
}

/// `mem3 replay --pool-size`: at most [`mem3_trace::MAX_POOL_BYTES`].
fn parse_replay_pool_size(text: &str) -> Result<usize, String> {
    parse_size(text, mem3_trace::MAX_POOL_BYTES)
}

/// `mem3 replay --max-text`: a size as `--pool-size` takes; the text is streamed, so any size is safe.
fn parse_text_limit(text: &str) -> Result<u64, String> {
    parse_size(text, usize::MAX).map(|n| n as u64)
}

/// `mem3 replay --max-requests`: a positive count of at most 2^26, which bounds the parser's memory.
fn parse_request_limit(text: &str) -> Result<usize, String> {
    const MAX: usize = 1 << 26;
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX).contains(&n) => Ok(n),
        _ => Err(format!("expected a number of requests from 1 to {MAX}")),
    }
}

/// Why a command failed: the exit status and the lines to print after `mem3: error: `.
#[derive(Debug)]
struct Failure {
    status: u8,
    lines: Vec<String>,
}

impl Failure {
    /// A wrong program or trace, an unreadable file, a runtime error: exit status 1.
    fn input(line: impl Into<String>) -> Failure {
        Failure { status: 1, lines: vec![line.into()] }
    }

    /// A usage error found after parsing (e.g. a pool size too small): exit status 2.
    fn usage(line: impl Into<String>) -> Failure {
        Failure { status: 2, lines: vec![line.into()] }
    }

    /// A pool of `pool_bytes` that could not be made: a usage error when `--pool-size` asked for it, else
    /// the input's (`name`'s) error, since the input sized it (a `.pool` line, a trace's default).
    fn no_pool(
        error: impl std::fmt::Display,
        pool_bytes: usize,
        from_flag: bool,
        name: &dyn std::fmt::Display,
    ) -> Failure {
        let message = format!("cannot make a pool of {}: {error}", units::bytes(pool_bytes));
        if from_flag {
            Failure::usage(format!("--pool-size: {message}"))
        } else {
            Failure::input(format!("{name}: {message}"))
        }
    }
}

type Outcome = Result<(), Failure>;

/// Reads a whole file, naming it in the error.
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|e| Failure::input(format!("cannot read {}: {}", path.display(), e)))
}

/// Writes a file (an SVG map), naming it in the error.
fn write_file(path: &std::path::Path, contents: &str) -> Outcome {
    std::fs::write(path, contents)
        .map_err(|e| Failure::input(format!("cannot write {}: {}", path.display(), e)))
}

/// Writes `text` to standard output. A closed pipe (`mem3 demo | head`) is not an error: the reader has
/// what it wanted.
fn emit(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

/// Whether to colour what goes to standard output.
fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Whether to colour what goes to standard error.
fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help and --version: clap prints them to standard output.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                eprint!("mem3: error: no command given\n\n{text}");
            } else {
                eprint!("mem3: error: {}", text.strip_prefix("error: ").unwrap_or(&text));
            }
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command {
        Command::Demo { map } => demo::demo(map.as_deref()),
        Command::Run {
            file,
            pool_size,
            max_steps,
            max_stack,
            max_call_depth,
            no_gc,
            no_defrag,
            stress_defrag,
            stats,
            json,
            map,
            map_at,
            html,
        } => {
            let options = mem3_vm::Options {
                pool_size,
                max_steps,
                max_stack,
                max_call_depth,
                collect: !no_gc,
                defragment: !no_defrag,
                stress_defragment: stress_defrag,
            };
            run::run(&run::Args { file, options, stats, json, map, map_at, html })
        }
        Command::Replay {
            trace,
            pool_size,
            policy,
            front_cache,
            min_pool,
            breakdown,
            json,
            map,
            map_at,
            html,
            compact,
            pin_every,
            max_text,
            max_requests,
        } => {
            let limits = mem3_trace::Limits { max_text_bytes: max_text, max_requests };
            let compact =
                compact.then(|| mem3_trace::Pinning::every(pin_every.map_or(0, |n| n as usize)));
            replay::replay(&replay::Args {
                trace,
                pool_size,
                policy,
                front_cache,
                min_pool,
                breakdown,
                json,
                map,
                map_at,
                html,
                limits,
                compact,
            })
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            for line in &failure.lines {
                eprintln!("mem3: error: {}", units::printable(line));
            }
            ExitCode::from(failure.status)
        }
    }
}
