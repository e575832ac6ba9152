/*
 * sio-workers instruction-counting TCG plugin for qemu-user (qemu >= 7.2).
 *
 * Counts the guest instructions executed by every guest thread of the
 * emulated program, publishes the running total in a shared page, enforces an
 * instruction limit, and stops guest fork/exec (which would escape counting).
 *
 * Plugin arguments (qemu: -plugin file=THIS.so,fd=3,limit=N):
 *   fd=N        shared page: an open read/write fd, mmapped then closed
 *   out=PATH    shared page: a file created (0600) or truncated at PATH
 *   limit=N     instruction limit, 0 = none; the run is SIGKILLed within
 *               CHUNK * threads + one translation block past it
 *   nofork=0|1  guest fork/vfork/clone-without-CLONE_THREAD is fatal (1)
 *   noexec=0|1  guest execve/execveat is fatal (1)
 *   noopen=0|1  guest open/openat/creat for writing is fatal (0); reported
 *               as detail -1 ("opening files")
 * Without fd/out the count is printed on qemu's log at exit (debugging).
 *
 * Shared area layout (little-endian, see sio/workers/vcpu/qemu.py), all u64
 * unless noted; it lives in a MAP_SHARED file so that the count survives a
 * SIGKILL or a fatal guest signal:
 *   0  magic "SIOINSN1"     24 u32 state (enum sio_state), 28 u32 nslots
 *   8  flushed total        32 i64 detail (syscall number for FORBIDDEN)
 *   16 limit                40 extra (instructions not kept in a slot)
 *   64 + 64*i: slot i = {counted, flushed, padding}  (i < nslots)
 * Exact total = extra + sum(slot.counted). A slot is written only by the
 * guest thread that owns that vCPU index, so counting needs no atomics.
 *
 * Only the handful of plugin API declarations used here are declared below;
 * they follow the documented, stable QEMU plugin ABI (version 1, qemu 7.2).
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the QEMU plugin API subset we use (declarations only) ---- */
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
#define SIO_QEMU_PLUGIN_VERSION 1

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct {
    const char *target_name;
    int version_min;
    int version_cur;
    /* further members are not used and not declared */
} qemu_info_t;

enum qemu_plugin_cb_flags {
    QEMU_PLUGIN_CB_NO_REGS,
    QEMU_PLUGIN_CB_R_REGS,
    QEMU_PLUGIN_CB_RW_REGS,
};

typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
                                               struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_syscall_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index,
                                              int64_t num, uint64_t a1, uint64_t a2,
                                              uint64_t a3, uint64_t a4, uint64_t a5,
                                              uint64_t a6, uint64_t a7, uint64_t a8);

extern void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                                  qemu_plugin_vcpu_tb_trans_cb_t cb);
extern void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
                                                 qemu_plugin_vcpu_udata_cb_t cb,
                                                 enum qemu_plugin_cb_flags flags,
                                                 void *userdata);
extern size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_syscall_cb(qemu_plugin_id_t id,
                                                 qemu_plugin_vcpu_syscall_cb_t cb);
extern void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                           qemu_plugin_udata_cb_t cb, void *userdata);
extern void qemu_plugin_outs(const char *string);

QEMU_PLUGIN_EXPORT int qemu_plugin_version = SIO_QEMU_PLUGIN_VERSION;

/* ---- our state ---- */
enum sio_state {
    SIO_RUNNING = 0,
    SIO_EXITED = 1,      /* the emulated program ended; count is final */
    SIO_LIMIT = 2,       /* instruction limit exceeded; killed */
    SIO_FORBIDDEN = 3,   /* forbidden syscall (detail); killed */
};

struct slot {
    uint64_t counted;  /* instructions counted by this vCPU index */
    uint64_t flushed;  /* of which already added to the flushed total */
    char pad[48];
};

struct sio_page {
    uint64_t magic;
    uint64_t count;    /* flushed total, used for the limit */
    uint64_t limit;
    uint32_t state;
    uint32_t nslots;
    int64_t detail;
    uint64_t extra;
    char pad[16];
    struct slot slots[];
};

#define SIO_MAGIC 0x314e534e494f4953ULL /* "SIOINSN1" */
#define CHUNK 65536u                    /* instructions a thread counts privately */
#define SLOTS 1023u                     /* per-vCPU (= guest thread) counters */
#define AREA_SIZE (sizeof(struct sio_page) + SLOTS * sizeof(struct slot))

static struct sio_page *page;
static bool page_is_private = true;
static bool shared_mode;                /* after a fork: every add is atomic */
static bool nofork = true;
static bool noexec = true;
static bool noopen = false;

static void finish(uint32_t state, int64_t detail, bool kill_now);

/* Add a vCPU's unflushed instructions to the shared total; returns it. */
static uint64_t flush_slot(struct slot *s)
{
    if (shared_mode) {
        return __atomic_load_n(&page->count, __ATOMIC_SEQ_CST);
    }
    uint64_t counted = __atomic_load_n(&s->counted, __ATOMIC_RELAXED);
    uint64_t delta = counted - s->flushed;
    s->flushed = counted;
    return __atomic_add_fetch(&page->count, delta, __ATOMIC_SEQ_CST);
}

static void check_limit(uint64_t total)
{
    if (page->limit && total > page->limit) {
        finish(SIO_LIMIT, 0, true);
    }
}

static void tb_exec(unsigned int vcpu_index, void *userdata)
{
    uint64_t n = (uintptr_t)userdata;
    if (vcpu_index < SLOTS && !shared_mode) {
        struct slot *s = &page->slots[vcpu_index];
        uint64_t counted = s->counted + n;
        __atomic_store_n(&s->counted, counted, __ATOMIC_RELAXED);
        if (counted - s->flushed >= CHUNK) {
            check_limit(flush_slot(s));
        }
    } else {
        __atomic_add_fetch(&page->extra, n, __ATOMIC_SEQ_CST);
        check_limit(__atomic_add_fetch(&page->count, n, __ATOMIC_SEQ_CST));
    }
}

/* A guest fork (only with nofork=0): both processes share the area and the
 * vCPU indexes, so from now on every addition is atomic. */
static void after_fork(void)
{
    shared_mode = true;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    uintptr_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)n);
}

static uint64_t flush_all(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        total = flush_slot(&page->slots[i]);
    }
    return total;
}

static void finish(uint32_t state, int64_t detail, bool kill_now)
{
    uint32_t expected = SIO_RUNNING;
    if (__atomic_compare_exchange_n(&page->state, &expected, state, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        page->detail = detail;
        flush_all();
    }
    if (kill_now) {
        kill(getpid(), SIGKILL);
        for (;;) {
            pause();
        }
    }
}

#define X86_64_CLONE 56
#define X86_64_FORK 57
#define X86_64_VFORK 58
#define X86_64_EXECVE 59
#define X86_64_EXECVEAT 322
#define X86_64_OPEN 2
#define X86_64_CREAT 85
#define X86_64_OPENAT 257
#define SIO_CLONE_THREAD 0x00010000ULL
/* O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE */
#define SIO_WRITE_FLAGS (01ULL | 02ULL | 0100ULL | 01000ULL | 02000ULL | 020000000ULL)
#define DETAIL_OPENING_FILES (-1)

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu_index, int64_t num,
                       uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                       uint64_t a6, uint64_t a7, uint64_t a8)
{
    (void)id; (void)vcpu_index; (void)a4; (void)a5;
    (void)a6; (void)a7; (void)a8;
    bool forbidden = false;
    if (nofork) {
        forbidden = num == X86_64_FORK || num == X86_64_VFORK ||
                    (num == X86_64_CLONE && !(a1 & SIO_CLONE_THREAD));
    }
    if (noexec && (num == X86_64_EXECVE || num == X86_64_EXECVEAT)) {
        forbidden = true;
    }
    if (forbidden) {
        finish(SIO_FORBIDDEN, num, true);
    }
    if (noopen && (num == X86_64_CREAT ||
                   (num == X86_64_OPEN && (a2 & SIO_WRITE_FLAGS)) ||
                   (num == X86_64_OPENAT && (a3 & SIO_WRITE_FLAGS)))) {
        finish(SIO_FORBIDDEN, DETAIL_OPENING_FILES, true);
    }
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id; (void)userdata;
    finish(SIO_EXITED, 0, false);
    if (page_is_private) {
        uint64_t total = page->extra;
        for (unsigned i = 0; i < SLOTS; i++) {
            total += page->slots[i].counted;
        }
        char line[96];
        snprintf(line, sizeof line, "sio-insn: count %llu\n",
                 (unsigned long long)total);
        qemu_plugin_outs(line);
    }
}

static int map_page(int fd)
{
    if (ftruncate(fd, AREA_SIZE) != 0) {
        return -1;
    }
    void *p = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        return -1;
    }
    page = p;
    page_is_private = false;
    return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) {
        return false;
    }
    *out = v;
    return true;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    uint64_t limit = 0, v;
    int fd;
    if (info && info->target_name && strcmp(info->target_name, "x86_64") != 0) {
        fprintf(stderr, "sio-insn: target %s is not x86_64\n", info->target_name);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "arg=", 4)) {   /* qemu < 6 style: arg=key=value */
            a += 4;
        }
        if (!strncmp(a, "fd=", 3) && parse_u64(a + 3, &v)) {
            fd = (int)v;
            if (map_page(fd) != 0) {
                perror("sio-insn: fd");
                return -1;
            }
            close(fd);
        } else if (!strncmp(a, "out=", 4)) {
            fd = open(a + 4, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0 || map_page(fd) != 0) {
                perror("sio-insn: out");
                return -1;
            }
            close(fd);
        } else if (!strncmp(a, "limit=", 6) && parse_u64(a + 6, &v)) {
            limit = v;
        } else if (!strncmp(a, "nofork=", 7) && parse_u64(a + 7, &v)) {
            nofork = v != 0;
        } else if (!strncmp(a, "noexec=", 7) && parse_u64(a + 7, &v)) {
            noexec = v != 0;
        } else if (!strncmp(a, "noopen=", 7) && parse_u64(a + 7, &v)) {
            noopen = v != 0;
        } else {
            fprintf(stderr, "sio-insn: bad argument '%s'\n", argv[i]);
            return -1;
        }
    }
    if (page == NULL) {
        page = calloc(1, AREA_SIZE);
        if (page == NULL) {
            return -1;
        }
    }
    memset(page, 0, AREA_SIZE);
    page->nslots = SLOTS;
    page->limit = limit;
    pthread_atfork(NULL, after_fork, after_fork);
    page->state = SIO_RUNNING;
    __atomic_store_n(&page->magic, SIO_MAGIC, __ATOMIC_SEQ_CST);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
