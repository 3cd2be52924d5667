/* The OpenMP runtime fastgrad's kernels are compiled against, asked at call time.
   Without OpenMP (FASTGRAD_NO_OPENMP=1) every parallel loop runs on one thread. */
#ifndef FASTGRAD_OPENMP_H
#define FASTGRAD_OPENMP_H
#ifdef __linux__
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
static long fg_gettid(void) { return (long)syscall(SYS_gettid); }

/* The threads of this process that are running (state R) at this moment, read from
   /proc with the files kept open between calls: one pread of /proc/self/stat (its
   thread count tells whether a thread started or ended since the last call) and one
   per thread, instead of listing /proc/self/task and opening each file every call.
   The files are opened again when the count changed, a read failed (a thread ended)
   or the process id changed (a forked child).  Callers hold the GIL, which serialises
   the calls. */
#define FG_MAX_TASKS 256
static long fg_tasks_pid = -1;
static int fg_self_fd = -1;
static int fg_ntasks = 0;
static long fg_task_tid[FG_MAX_TASKS];
static int fg_task_fd[FG_MAX_TASKS];

static void fg_tasks_close(void) {
    for (int i = 0; i < fg_ntasks; i++) close(fg_task_fd[i]);
    fg_ntasks = 0;
    if (fg_self_fd >= 0) close(fg_self_fd);
    fg_self_fd = -1;
    fg_tasks_pid = -1;
}

/* Read a stat file from its start; the fields after the command name, or NULL. */
static const char *fg_stat_fields(int fd, char *buf, size_t size) {
    ssize_t n = pread(fd, buf, size - 1, 0);
    if (n <= 0) return NULL;
    buf[n] = 0;
    const char *p = strrchr(buf, ')');       /* the name may hold spaces and ')' */
    return (p != NULL && p[1] == ' ') ? p + 2 : NULL;
}

/* num_threads, field 20 of /proc/self/stat (field 3, the state, comes first); -1. */
static long fg_self_threads(void) {
    char buf[1024];
    const char *p = fg_stat_fields(fg_self_fd, buf, sizeof buf);
    for (int field = 3; p != NULL && field < 20; field++) {
        p = strchr(p, ' ');
        if (p != NULL) p++;
    }
    return p == NULL ? -1 : strtol(p, NULL, 10);
}

static int fg_tasks_open(void) {
    fg_tasks_close();
    fg_self_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    DIR *dir = opendir("/proc/self/task");
    if (fg_self_fd < 0 || dir == NULL) {
        if (dir != NULL) closedir(dir);
        fg_tasks_close();
        return -1;
    }
    struct dirent *e;
    char path[64];
    int full = 0;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        if (fg_ntasks == FG_MAX_TASKS) { full = 1; break; }
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;                  /* ended since the listing */
        fg_task_tid[fg_ntasks] = strtol(e->d_name, NULL, 10);
        fg_task_fd[fg_ntasks++] = fd;
    }
    closedir(dir);
    if (full) { fg_tasks_close(); return -1; }
    fg_tasks_pid = (long)getpid();
    return 0;
}

/* Write the ids of the running threads to out (cap slots); their number, or -1 where
   /proc cannot tell (no /proc, too many threads, threads starting and ending). */
static int fg_running_tids(long *out, int cap) {
    char buf[512];
    for (int attempt = 0; attempt < 3; attempt++) {
        if ((attempt > 0 || fg_tasks_pid != (long)getpid()) && fg_tasks_open() < 0)
            return -1;
        if (fg_self_threads() != fg_ntasks) continue;
        int k = 0, ok = 1;
        for (int i = 0; i < fg_ntasks && ok; i++) {
            const char *p = fg_stat_fields(fg_task_fd[i], buf, sizeof buf);
            if (p == NULL) ok = 0;
            else if (*p == 'R' && k < cap) out[k++] = fg_task_tid[i];
        }
        if (ok) return k;
    }
    return -1;
}
#else
static long fg_gettid(void) { return -1; }
static int fg_running_tids(long *out, int cap) { (void)out; (void)cap; return -1; }
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
