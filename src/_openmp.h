/* The OpenMP runtime fastgrad's kernels are compiled against, asked at call time.
   Without OpenMP (FASTGRAD_NO_OPENMP=1) every parallel loop runs on one thread. */
#ifndef FASTGRAD_OPENMP_H
#define FASTGRAD_OPENMP_H
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <sched.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
static long fg_gettid(void) { return (long)syscall(SYS_gettid); }

/* The threads of this process that are running (state R, on a CPU or waiting for one;
   see below for a thread seen asleep) at this moment, other than
   the calling thread and fastgrad's own OpenMP workers, read from /proc with its files
   kept open between calls, instead of listing /proc/self/task and opening each file at
   every call:
   - an fstat of /proc/self/task: its link count follows the number of threads, so a
     thread that started or ended since the last call is seen (the files are then
     opened again, as they are when a read fails or the process id changed: a forked
     child);
   - per thread, its schedstat (cheap: three counters), whose third field counts the
     times the thread was put on a CPU: a thread seen asleep at the last call that has
     not been put on a CPU since is not running on one, and its stat is not read (a
     thread woken since but still waiting for a CPU is missed until it gets one);
   - otherwise its stat, whose third field is the state.
   fastgrad's workers are not read at all.  Callers hold the GIL, which serialises the
   calls. */
#define FG_MAX_TASKS 256
static long fg_tasks_pid = -1;
static int fg_task_dir = -1;
static nlink_t fg_task_nlink = 0;
static int fg_ntasks = 0;
static long fg_task_tid[FG_MAX_TASKS];
static int fg_task_fd[FG_MAX_TASKS];          /* -1: one of fastgrad's workers */
static int fg_task_sched_fd[FG_MAX_TASKS];    /* -1: no schedstat */
static ino_t fg_task_ino[FG_MAX_TASKS], fg_task_sched_ino[FG_MAX_TASKS], fg_task_dir_ino;
static unsigned long long fg_task_switches[FG_MAX_TASKS];
static char fg_task_asleep[FG_MAX_TASKS];     /* at the last read of its stat */
static int fg_nteam = 0;
static long fg_team[FG_MAX_TASKS];

static int fg_in_team(long tid) {
    for (int i = 0; i < fg_nteam; i++) if (fg_team[i] == tid) return 1;
    return 0;
}

/* Open a file of /proc, its inode in *ino; -1 (errno set) if it cannot be opened. */
static int fg_open(const char *path, int flags, ino_t *ino) {
    struct stat st;
    int fd = open(path, flags | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0) *ino = st.st_ino;
    else if (fd >= 0) { close(fd); fd = -1; }
    return fd;
}

/* Close fd if it still is the file opened (a forked child that closed its files may
   have given the number to another file, which is not ours to close). */
static void fg_close(int fd, ino_t ino) {
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_ino == ino) close(fd);
}

static void fg_tasks_close(void) {
    for (int i = 0; i < fg_ntasks; i++) {
        fg_close(fg_task_fd[i], fg_task_ino[i]);
        fg_close(fg_task_sched_fd[i], fg_task_sched_ino[i]);
    }
    fg_ntasks = 0;
    fg_close(fg_task_dir, fg_task_dir_ino);
    fg_task_dir = -1;
    fg_tasks_pid = -1;
}

/* Count tid among fastgrad's OpenMP workers (never counted as busy).  The table of
   workers starts again when full (workers that ended leave their ids behind). */
static void fg_add_team(long tid) {
    if (tid <= 0 || fg_in_team(tid)) return;
    if (fg_nteam == FG_MAX_TASKS) fg_nteam = 0;
    fg_team[fg_nteam++] = tid;
    for (int i = 0; i < fg_ntasks; i++)
        if (fg_task_tid[i] == tid && fg_task_fd[i] >= 0) {
            fg_close(fg_task_fd[i], fg_task_ino[i]);
            fg_task_fd[i] = -1;
            fg_close(fg_task_sched_fd[i], fg_task_sched_ino[i]);
            fg_task_sched_fd[i] = -1;
        }
}

static int fg_tasks_open(void) {
    struct stat st;
    fg_tasks_close();
    fg_task_dir = fg_open("/proc/self/task", O_RDONLY | O_DIRECTORY, &fg_task_dir_ino);
    DIR *dir = opendir("/proc/self/task");
    if (fg_task_dir < 0 || dir == NULL || fstat(fg_task_dir, &st) != 0) {
        if (dir != NULL) closedir(dir);
        fg_tasks_close();
        return -1;
    }
    struct dirent *e;
    char path[64];
    int failed = 0;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        if (fg_ntasks == FG_MAX_TASKS) { failed = 1; break; }
        long tid = strtol(e->d_name, NULL, 10);
        int fd = -1, sched_fd = -1;
        if (!fg_in_team(tid)) {
            snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
            fd = fg_open(path, O_RDONLY, &fg_task_ino[fg_ntasks]);
            if (fd < 0 && (errno == ENOENT || errno == ESRCH)) continue;   /* ended */
            if (fd < 0) { failed = 1; break; }  /* out of descriptors, say: cannot tell */
            snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
            sched_fd = fg_open(path, O_RDONLY, &fg_task_sched_ino[fg_ntasks]);
            if (sched_fd < 0 && errno != ENOENT) {   /* ENOENT: a kernel without it */
                fg_close(fd, fg_task_ino[fg_ntasks]);
                if (errno == ESRCH) continue;
                failed = 1;
                break;
            }
        }
        fg_task_tid[fg_ntasks] = tid;
        fg_task_sched_fd[fg_ntasks] = sched_fd;
        fg_task_asleep[fg_ntasks] = 0;
        fg_task_fd[fg_ntasks++] = fd;
    }
    closedir(dir);
    if (failed) { fg_tasks_close(); return -1; }
    fg_task_nlink = st.st_nlink;     /* taken before the listing: a change reopens */
    fg_tasks_pid = (long)getpid();
    return 0;
}

/* The number of running threads other than the caller and fastgrad's workers, their
   ids written to out (at most cap); -1 where /proc cannot tell (no /proc, too many
   threads, threads starting and ending all the time). */
static int fg_running_tids(long *out, int cap) {
    char buf[512];
    struct stat st;
    long me = fg_gettid();
    for (int attempt = 0; attempt < 3; attempt++) {
        if (fg_tasks_pid != (long)getpid() || fstat(fg_task_dir, &st) != 0
                || st.st_nlink != fg_task_nlink) {
            if (fg_tasks_open() < 0) return -1;
        }
        int k = 0, ok = 1;
        for (int i = 0; i < fg_ntasks && ok; i++) {
            if (fg_task_fd[i] < 0 || fg_task_tid[i] == me) continue;
            ssize_t n;
            if (fg_task_sched_fd[i] >= 0) {
                unsigned long long ran, waited, switches;
                n = pread(fg_task_sched_fd[i], buf, sizeof buf - 1, 0);
                if (n <= 0) { ok = 0; break; }
                buf[n] = 0;
                if (sscanf(buf, "%llu %llu %llu", &ran, &waited, &switches) == 3) {
                    /* (a kernel without schedstats writes "0 0 0": always read) */
                    if (fg_task_asleep[i] && switches != 0
                            && switches == fg_task_switches[i]) continue;
                    fg_task_switches[i] = switches;
                } else {
                    fg_task_asleep[i] = 0;
                }
            }
            n = pread(fg_task_fd[i], buf, sizeof buf - 1, 0);
            if (n <= 0) { ok = 0; break; }
            buf[n] = 0;
            const char *p = strrchr(buf, ')');     /* the name may hold ')' */
            if (p == NULL || p[1] != ' ') { ok = 0; break; }
            if (p[2] == 'R') {
                if (k < cap) out[k] = fg_task_tid[i];
                k++;
            }
            fg_task_asleep[i] = p[2] != 'R';
        }
        if (ok) return k;
        fg_tasks_pid = -1;                         /* a thread ended: list again */
    }
    return -1;
}

/* CPUs in the affinity mask of the calling thread; -1 if it cannot be read. */
static int fg_affinity_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return CPU_COUNT(&set);
}
#else
static long fg_gettid(void) { return -1; }
static void fg_add_team(long tid) { (void)tid; }
static int fg_running_tids(long *out, int cap) { (void)out; (void)cap; return -1; }
static int fg_affinity_cpus(void) { return -1; }
#endif
#ifdef _OPENMP
#include <omp.h>
static int fg_omp_max_threads(void) { return omp_get_max_threads(); }
static int fg_omp_enabled(void) { return 1; }
/* Kernel thread ids of the calling thread's team of n threads (out has n slots;
   slots of threads the runtime did not start stay 0). */
static void fg_team_tids(int n, long *out) {
    #pragma omp parallel num_threads(n)
    {
        int t = omp_get_thread_num();
        if (t < n) out[t] = fg_gettid();
    }
}
#else
static int fg_omp_max_threads(void) { return 1; }
static int fg_omp_enabled(void) { return 0; }
static void fg_team_tids(int n, long *out) { if (n > 0) out[0] = fg_gettid(); }
#endif
#endif
