/*
 * malloc_trace: records every allocation a process makes as a mem3 trace (docs/trace-format.md).
 *
 *   cc -O2 -shared -fPIC -o malloc_trace.so malloc_trace.c -ldl
 *   MEM3_TRACE=/tmp/prog LD_PRELOAD=$PWD/malloc_trace.so prog ARGS...
 *
 * Each process that starts with the library preloaded and MEM3_TRACE set writes PREFIX.PID (a program that
 * runs others, such as a compiler driver, leaves one file per process; a child forked without exec records
 * nothing). It interposes malloc, calloc, realloc, reallocarray, free, posix_memalign, aligned_alloc,
 * memalign, valloc and pvalloc, and logs each call that succeeds, with the size the program asked for:
 * `a ID SIZE [ALIGN]`, `r ID SIZE`, `f ID`. A block's ID is its allocation's number, from 1; frees and resizes
 * of blocks allocated before the library started are passed on unlogged.
 *
 * The library calls no allocator itself: the table from addresses to IDs lives in mmap'd memory, the output
 * goes through a static buffer written with write(2), and the calls dlsym makes while the real functions are
 * looked up are served from a static arena. One lock, held across the real call and its log line, keeps the
 * trace in an order a replay can follow when threads allocate.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

/* What dlsym allocates while the real functions are looked up. */
static _Alignas(64) char boot[65536];
static size_t boot_used;
static int resolving;

static int in_boot(const void *p) {
    return (const char *)p >= boot && (const char *)p < boot + sizeof boot;
}

static void *boot_alloc(size_t n) {
    n = (n + 63) & ~(size_t)63;
    if (n > sizeof boot - boot_used) return NULL;
    void *p = boot + boot_used;
    boot_used += n;
    return p;
}

static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_free = dlsym(RTLD_NEXT, "free");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");
    real_valloc = dlsym(RTLD_NEXT, "valloc");
    real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
    resolving = 0;
}

/* ---- The lock. ---- */

static int lock_word;

static void lock(void) {
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE)) sched_yield();
}

static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

/* ---- The output: whole lines only, so a file cut short still parses. ---- */

static int out_fd = -1;
static char out[1 << 20];
static size_t out_len;

static void flush(void) {
    size_t done = 0;
    while (done < out_len) {
        ssize_t n = write(out_fd, out + done, out_len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { out_fd = -1; break; } /* the disk is full or gone: stop recording */
        done += (size_t)n;
    }
    out_len = 0;
}

static char *put_u64(char *p, uint64_t v) {
    char digits[20];
    int n = 0;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *p++ = digits[--n];
    return p;
}

/* One line: OP ID [A [B]] (A and B printed when `fields` says so). */
static void emit(char op, uint64_t id, int fields, uint64_t a, uint64_t b) {
    if (out_fd < 0) return;
    if (sizeof out - out_len < 64) flush();
    char *p = out + out_len;
    *p++ = op;
    *p++ = ' ';
    p = put_u64(p, id);
    if (fields >= 1) { *p++ = ' '; p = put_u64(p, a); }
    if (fields >= 2) { *p++ = ' '; p = put_u64(p, b); }
    *p++ = '\n';
    out_len = (size_t)(p - out);
}

/* ---- Addresses to IDs: open addressing with linear probing, in mmap'd memory. ---- */

struct entry { uintptr_t addr; uint64_t id; };
static struct entry *table;
static size_t table_cap, table_len;
static uint64_t next_id = 1;

static size_t slot_of(uintptr_t addr, size_t cap) {
    return (size_t)((addr >> 4) * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static int grow_table(void) {
    size_t cap = table_cap ? table_cap * 2 : 1 << 16;
    struct entry *t = mmap(NULL, cap * sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED) return 0;
    for (size_t i = 0; i < table_cap; i++) {
        if (!table[i].addr) continue;
        size_t s = slot_of(table[i].addr, cap);
        while (t[s].addr) s = (s + 1) & (cap - 1);
        t[s] = table[i];
    }
    if (table) munmap(table, table_cap * sizeof *table);
    table = t;
    table_cap = cap;
    return 1;
}

/* A new block: its ID, or 0 when recording has stopped. */
static uint64_t insert(void *p) {
    if (out_fd < 0) return 0;
    if ((table_len + 1) * 2 > table_cap && !grow_table()) { flush(); out_fd = -1; return 0; }
    if (next_id >> 32) { flush(); out_fd = -1; return 0; } /* the format's IDs are below 2^32 */
    size_t s = slot_of((uintptr_t)p, table_cap);
    while (table[s].addr) s = (s + 1) & (table_cap - 1);
    table[s].addr = (uintptr_t)p;
    table[s].id = next_id;
    table_len++;
    return next_id++;
}

static size_t find(const void *p) {
    if (!table_cap || !p) return (size_t)-1;
    size_t s = slot_of((uintptr_t)p, table_cap);
    while (table[s].addr) {
        if (table[s].addr == (uintptr_t)p) return s;
        s = (s + 1) & (table_cap - 1);
    }
    return (size_t)-1;
}

/* Removes the entry at slot `s`, shifting back the entries of its probe run. */
static void erase(size_t s) {
    size_t hole = s, i = s;
    for (;;) {
        i = (i + 1) & (table_cap - 1);
        if (!table[i].addr) break;
        size_t home = slot_of(table[i].addr, table_cap);
        /* Move it into the hole if its home slot is not in (hole, i]. */
        if ((i > hole && (home <= hole || home > i)) || (i < hole && home <= hole && home > i)) {
            table[hole] = table[i];
            hole = i;
        }
    }
    table[hole].addr = 0;
    table_len--;
}

/* ---- Logging, under the lock. ---- */

static void log_alloc(void *p, size_t size, size_t align) {
    if (!p) return;
    uint64_t id = insert(p);
    if (!id) return;
    if (align > 8) emit('a', id, 2, size, align);
    else emit('a', id, 1, size, 0);
}

static void log_free(void *p) {
    size_t s = find(p);
    if (s == (size_t)-1) return;
    emit('f', table[s].id, 0, 0, 0);
    erase(s);
}

/* ---- Start, fork and exit. ---- */

static void before_fork(void) { lock(); }
static void after_fork_parent(void) { unlock(); }
static void after_fork_child(void) {
    /* The child records nothing: its allocations would interleave with the parent's in one file. */
    out_fd = -1;
    out_len = 0;
    lock_word = 0;
}

__attribute__((constructor)) static void start(void) {
    resolve();
    const char *prefix = getenv("MEM3_TRACE");
    if (!prefix || !*prefix) return;
    char path[4096];
    size_t n = strlen(prefix);
    if (n > sizeof path - 32) return;
    memcpy(path, prefix, n);
    path[n++] = '.';
    *put_u64(path + n, (uint64_t)getpid()) = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return;
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    lock();
    out_fd = fd;
    static const char header[] = "# mem3 trace v1\n";
    memcpy(out, header, sizeof header - 1);
    out_len = sizeof header - 1;
    unlock();
}

__attribute__((destructor)) static void finish(void) {
    lock();
    if (out_fd >= 0) {
        flush();
        close(out_fd);
        out_fd = -1;
    }
    unlock();
}

/* ---- The interposed functions. ---- */

void *malloc(size_t size) {
    if (!real_malloc) { resolve(); if (!real_malloc) return boot_alloc(size); }
    lock();
    void *p = real_malloc(size);
    log_alloc(p, size, 0);
    unlock();
    return p;
}

void *calloc(size_t n, size_t size) {
    if (!real_calloc) {
        resolve();
        if (!real_calloc) return (size && n > SIZE_MAX / size) ? NULL : boot_alloc(n * size); /* zeroed */
    }
    lock();
    void *p = real_calloc(n, size);
    if (p) log_alloc(p, n * size, 0);
    unlock();
    return p;
}

void free(void *p) {
    if (!p || in_boot(p)) return;
    if (!real_free) resolve();
    lock();
    log_free(p);
    real_free(p);
    unlock();
}

void *realloc(void *p, size_t size) {
    if (in_boot(p)) {
        /* A block from the start-up arena moves to the real heap (dlsym's, never resized in practice). */
        void *q = malloc(size);
        if (q) memcpy(q, p, size < (size_t)(boot + sizeof boot - (char *)p) ? size : (size_t)(boot + sizeof boot - (char *)p));
        return q;
    }
    if (!real_realloc) resolve();
    lock();
    size_t s = p ? find(p) : (size_t)-1;
    void *q = real_realloc(p, size);
    if (!p) {
        log_alloc(q, size, 0);
    } else if (q) {
        if (s != (size_t)-1) {
            uint64_t id = table[s].id;
            emit('r', id, 1, size, 0);
            if (q != p) {
                erase(s);
                /* Re-key under the same ID. */
                if ((table_len + 1) * 2 > table_cap) grow_table();
                size_t t = slot_of((uintptr_t)q, table_cap);
                while (table[t].addr) t = (t + 1) & (table_cap - 1);
                table[t].addr = (uintptr_t)q;
                table[t].id = id;
                table_len++;
            }
        }
    } else if (size == 0 && s != (size_t)-1) {
        /* glibc frees a block resized to 0 and returns NULL. */
        emit('f', table[s].id, 0, 0, 0);
        erase(s);
    }
    unlock();
    return q;
}

void *reallocarray(void *p, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) { errno = ENOMEM; return NULL; }
    return realloc(p, n * size);
}

int posix_memalign(void **out_p, size_t align, size_t size) {
    if (!real_posix_memalign) resolve();
    lock();
    int r = real_posix_memalign(out_p, align, size);
    if (r == 0) log_alloc(*out_p, size, align);
    unlock();
    return r;
}

/* An allocation through one of the real (align, size) functions, logged. */
static void *aligned_call(void *(**real)(size_t, size_t), size_t align, size_t size) {
    if (!*real) resolve();
    lock();
    void *p = (*real)(align, size);
    log_alloc(p, size, align);
    unlock();
    return p;
}

void *aligned_alloc(size_t align, size_t size) { return aligned_call(&real_aligned_alloc, align, size); }

void *memalign(size_t align, size_t size) { return aligned_call(&real_memalign, align, size); }

void *valloc(size_t size) {
    if (!real_valloc) resolve();
    lock();
    void *p = real_valloc(size);
    log_alloc(p, size, (size_t)sysconf(_SC_PAGESIZE));
    unlock();
    return p;
}

void *pvalloc(size_t size) {
    if (!real_pvalloc) resolve();
    lock();
    void *p = real_pvalloc(size);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    log_alloc(p, (size + page - 1) / page * page, page);
    unlock();
    return p;
}
