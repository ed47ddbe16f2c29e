//! `benches/record`: a C program with known allocations, recorded through `record.sh`, gives exactly those
//! requests as a trace that parses, with nothing from a forked child and a consistent order when threads
//! allocate at once.

#![cfg(target_os = "linux")]
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::Command};

use mem3_trace::{Op, Trace};

const PROGRAM: &str = r#"
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *churn(void *arg) {
    for (int i = 0; i < 20000; i++) free(malloc(16 + i % 64));
    return arg;
}

int main(void) {
    free(malloc(123457));
    char *a = malloc(100);
    int *b = calloc(3, 10);
    a = realloc(a, 5000);
    void *c = NULL;
    if (posix_memalign(&c, 64, 40)) return 1;
    void *d = aligned_alloc(4096, 8192);
    free(b);
    void *e = realloc(NULL, 7);
    e = reallocarray(e, 3, 11);
    if (realloc(e, 0) != NULL) return 1;
    free(a);
    free(c);
    free(d);
    volatile size_t huge = (size_t)-1;
    if (calloc(huge, 16) != NULL) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        free(malloc(777));
        exit(0);
    }
    waitpid(pid, NULL, 0);
    free(malloc(123458));
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, churn, NULL);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return 0;
}
"#;

/// An operation as the test writes it: the kind, the size (the new size of a resize) and the alignment.
fn shape(op: Op) -> (char, usize, usize) {
    match op {
        Op::Alloc { size, align, .. } => ('a', size, align),
        Op::Free { size, align, .. } => ('f', size, align),
        Op::Realloc { new_size, align, .. } => ('r', new_size, align),
    }
}

#[test]
fn a_recorded_program_gives_exactly_its_requests() {
    let dir = std::env::temp_dir().join(format!("mem3-record-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("program.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let program = dir.join("program");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc)
        .args(["-O0", "-pthread", "-o"])
        .arg(&program)
        .arg(&source)
        .status()
        .unwrap_or_else(|e| panic!("{cc} (the C compiler the recorder needs): {e}"));
    assert!(built.success());

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("record/record.sh");
    let out =
        Command::new("bash").arg(&script).arg(dir.join("trace")).arg(&program).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // One file: the forked child recorded nothing.
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".trace.gz"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let trace = Trace::parse(&std::fs::read(&files[0]).unwrap()).expect("the recording parses");
    let ops: Vec<_> = trace.ops().map(shape).collect();

    let start = ops.iter().position(|&op| op == ('a', 123457, 8)).expect("the first marker");
    let end = ops.iter().position(|&op| op == ('a', 123458, 8)).expect("the second marker");
    let expected = [
        ('a', 123457, 8),
        ('f', 123457, 8),
        ('a', 100, 8),
        ('a', 30, 8),
        ('r', 5000, 8),
        ('a', 40, 64),
        ('a', 8192, 4096),
        ('f', 30, 8),
        ('a', 7, 8),
        ('r', 33, 8),
        ('f', 33, 8),
        ('f', 5000, 8),
        ('f', 40, 64),
        ('f', 8192, 4096),
    ];
    assert_eq!(&ops[start..end], &expected[..]);
    assert!(!ops.contains(&('a', 777, 8)), "the forked child's allocation");
    // The two threads' 40,000 allocations, each freed after it was made (else the trace would not parse).
    let churned = ops[end..]
        .iter()
        .filter(|&&(kind, size, _)| kind == 'a' && (16..80).contains(&size))
        .count();
    assert!(churned >= 40_000, "{churned}");
    std::fs::remove_dir_all(&dir).unwrap();
}
