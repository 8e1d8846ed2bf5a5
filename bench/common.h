/*
 * common.h: shared by the benchmark programs (make bench): clocks, argument helpers, the
 * kernel's per-queue counters, and the throughput meter every consumer uses.
 *
 * The meter: a consumer calls meter_add(n) for every n packets it has given a verdict, and
 * meter_start() once its queue is bound. A helper thread waits for the first packet (bounded),
 * lets the consumer warm up, then counts packets over a fixed window and prints one line
 *   result packets=N seconds=S pps=P cpu=C pps_per_cpu=Q kq_enqueued=E kq_dropped=D ...
 * where cpu is the CPU time all the consumer's threads used in the window (user + system,
 * including the kernel work done in their system calls: CLOCK_PROCESS_CPUTIME_ID), kcpu the
 * time the per-CPU kernel threads of the consumer's CPUs ran (work its system calls deferred
 * there), so pps_per_cpu = packets / (cpu + kcpu) is what one fully busy CPU would verdict:
 * unlike pps it holds when the sender cannot keep the consumer busy or other processes share
 * its CPU. The kq_*
 * numbers are the kernel's own view of the same window, summed over the queues
 * (/proc/net/netfilter/nfnetlink_queue: id_sequence, queue_dropped, user_dropped,
 * queue_total), and kq_empty of kq_samples: how often the backlog, sampled every 10 ms, was
 * found empty. A queue never found empty means the consumer, not the sender, set the pace.
 * Then it calls the consumer's stop function and sets meter_done.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef NFQ_BENCH_COMMON_H
#define NFQ_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double now_s(void)
{
    return (double)now_ns() * 1e-9;
}

static inline double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void sleep_s(double s)
{
    struct timespec ts;
    if (s <= 0) return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static inline void die(const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    exit(1);
}

/* "A:B" or "A" into first/last. */
static inline int parse_range(const char *s, unsigned *first, unsigned *last)
{
    char *end;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (end == s) return -1;
    if (*end == ':') {
        const char *t = end + 1;
        b = strtoul(t, &end, 10);
        if (end == t) return -1;
    }
    if (*end || a > 65535 || b > 65535 || b < a) return -1;
    *first = (unsigned)a;
    *last = (unsigned)b;
    return 0;
}

/* The kernel's counters of one queue (summed over a range). */
struct kq {
    long long backlog, dropped, user_dropped, id_seq;
    int found;
};

static inline void read_kq(unsigned first, unsigned last, struct kq *k)
{
    FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
    unsigned q, portid, total, mode, range, dropped, udropped, idseq, one;
    memset(k, 0, sizeof *k);
    if (!f) return;
    while (fscanf(f, "%u %u %u %u %u %u %u %u %u", &q, &portid, &total, &mode, &range, &dropped, &udropped,
                  &idseq, &one) == 9) {
        if (q < first || q > last) continue;
        k->backlog += total;
        k->dropped += dropped;
        k->user_dropped += udropped;
        k->id_seq += idseq;
        k->found++;
    }
    fclose(f);
}

/* CPU time (ns) of the per-CPU kernel threads (kworker/N:*, ksoftirqd/N) of the CPUs in `cpus`:
 * work the consumer's system calls leave to them (deferred softirqs, workqueue items such as
 * a hash table resize) runs there and is not counted in the consumer's own CPU time. */
struct kthreads {
    int n;
    int pid[256];
    long long ns[256];
};

static inline void read_kthreads(const cpu_set_t *cpus, struct kthreads *k)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    k->n = 0;
    if (!d) return;
    while ((e = readdir(d)) && k->n < 256) {
        char path[64], comm[64];
        int cpu, pid;
        long long ns;
        FILE *f;
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        pid = atoi(e->d_name);
        snprintf(path, sizeof path, "/proc/%d/comm", pid);
        if (!(f = fopen(path, "r"))) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
        fclose(f);
        if (sscanf(comm, "kworker/%d:", &cpu) != 1 && sscanf(comm, "ksoftirqd/%d", &cpu) != 1) continue;
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, cpus)) continue;
        snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
        if (!(f = fopen(path, "r"))) continue;
        if (fscanf(f, "%lld", &ns) == 1) {
            k->pid[k->n] = pid;
            k->ns[k->n++] = ns;
        }
        fclose(f);
    }
    closedir(d);
}

/* Seconds the threads of `b` ran since `a` (a thread new in `b` counts whole). */
static inline double kthreads_delta(const struct kthreads *a, const struct kthreads *b)
{
    long long sum = 0;
    for (int i = 0; i < b->n; i++) {
        long long before = 0;
        for (int j = 0; j < a->n; j++)
            if (a->pid[j] == b->pid[i]) before = a->ns[j];
        if (b->ns[i] > before) sum += b->ns[i] - before;
    }
    return (double)sum * 1e-9;
}

/* ---------------------------------------------------------------------------------------- */
/* The meter */

static uint64_t meter_count;        /* packets verdicted so far (atomic, relaxed) */
static volatile int meter_done;     /* set when the window is over */

static inline void meter_add(uint64_t n)
{
    __atomic_fetch_add(&meter_count, n, __ATOMIC_RELAXED);
}

struct meter {
    double first_wait, warmup, window;
    unsigned q_first, q_last;
    void (*stop)(void *);
    void *stop_arg;
    pthread_t thread;
};

static void *meter_main(void *arg)
{
    struct meter *m = arg;
    struct kq k0, k1;
    uint64_t c0, c1;
    double t0, t1, u0, u1, start = now_s();
    static struct kthreads kt0, kt1;
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) CPU_ZERO(&cpus);

    while (__atomic_load_n(&meter_count, __ATOMIC_RELAXED) == 0) {
        if (now_s() - start > m->first_wait) {
            printf("result packets=0 seconds=0 pps=0 error=no-packets-within-%.1fs\n", m->first_wait);
            fflush(stdout);
            meter_done = 1;
            m->stop(m->stop_arg);
            return NULL;
        }
        sleep_s(0.001);
    }
    sleep_s(m->warmup);
    read_kq(m->q_first, m->q_last, &k0);
    read_kthreads(&cpus, &kt0);
    c0 = __atomic_load_n(&meter_count, __ATOMIC_RELAXED);
    t0 = now_s();
    u0 = cpu_s();
    /* Sample the queue's backlog every 10 ms: a queue found empty means the consumer had
     * caught up with the sender, i.e. the sender set the pace at that moment. */
    unsigned samples = 0, empty = 0;
    for (double end = t0 + m->window, t = t0; t < end; t = now_s()) {
        struct kq k;
        sleep_s(end - t < 0.01 ? end - t : 0.01);
        read_kq(m->q_first, m->q_last, &k);
        samples++;
        empty += k.backlog == 0;
    }
    c1 = __atomic_load_n(&meter_count, __ATOMIC_RELAXED);
    t1 = now_s();
    u1 = cpu_s();
    read_kthreads(&cpus, &kt1);
    read_kq(m->q_first, m->q_last, &k1);
    double kcpu = kthreads_delta(&kt0, &kt1), all = u1 - u0 + kcpu;
    printf("result packets=%llu seconds=%.6f pps=%.1f cpu=%.6f kcpu=%.6f pps_per_cpu=%.1f kq_enqueued=%lld "
           "kq_dropped=%lld kq_user_dropped=%lld kq_backlog=%lld kq_empty=%u kq_samples=%u\n",
           (unsigned long long)(c1 - c0), t1 - t0, (double)(c1 - c0) / (t1 - t0), u1 - u0, kcpu,
           all > 0 ? (double)(c1 - c0) / all : 0.0, k1.id_seq - k0.id_seq,
           k1.dropped - k0.dropped, k1.user_dropped - k0.user_dropped, k1.backlog, empty, samples);
    fflush(stdout);
    meter_done = 1;
    m->stop(m->stop_arg);
    return NULL;
}

static inline int meter_start(struct meter *m)
{
    return pthread_create(&m->thread, NULL, meter_main, m);
}

static inline void meter_join(struct meter *m)
{
    pthread_join(m->thread, NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Drain mode (NFLOG): the consumer binds its group, prints "ready", and waits until the file
 * --go names exists, while the sender logs a bounded number of packets into its (large) receive
 * buffer. Then it handles the whole backlog as fast as it can, never waiting for the kernel:
 * what it measures is the consumer's own cost per message when it is the bottleneck. It stops
 * after a receive found nothing for 100 ms and prints the same result line as the meter:
 * messages, the time from its first receive to the last message handled, its CPU time. */

struct drain {
    double t0, u0, t_last;
};

static inline void drain_wait_go(const char *go)
{
    for (double start = now_s(); now_s() - start < 60;) {
        FILE *f = fopen(go, "r");
        if (f) {
            fclose(f);
            return;
        }
        sleep_s(0.001);
    }
    fprintf(stderr, "drain: %s did not appear within 60 s\n", go);
    exit(1);
}

static inline void drain_start(struct drain *d)
{
    d->t0 = d->t_last = now_s();
    d->u0 = cpu_s();
}

/* After each receive that handled messages (a vDSO clock read, no system call). */
static inline void drain_mark(struct drain *d)
{
    d->t_last = now_s();
}

static inline void drain_report(const struct drain *d)
{
    uint64_t n = __atomic_load_n(&meter_count, __ATOMIC_RELAXED);
    double secs = d->t_last - d->t0, cpu = cpu_s() - d->u0;
    printf("result packets=%llu seconds=%.6f pps=%.1f cpu=%.6f kcpu=0 pps_per_cpu=%.1f\n", (unsigned long long)n,
           secs, secs > 0 ? (double)n / secs : 0.0, cpu, cpu > 0 ? (double)n / cpu : 0.0);
    fflush(stdout);
}

/* Common consumer options: --queue A[:B] --rcvbuf BYTES --warmup S --seconds S --first-wait S */
struct copts {
    unsigned q_first, q_last;
    unsigned long rcvbuf;
    unsigned batch;
    double warmup, window, first_wait;
    const char *dump;
    unsigned dump_count;
    const char *go; /* drain mode: start when this file exists */
};

static inline void copts_default(struct copts *o)
{
    memset(o, 0, sizeof *o);
    o->rcvbuf = 4ul << 20;
    o->batch = 64;
    o->warmup = 0.25;
    o->window = 1.5;
    o->first_wait = 10;
}

/* Parses one option at argv[*i]; returns 1 if it was one of the common ones. */
static inline int copts_parse(struct copts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (*i + 1 >= argc) return 0;
    const char *v = argv[*i + 1];
    if (!strcmp(a, "--queue")) {
        if (parse_range(v, &o->q_first, &o->q_last)) return 0;
    } else if (!strcmp(a, "--rcvbuf")) {
        o->rcvbuf = strtoul(v, NULL, 0);
    } else if (!strcmp(a, "--batch")) {
        o->batch = (unsigned)strtoul(v, NULL, 0);
    } else if (!strcmp(a, "--warmup")) {
        o->warmup = atof(v);
    } else if (!strcmp(a, "--seconds")) {
        o->window = atof(v);
    } else if (!strcmp(a, "--first-wait")) {
        o->first_wait = atof(v);
    } else if (!strcmp(a, "--dump")) {
        o->dump = v;
    } else if (!strcmp(a, "--go")) {
        o->go = v;
    } else if (!strcmp(a, "--dump-count")) {
        o->dump_count = (unsigned)strtoul(v, NULL, 0);
    } else {
        return 0;
    }
    (*i)++;
    return 1;
}

/* The NFLOG group settings every NFLOG consumer takes (the same defaults for all). */
struct nflog_opts {
    unsigned range, nlbufsiz, qthresh, timeout;
};

/* Parses the NFLOG consumers' command line: --group G [--range B] [--nlbufsiz B] [--qthresh N]
 * [--timeout CS] and the common options (the group goes to o->q_first/q_last). Returns 0, or
 * prints the usage of `prog` and returns -1. */
static inline int nflog_opts_parse(const char *prog, struct nflog_opts *n, struct copts *o, int argc, char **argv)
{
    *n = (struct nflog_opts){.range = 0xffff, .nlbufsiz = 65536, .qthresh = 32, .timeout = 100};
    o->q_first = o->q_last = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned *dst = NULL;
        if (i + 1 < argc && !strcmp(a, "--group")) dst = &o->q_first;
        else if (i + 1 < argc && !strcmp(a, "--range")) dst = &n->range;
        else if (i + 1 < argc && !strcmp(a, "--nlbufsiz")) dst = &n->nlbufsiz;
        else if (i + 1 < argc && !strcmp(a, "--qthresh")) dst = &n->qthresh;
        else if (i + 1 < argc && !strcmp(a, "--timeout")) dst = &n->timeout;
        if (dst) {
            *dst = (unsigned)strtoul(argv[++i], NULL, 0);
            o->q_last = o->q_first;
        } else if (!copts_parse(o, argc, argv, &i)) {
            fprintf(stderr, "usage: %s --group G [--range B] [--nlbufsiz B] [--qthresh N] [--timeout CS] "
                            "[--rcvbuf B] [--batch N] [--warmup S] [--seconds S] [--go FILE]\n", prog);
            return -1;
        }
    }
    return 0;
}

#endif
