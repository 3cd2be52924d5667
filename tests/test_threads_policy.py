"""The thread-count policy (``fastgrad._threads``) and ``workers=`` / ``n_jobs=``.

* In a fresh interpreter, a pass over a large X starts OpenMP threads by default, and
  starts none under ``threadpoolctl.threadpool_limits(1, user_api="openmp")``, under
  ``OMP_NUM_THREADS=1`` or when the process may run on one CPU only; ``workers=2`` starts
  one whatever the limits (an explicit count is used as given).  Threads are counted in
  ``/proc/self/task``.
* BLAS's own threads do no work inside a pass (their CPU time, from
  ``/proc/self/task/*/schedstat``, does not grow), on one thread or two.
* threadpoolctl lists the OpenMP library fastgrad's kernels use, and its limit reaches
  them.
* Results are bitwise the same for workers = 1, 2, 3, -1 and None, both dtypes.
* Bad ``workers`` / ``n_jobs`` are rejected with the argument named.
* The pieces of the policy: affinity, cgroup quota files, the OpenMP limit, the work.
* No process-wide setting is left changed by a call.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastgrad as fg
from fastgrad import _modes, _threads

threadpoolctl = pytest.importorskip("threadpoolctl")

LINUX_TASKS = os.path.isdir("/proc/self/task")
needs_proc = pytest.mark.skipif(not LINUX_TASKS, reason="counts threads in /proc/self/task")

FUNCTIONS = ["mse_loss", "mse_gradient", "logistic_loss", "logistic_gradient",
             "fit_linear_regression", "fit_logistic_regression"]


def call(name, X, y, w, workers="unset", **kw):
    fn = getattr(fg, name)
    extra = {} if isinstance(workers, str) and workers == "unset" else {"workers": workers}
    if name.startswith("fit"):
        return fn(X, y, lr=0.05, epochs=6, w0=w, **kw, **extra)
    return fn(X, y, w, 0.25, **kw, **extra)


def data(n=40_000, d=8, dtype=np.float64, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, d)).astype(dtype)
    w = (r.normal(size=d) * 0.3).astype(dtype)
    z = X @ w
    return X, (z + r.normal(size=n)).astype(dtype), (z > 0).astype(dtype), w


def targets(name, y, labels):
    return labels if "logistic" in name else y


def same(a, b):
    if hasattr(a, "__dataclass_fields__"):
        for k in a.__dataclass_fields__:
            assert_array_equal(np.asarray(getattr(a, k)), np.asarray(getattr(b, k)), err_msg=k)
    elif isinstance(a, tuple):
        for p, q in zip(a, b):
            assert_array_equal(p, q)
    else:
        assert_array_equal(a, b)


# ------------------------------------------------------------------ fresh interpreters
CHILD = textwrap.dedent(r'''
    import json, os, sys
    mode = sys.argv[1]
    if mode == "one-cpu":
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import numpy as np
    import fastgrad as fg
    import threadpoolctl
    from fastgrad import _threads

    def tasks():
        return set(os.listdir("/proc/self/task"))

    def busy_ns(ids):
        total = 0
        for t in ids:
            try:
                with open(f"/proc/self/task/{t}/schedstat") as fh:
                    total += int(fh.read().split()[0])
            except OSError:
                pass
        return total

    r = np.random.default_rng(0)
    d = 64 if mode.startswith("blas") else 10
    X = r.normal(size=(200_000 // (d // 10), d)); y = r.normal(size=X.shape[0])
    fg.fit_linear_regression(X[:50], y[:50], lr=0.01, epochs=2)     # warm-up, one thread
    before = tasks()
    main = str(os.getpid())
    others_before = busy_ns(before - {main})
    main_before = busy_ns({main})
    fit = lambda **kw: fg.fit_linear_regression(X, y, lr=1e-3, epochs=20, **kw)
    if mode == "limits":
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            fit()
    elif mode == "workers2":
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            fit(workers=2)
    elif mode == "blas1":
        fit(workers=1)
    elif mode == "blas2":
        fit(workers=2)
    else:          # "default", "env" (OMP_NUM_THREADS=1), "one-cpu"
        fit()
    after = tasks()
    print(json.dumps({
        "new_threads": len(after - before),
        "cpus": _threads.available_cpus(),
        "omp": _threads.openmp_max_threads(),
        "blas_busy_ms": (busy_ns(before - {main}) - others_before) / 1e6,
        "main_busy_ms": (busy_ns({main}) - main_before) / 1e6,
    }))
''')


def run_child(mode, **env):
    full = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                          env=full, timeout=300, cwd=os.path.dirname(os.path.abspath(__file__)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_proc
class TestThreadsStarted:
    def test_default_uses_the_cpus_it_may(self):
        out = run_child("default")
        if out["cpus"] >= 2 and out["omp"] >= 2:
            assert out["new_threads"] >= 1, out
        else:
            assert out["new_threads"] == 0, out

    def test_threadpoolctl_openmp_limit_starts_no_thread(self):
        out = run_child("limits")
        assert out["new_threads"] == 0, out

    def test_omp_num_threads_1_starts_no_thread(self):
        out = run_child("env", OMP_NUM_THREADS="1")
        assert out["omp"] == 1
        assert out["new_threads"] == 0, out

    @pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
    def test_one_cpu_affinity_starts_no_thread(self):
        out = run_child("one-cpu")
        assert out["cpus"] == 1
        assert out["new_threads"] == 0, out

    def test_explicit_workers_2_starts_a_thread_even_under_a_limit(self):
        out = run_child("workers2")
        assert out["new_threads"] >= 1, out

    @pytest.mark.parametrize("mode", ["blas1", "blas2"])
    def test_blas_threads_do_no_work_inside_a_pass(self, mode):
        # X has 64 columns, so every block goes through BLAS gemv; the BLAS pools were
        # started at import.  Their threads must stay idle during the fit.
        out = run_child(mode)
        assert out["main_busy_ms"] > 0, out
        assert out["blas_busy_ms"] <= max(2.0, 0.02 * out["main_busy_ms"]), out


def test_threadpoolctl_lists_fastgrads_openmp_library():
    code = textwrap.dedent('''
        import json
        import numpy, threadpoolctl
        before = [i["filepath"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
        import fastgrad._openmp
        after = [i["filepath"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
        maps = open("/proc/self/maps").read() if __import__("os").path.exists("/proc/self/maps") else ""
        print(json.dumps({"before": before, "after": after, "enabled": fastgrad._openmp.enabled(),
                          "mapped": [p for p in after if p in maps]}))
    ''')
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if not out["enabled"]:
        pytest.skip("fastgrad was built without OpenMP")
    new = set(out["after"]) - set(out["before"])
    assert len(new) == 1, out          # the one OpenMP runtime fastgrad's kernels link
    if LINUX_TASKS:
        assert out["mapped"], out


def test_threadpoolctl_limit_reaches_fastgrads_runtime():
    if not fg._openmp.enabled():
        pytest.skip("fastgrad was built without OpenMP")
    outside = _threads.openmp_max_threads()
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert _threads.openmp_max_threads() == 1
        assert _threads.n_threads(10**9) == 1
    assert _threads.openmp_max_threads() == outside


# ------------------------------------------------------------------ bitwise identical
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_bitwise_identical_for_any_thread_count(name, dtype):
    X, y, labels, w = data(dtype=dtype)
    t = targets(name, y, labels)
    assert fg._linear.n_blocks(*X.shape) >= 4     # room for several threads
    ref = call(name, X, t, w, workers=1)
    for workers in (2, 3, -1, None):
        same(call(name, X, t, w, workers=workers), ref)
    same(call(name, X, t, w), ref)                 # the default is None
    # the checked (general) path: sample weights, a list for y
    sw = np.linspace(0.5, 1.5, X.shape[0]).astype(dtype)
    ref_sw = call(name, X, list(t), w, workers=1, sample_weight=sw)
    for workers in (2, -1, None):
        same(call(name, X, list(t), w, workers=workers, sample_weight=sw), ref_sw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_estimators_n_jobs_bitwise_identical(dtype):
    from fastgrad.sklearn import GDClassifier, GDRegressor
    X, y, labels, _ = data(dtype=dtype)
    for Est, t in ((GDRegressor, y), (GDClassifier, labels)):
        ref = Est(epochs=5, tol=None, n_jobs=1).fit(X, t)
        for n_jobs in (2, -1, None):
            est = Est(epochs=5, tol=None, n_jobs=n_jobs).fit(X, t)
            assert_array_equal(est.coef_, ref.coef_)
            assert_array_equal(est.intercept_, ref.intercept_)


# ------------------------------------------------------------------ bad input
BAD = [(0, ValueError), (-2, ValueError), (1.5, TypeError), ("two", TypeError),
       (True, TypeError), (np.bool_(True), TypeError), (map, TypeError),
       (lambda f, xs: list(map(f, xs)), TypeError)]


@pytest.mark.parametrize("bad,exc", BAD, ids=[repr(b) for b, _ in BAD])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_bad_workers(name, bad, exc):
    X, y, labels, w = data(n=300, d=3)
    t = targets(name, y, labels)
    copies = [a.copy() for a in (X, t, w)]
    call(name, X, t, w, workers=np.int64(2))       # a good value works
    with pytest.raises(exc, match="`workers`"):
        call(name, X, t, w, workers=bad)
    with pytest.raises(exc, match="`workers`"):    # the checked path says the same
        call(name, X, list(t), w, workers=bad)
    for a, c in zip((X, t, w), copies):
        assert_array_equal(a, c)


@pytest.mark.parametrize("bad,exc", BAD[:6], ids=[repr(b) for b, _ in BAD[:6]])
def test_bad_n_jobs(bad, exc):
    from fastgrad.sklearn import GDRegressor
    X, y, _, _ = data(n=200, d=3)
    GDRegressor(epochs=3, tol=None, n_jobs=2).fit(X, y)
    with pytest.raises(exc, match="`n_jobs`"):
        GDRegressor(epochs=3, tol=None, n_jobs=bad).fit(X, y)


@pytest.mark.parametrize("bad,exc", BAD[:6], ids=[repr(b) for b, _ in BAD[:6]])
def test_numerical_gradient_shares_the_check(bad, exc):
    f = lambda v: float(v @ v)  # noqa: E731
    fg.numerical_gradient(f, [1.0, 2.0], workers=map)   # a map-like is fine there
    with pytest.raises(exc, match="`workers`"):
        fg.numerical_gradient(f, [1.0, 2.0], workers=bad)


# ------------------------------------------------------------------ the policy's pieces
class TestPolicy:
    def test_cgroup_v2(self, tmp_path):
        v2 = tmp_path / "cpu.max"
        none = (str(tmp_path / "a"), str(tmp_path / "b"))
        for text, want in (("max 100000\n", None), ("150000 100000\n", 2),
                           ("50000 100000", 1), ("200000 100000", 2), ("400000 100000", 4),
                           ("garbage", None), ("x 100000", None), ("0 100000", None), ("", None)):
            v2.write_text(text)
            assert _threads.cgroup_cpu_limit(str(v2), none) == want, text

    def test_cgroup_v1(self, tmp_path):
        q, p = tmp_path / "cpu.cfs_quota_us", tmp_path / "cpu.cfs_period_us"
        missing = str(tmp_path / "no-cpu.max")
        for quota, want in (("-1", None), ("300000", 3), ("100000", 1), ("250000", 3)):
            q.write_text(quota + "\n")
            p.write_text("100000\n")
            assert _threads.cgroup_cpu_limit(missing, (str(q), str(p))) == want, quota
        assert _threads.cgroup_cpu_limit(missing, (str(tmp_path / "x"), str(p))) is None

    def test_this_machines_quota_is_read(self):
        got = _threads.cgroup_cpu_limit()
        assert got is None or got >= 1

    def test_affinity_and_quota(self, monkeypatch):
        monkeypatch.setattr(fg._openmp, "affinity_cpus", lambda: 4)
        monkeypatch.setattr(_threads, "_CGROUP", [None])
        assert _threads.available_cpus() == 4
        monkeypatch.setattr(_threads, "_CGROUP", [2])
        assert _threads.available_cpus() == 2
        monkeypatch.setattr(fg._openmp, "affinity_cpus", lambda: 1)
        assert _threads.available_cpus() == 1
        monkeypatch.setattr(fg._openmp, "affinity_cpus", lambda: -1)   # no affinity call
        assert _threads.available_cpus() == min(os.cpu_count() or 1, 2)

    @pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux affinity")
    def test_affinity_is_read_at_each_call(self):
        mask = os.sched_getaffinity(0)
        assert fg._openmp.affinity_cpus() == len(mask)
        try:
            os.sched_setaffinity(0, {min(mask)})
            assert fg._openmp.affinity_cpus() == 1
            assert _threads.n_threads(10**9) == 1
        finally:
            os.sched_setaffinity(0, mask)
        assert fg._openmp.affinity_cpus() == len(mask)

    def test_smallest_wins(self, monkeypatch):
        m = _threads.MIN_WORK_PER_THREAD
        monkeypatch.setattr(_threads, "available_cpus", lambda: 8)
        monkeypatch.setattr(_threads, "openmp_max_threads", lambda: 6)
        monkeypatch.setattr(_threads, "_learn_team", lambda n: None)
        monkeypatch.setattr(_threads, "busy_threads", lambda: 0)
        assert _threads.n_threads(None) == 1               # unknown cost: one thread
        assert _threads.n_threads(0) == 1
        assert _threads.n_threads(2 * m - 1) == 1          # not enough for two
        assert _threads.n_threads(2 * m) == 2
        assert _threads.n_threads(3 * m + 5) == 3          # work
        assert _threads.n_threads(100 * m) == 6            # OpenMP limit
        monkeypatch.setattr(_threads, "openmp_max_threads", lambda: 64)
        assert _threads.n_threads(100 * m) == 8            # CPUs
        assert _threads.n_threads(10, 5) == 5              # explicit: as given
        assert _threads.n_threads(None, 3) == 3
        assert _threads.n_threads(10, -1) == 8             # -1: all CPUs
        monkeypatch.setattr(_threads, "busy_threads", lambda: 3)
        assert _threads.n_threads(100 * m) == 5            # CPUs busy with other threads
        assert _threads.n_threads(10, 2) == 2              # explicit: as given
        monkeypatch.setattr(_threads, "busy_threads", lambda: 9)
        assert _threads.n_threads(100 * m) == 1

    def test_a_small_pass_does_not_ask_for_busy_threads(self, monkeypatch):
        """Below BUSY_MIN_WORK a pass takes the threads its work justifies whatever runs
        beside it, without reading /proc; from it on, busy CPUs are taken off."""
        m, big = _threads.MIN_WORK_PER_THREAD, _threads.BUSY_MIN_WORK
        assert 2 * m < big
        asked = []
        monkeypatch.setattr(_threads, "available_cpus", lambda: 2)
        monkeypatch.setattr(_threads, "openmp_max_threads", lambda: 2)
        monkeypatch.setattr(_threads, "busy_threads", lambda: asked.append(1) or 1)
        assert _threads.n_threads(big - 1) == 2 and asked == []
        assert _threads.n_threads(big) == 1 and asked == [1]
        assert _threads.n_threads(big, count_busy=False) == 2 and asked == [1]
        # through a loss: 10000x10 float64 is below, 100000x10 above
        from fastgrad import _losses
        assert _threads.pass_work(10_000, 10) < big <= _threads.pass_work(100_000, 10)
        assert _losses._nthreads(np.zeros((10_000, 10)), None) == 2 and asked == [1]
        assert _losses._nthreads(np.zeros((100_000, 10)), None) == 1 and asked == [1, 1]

    def test_the_work_of_a_pass_counts_bytes_and_the_path(self, monkeypatch):
        """float32 elements and the elements of the BLAS path (d >= GEMV_MIN_D) count
        half: the same shape gets a second thread later."""
        from fastgrad import _linear, _losses
        m = _threads.MIN_WORK_PER_THREAD
        monkeypatch.setattr(_threads, "available_cpus", lambda: 2)
        monkeypatch.setattr(_threads, "openmp_max_threads", lambda: 2)
        monkeypatch.setattr(_threads, "_learn_team", lambda n: None)
        monkeypatch.setattr(_threads, "busy_threads", lambda: 0)
        narrow, wide = 8, _linear.GEMV_MIN_D
        assert narrow < wide
        for d, per_elem in ((narrow, 2), (wide, 1)):         # units per 2 elements
            rows = 2 * m * 2 // (d * per_elem) + 1               # just enough for 2
            X64 = np.zeros((rows, d))
            assert _threads.pass_work(rows, d) * 2 // per_elem >= rows * d
            assert _losses._nthreads(X64, None) == 2, d
            assert _losses._nthreads(X64[: rows // 2 - d], None) == 1, d
            assert _losses._nthreads(X64.astype(np.float32), None) == 1, d
            assert _losses._nthreads(X64, None, rows=rows // 2 - d) == 1, d
            assert _losses._nthreads(X64[: rows // 2 - d], 2) == 2, d   # as given
        same = 2 * m // (narrow * wide) + 1                  # rows * d >= 2 m both ways
        assert _losses._nthreads(np.zeros((same * wide, narrow)), None) == 2
        assert _losses._nthreads(np.zeros((same * narrow, wide)), None) == 1   # BLAS path
        assert _threads.pass_work(100, wide, k=3) == 100 * wide * 3    # gemm: no discount

    def test_a_fit_asks_again_before_each_run_of_epochs(self, monkeypatch):
        """A fit sized for two threads starts on one while another thread of the process
        runs (as OpenBLAS's workers do after a NumPy call) and takes the second thread
        once that thread stops: the count is asked again before each run of epochs,
        and the result is bitwise the one of workers=1."""
        from fastgrad import _losses
        m = _threads.MIN_WORK_PER_THREAD
        X, y, _, w = data(n=8 * m // 8 + 5000, d=8)     # busy counted in float32 too
        assert _threads.pass_work(len(X), 8, itemsize=4) >= _threads.BUSY_MIN_WORK
        busy = iter(())
        monkeypatch.setattr(_threads, "available_cpus", lambda: 2)
        monkeypatch.setattr(_threads, "openmp_max_threads", lambda: 2)
        monkeypatch.setattr(_threads, "busy_threads", lambda: next(busy, 0))
        monkeypatch.setattr(_losses, "CHUNK_ELEMENTS", 1)       # one epoch per run
        seen = []
        original = _losses._nthreads

        def spy(*args, **kwargs):
            got = original(*args, **kwargs)
            seen.append((kwargs.get("count_busy", True), got))
            return got

        monkeypatch.setattr(_losses, "_nthreads", spy)
        for dtype in (np.float64, np.float32):
            seen.clear()
            busy = iter([1, 1, 1])                      # the first three asks: one busy
            Xd, yd = X.astype(dtype), y.astype(dtype)
            got = fg.fit_linear_regression(Xd, yd, lr=0.01, epochs=10)
            assert seen[0] == (False, 2)                         # the most a pass may use
            asked = [n for counted, n in seen[1:] if counted]
            assert asked == [1, 1, 1] + [2] * 7, asked           # once per epoch
            seen.clear()
            ref = fg.fit_linear_regression(Xd, yd, lr=0.01, epochs=10, workers=1)
            assert [n for counted, n in seen if counted] == []   # as given: never asked
            assert_array_equal(got.w, ref.w)
            assert got.b == ref.b
            assert_array_equal(got.loss_history, ref.loss_history)

    def test_busy_threads_reads_the_task_states(self, tmp_path):
        me = str(threading.get_native_id())
        for tid, state in ((me, "R"), ("101", "R"), ("102", "S"), ("103", "R"), ("104", "D")):
            (tmp_path / tid).mkdir()
            (tmp_path / tid / "stat").write_text(f"{tid} (py thon) {state} 1 2 3 4\n")
        assert _threads.busy_threads(str(tmp_path)) == 2       # 101 and 103, not the caller
        assert _threads.busy_threads(str(tmp_path / "missing")) == 0

    @needs_proc
    def test_busy_threads_sees_a_running_thread(self):
        import hashlib
        buf = bytes(1 << 24)
        stop = threading.Event()
        running = threading.Event()

        def spin():
            running.set()
            while not stop.is_set():
                hashlib.sha256(buf).digest()      # runs without the GIL

        idle = _threads.busy_threads()
        th = threading.Thread(target=spin)
        th.start()
        try:
            running.wait()
            seen = max(_threads.busy_threads() for _ in range(50))
        finally:
            stop.set()
            th.join()
        assert seen >= 1, (idle, seen)

    @needs_proc
    def test_compiled_reader_follows_threads_starting_and_ending(self):
        # The compiled reader keeps /proc files open between calls: it must see a thread
        # that started after its last call and forget one that ended, as the Python
        # scan of /proc/self/task (the reference) does, and never count the caller.
        me = threading.get_native_id()
        assert fg._openmp.running_tids() is not None       # files opened before the start
        for _ in range(2):                                 # a second thread, a new tid
            with _spinning_thread() as tid:
                assert _seen_running(tid)
                assert max(_threads.busy_threads() for _ in range(50)) >= 1
                assert max(_threads.busy_threads("/proc/self/task") for _ in range(50)) >= 1
            assert _ended(tid)
            tids = fg._openmp.running_tids()
            assert tids is not None and tid not in tids and me not in tids
        # A thread seen asleep is not read again until it has been put on a CPU: it
        # must be seen once it wakes up and runs.
        go = threading.Event()
        with _spinning_thread(go) as tid:
            for _ in range(500):                     # until it is seen asleep
                if tid not in fg._openmp.running_tids():
                    break
                time.sleep(0.001)
            assert tid not in fg._openmp.running_tids()
            go.set()
            assert _seen_running(tid)

    @needs_proc
    def test_compiled_reader_in_a_forked_child(self):
        # A forked child inherits the parent's open /proc files; it must read its own.
        import multiprocessing
        assert fg._openmp.running_tids() is not None
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:
            child_pid, child_tasks, tid, seen = pool.apply(_reader_in_child)
        assert child_pid != os.getpid()
        assert seen and tid in child_tasks
        assert not set(child_tasks) & {int(t) for t in os.listdir("/proc/self/task")}

    @needs_proc
    def test_compiled_reader_out_of_descriptors_cannot_tell(self):
        # With room for the folder and one thread's files only, the reader must say it
        # cannot tell (None), not give the threads it could open as the whole picture.
        code = textwrap.dedent(r"""
            import os, resource, threading
            import fastgrad as fg
            stop = threading.Event()
            th = threading.Thread(target=stop.wait)
            th.start()
            def is_open(fd):
                try:
                    os.fstat(fd)
                    return True
                except OSError:
                    return False
            limit, free = 0, 0
            while free < 4:                       # the lowest numbers 4 new files get
                free += not is_open(limit)
                limit += 1
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
            starved = fg._openmp.running_tids()
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            fed = fg._openmp.running_tids()
            stop.set()
            th.join()
            print(len(os.listdir("/proc/self/task")) >= 2, starved, fed is not None)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        assert out == ["True", "None", "True"], out

    @needs_proc
    @pytest.mark.skipif(not fg._openmp.enabled(), reason="built without OpenMP")
    def test_fastgrads_own_workers_are_not_counted(self):
        X, y, _, w = data(n=2 * _threads.MIN_WORK_PER_THREAD // 4 + 1000, d=4)
        fg.mse_gradient(X, y, w, workers=2)          # the team exists and may spin
        tids = set(fg._openmp.team_tids(2)[1:])            # the workers, not the caller
        _threads._learn_team(2)
        assert tids and tids <= _threads._TEAM
        for _ in range(20):                 # right after a pass, while its worker spins
            fg.mse_gradient(X, y, w, workers=2)
            assert not tids & set(fg._openmp.running_tids())
        # A team that shrinks and grows again may get new workers: they are learnt too.
        for n in (3, 2, 3):
            _threads._learn_team(n)
        assert set(fg._openmp.team_tids(3)[1:]) <= _threads._TEAM

    def test_workers_none_is_serial_for_python_f(self):
        assert _modes.check_workers(None) == 1
        assert _modes.check_workers(-1) == _threads.available_cpus()
        assert _modes.check_workers(map) is map


@contextlib.contextmanager
def _spinning_thread(go=None):
    """A thread that runs without the GIL until the block ends (once ``go`` is set, if
    given: until then it sleeps); yields its tid."""
    import hashlib
    buf = bytes(1 << 22)
    stop, started, tid = threading.Event(), threading.Event(), []

    def spin():
        tid.append(threading.get_native_id())
        started.set()
        if go is not None:
            go.wait()
        while not stop.is_set():
            hashlib.sha256(buf).digest()
    th = threading.Thread(target=spin)
    th.start()
    started.wait()
    try:
        yield tid[0]
    finally:
        stop.set()
        if go is not None:
            go.set()
        th.join()


def _seen_running(tid, reads=1000):
    for _ in range(reads):
        tids = fg._openmp.running_tids()
        assert tids is not None
        if tid in tids:
            return True
        time.sleep(0.0005)              # lets the thread take the GIL between its hashes
    return False


def _ended(tid):
    """Wait until the thread has left /proc (a joined thread may linger a moment)."""
    for _ in range(1000):
        if str(tid) not in os.listdir("/proc/self/task"):
            return True
        time.sleep(0.001)
    return False


def _reader_in_child():
    with _spinning_thread() as tid:
        seen = _seen_running(tid)
        tasks = [int(t) for t in os.listdir("/proc/self/task")]
    return os.getpid(), tasks, tid, seen


# ------------------------------------------------------------------ no global change
def test_no_process_wide_setting_changes():
    X, y, labels, w = data(n=60_000, d=40)
    env = dict(os.environ)
    info = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()]
    fg.fit_linear_regression(X, y, lr=0.01, epochs=3, workers=2)
    fg.mse_gradient(X, y, w)
    fg.logistic_loss(X, labels, w, workers=-1)
    assert dict(os.environ) == env
    assert [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()] == info


# ------------------------------------------------------------------ process pools
def _square_sum(v):
    return float(np.sum(v * v) + np.sin(v[0]))


@needs_proc
def test_process_pool_is_reused_across_calls():
    import multiprocessing
    x = np.linspace(-1.0, 1.0, 6)
    serial = fg.numerical_gradient(_square_sum, x)
    _modes.close_pools()
    before = {p.pid for p in multiprocessing.active_children()}
    first = fg.numerical_gradient(_square_sum, x, workers=2)
    kids = {p.pid for p in multiprocessing.active_children()} - before
    assert len(kids) == 2
    for _ in range(5):                              # a gradient called in a loop
        assert_array_equal(fg.numerical_gradient(_square_sum, x, workers=2), serial)
        assert_array_equal(fg.jacobian(_square_sum, x, workers=2), serial)
    assert {p.pid for p in multiprocessing.active_children()} - before == kids
    assert_array_equal(first, serial)
    _modes.close_pools()
    assert not ({p.pid for p in multiprocessing.active_children()} & kids)


def _boom(v):
    raise ZeroDivisionError("from f")


@needs_proc
def test_process_pool_survives_an_exception_of_f():
    import multiprocessing
    x = np.array([1.0, 2.0])
    expected = fg.numerical_gradient(_square_sum, x)
    assert_array_equal(fg.numerical_gradient(_square_sum, x, workers=2), expected)
    kids = {p.pid for p in multiprocessing.active_children()}
    with pytest.raises(ZeroDivisionError, match="from f"):
        fg.numerical_gradient(_boom, x, workers=2)
    assert_array_equal(fg.numerical_gradient(_square_sum, x, workers=2), expected)
    assert {p.pid for p in multiprocessing.active_children()} == kids
