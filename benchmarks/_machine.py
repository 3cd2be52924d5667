"""What the report says about the machine and the software: CPU, cores, memory,
versions of fastgrad, NumPy, SciPy and the anchors, BLAS kernel and threads, load."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata

ANCHORS = ("numdifftools", "numba", "jax", "jaxlib", "torch", "matplotlib", "tqdm")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def memory_gib() -> str:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def fastgrad_version() -> str:
    import fastgrad

    v = getattr(fastgrad, "__version__", "?")
    where = os.path.dirname(os.path.abspath(fastgrad.__file__))
    try:
        rev = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", where, "status", "--porcelain", "--",
                                "src", "fastgrad"], capture_output=True, text=True, timeout=10)
        if rev.returncode == 0:
            dirty_note = ", uncommitted changes" if dirty.stdout.strip() else ""
            v += f" (commit {rev.stdout.strip()}{dirty_note})"
    except (OSError, subprocess.SubprocessError):
        pass
    return v


def blas_info() -> str:
    """NumPy's BLAS library, kernel (architecture) and threads, via threadpoolctl."""
    import numpy  # noqa: F401  (loads the BLAS library threadpoolctl inspects)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    for info in threadpool_info():
        if info.get("user_api") == "blas" and "numpy" in info.get("filepath", ""):
            return (f"{info.get('internal_api')} {info.get('version')}, kernel "
                    f"{info.get('architecture', '?')}, {info.get('num_threads')} threads")
    return "unknown"


def fastgrad_threads() -> str:
    try:
        from fastgrad import _losses

        return f"{_losses._n_threads(1 << 30)} OpenMP threads for large X"
    except Exception:  # private helper: may change
        return "unknown"


def describe(removed_env: dict) -> dict:
    import numpy as np
    import scipy

    info = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu_model()}, {usable_cpus()} usable cores, {memory_gib()} RAM",
        "python": f"{platform.python_implementation()} {platform.python_version()} "
                  f"({platform.system()} {platform.machine()})",
        "fastgrad": f"{fastgrad_version()}; {fastgrad_threads()}",
        "numpy": f"{np.__version__} (BLAS: {blas_info()})",
        "scipy": scipy.__version__,
    }
    anchors = []
    for dist in ANCHORS:
        v = version(dist)
        anchors.append(f"{dist} {v}" if v else f"{dist} missing")
    info["anchors"] = ", ".join(anchors)
    if removed_env:
        info["environment"] = ("unset for this run so NumPy uses its own BLAS kernel: "
                               + ", ".join(f"{k}={v}" for k, v in removed_env.items()))
    try:
        info["load"] = "load average at start: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    return info
