/*
 * clockshim: skew one process's wall clock by an offset read from a control file.
 *
 *   LD_PRELOAD=clockshim.so SDCONFORM_CLOCK_FILE=/path/node.offset program ...
 *
 * The file holds an integer number of milliseconds (may be negative); it is re-read at most
 * every 100 ms, so a running process follows a change without a restart. A missing or
 * unreadable file means "keep the last offset" (0 before the first read).
 *
 * Only the wall clock moves: CLOCK_REALTIME and its variants, gettimeofday, time, timespec_get.
 * Monotonic clocks stay true, as on a machine whose NTP is wrong, so timeouts and timers that
 * measure durations keep working. File timestamps and absolute CLOCK_REALTIME deadlines handed
 * to the kernel (pthread_cond_timedwait, clock_nanosleep TIMER_ABSTIME) are not translated.
 *
 * Why not libfaketime: it resolves the real functions with dlsym on first use, and dlsym may
 * call malloc; jemalloc (Debian's redis-server) reads the clock while it initialises, so the
 * two recurse and the process hangs. This file never allocates and never calls dlsym: it
 * reads the clock through the kernel's vDSO (found through the auxiliary vector) or, failing
 * that, the raw system call.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
/* glibc declares gettimeofday's first argument nonnull, so the compiler would drop our NULL
 * check; POSIX allows NULL. Hide its declaration and declare ours. */
#define gettimeofday glibc_declared_gettimeofday
#include <sys/time.h>
#undef gettimeofday
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define REREAD_NS 100000000LL

typedef int (*clock_fn)(clockid_t, struct timespec *);

static clock_fn vdso_clock_gettime;
/* A copy, not a pointer into the environment: redis reuses that memory for its process title. */
static char control_file[4096];
static int initialised;
static int64_t offset_ns;           /* shared by all threads: read and written atomically */
static int64_t next_read_ns = -1;   /* monotonic time of the next file read */

/* Find a symbol in the vDSO image the kernel maps into every process. */
static void *vdso_symbol(const char *name) {
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (!base) return NULL;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
    uintptr_t load = 0;
    const Elf64_Dyn *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && !load) load = base + ph[i].p_offset - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
    }
    if (!load || !dyn) return NULL;
    const Elf64_Sym *syms = NULL;
    const char *strs = NULL;
    const Elf32_Word *hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB) syms = (const Elf64_Sym *)(load + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_STRTAB) strs = (const char *)(load + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_HASH) hash = (const Elf32_Word *)(load + dyn->d_un.d_ptr);
    }
    if (!syms || !strs || !hash) return NULL;
    for (Elf32_Word i = 0; i < hash[1]; i++) {  /* hash[1]: number of symbols */
        if (syms[i].st_shndx != SHN_UNDEF && strcmp(strs + syms[i].st_name, name) == 0)
            return (void *)(load + syms[i].st_value);
    }
    return NULL;
}

/* Not getenv: a program may define its own (bash does, and answers from its shell variables,
 * which do not exist yet while libraries initialise). */
static const char *environment(const char *name) {
    extern char **environ;
    size_t length = strlen(name);
    for (char **entry = environ; entry && *entry; entry++)
        if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return *entry + length + 1;
    return NULL;
}

/* Lazily, not in a constructor: an allocator may read the clock before our constructor runs.
 * A race only makes two threads do the same look-ups and store the same values. */
static void initialise(void) {
    if (__atomic_load_n(&initialised, __ATOMIC_ACQUIRE)) return;
    __atomic_store_n(&vdso_clock_gettime, (clock_fn)vdso_symbol("__vdso_clock_gettime"),
                     __ATOMIC_RELAXED);
    const char *path = environment("SDCONFORM_CLOCK_FILE");
    if (path && strlen(path) < sizeof control_file) strcpy(control_file, path);
    __atomic_store_n(&initialised, 1, __ATOMIC_RELEASE);
}

static int real_clock_gettime(clockid_t clock, struct timespec *ts) {
    initialise();
    clock_fn fn = __atomic_load_n(&vdso_clock_gettime, __ATOMIC_RELAXED);
    if (fn) return fn(clock, ts);
    return (int)syscall(SYS_clock_gettime, clock, ts);
}

static int64_t read_offset_file(const char *path, int64_t fallback) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fallback;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return fallback;
    buf[n] = 0;
    char *end;
    long long ms = strtoll(buf, &end, 10);
    if (end == buf) return fallback;
    return (int64_t)ms * 1000000LL;
}

static int64_t current_offset(void) {
    struct timespec mono;
    /* The coarse clock costs a few ns and is fine to a few ms, plenty for a 100 ms period. */
    if (real_clock_gettime(CLOCK_MONOTONIC_COARSE, &mono) != 0) return 0;
    if (!control_file[0]) return 0;
    int64_t now = mono.tv_sec * NS_PER_S + mono.tv_nsec;
    int64_t due = __atomic_load_n(&next_read_ns, __ATOMIC_ACQUIRE);
    /* One thread wins the right to re-read; the others use the offset they already have. */
    if (now >= due && __atomic_compare_exchange_n(&next_read_ns, &due, now + REREAD_NS, 0,
                                                  __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        int64_t old = __atomic_load_n(&offset_ns, __ATOMIC_RELAXED);
        __atomic_store_n(&offset_ns, read_offset_file(control_file, old), __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&offset_ns, __ATOMIC_ACQUIRE);
}

static int is_wall_clock(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI ||
           clock == CLOCK_REALTIME_ALARM;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    int rc = real_clock_gettime(clock, ts);
    if (rc != 0 || !is_wall_clock(clock)) return rc;
    int64_t t = ts->tv_sec * NS_PER_S + ts->tv_nsec + current_offset();
    /* Floor division: a negative offset must not give a negative tv_nsec. */
    int64_t sec = t / NS_PER_S, nsec = t % NS_PER_S;
    if (nsec < 0) { sec -= 1; nsec += NS_PER_S; }
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)nsec;
    return 0;
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;  /* the kernel has not filled a timezone here for decades */
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
    return base;
}
