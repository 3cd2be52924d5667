"""Build the Cython kernels of fastgrad.

Every ``src/_<name>.pyx`` compiles into the extension module ``fastgrad._<name>``.

Environment switches
--------------------
FASTGRAD_DEBUG_CYTHON=1
    Compile with ``boundscheck`` and ``initializedcheck`` on, so that an
    out-of-bounds index raises IndexError instead of reading garbage.
FASTGRAD_NO_OPENMP=1
    Do not try to compile with OpenMP (``prange`` then runs serially).
"""
import os
import sys
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("FASTGRAD_DEBUG_CYTHON", "0") not in ("", "0")
MODULES = ["_coloring", "_diff", "_linear", "_openmp", "_optim"]


def _openmp_flags():
    """Return (compile_args, link_args) for OpenMP, or empty lists when it is unusable."""
    if os.environ.get("FASTGRAD_NO_OPENMP", "0") not in ("", "0") or sys.platform == "win32":
        return [], []
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.errors import CompileError, LinkError
    from setuptools._distutils.sysconfig import customize_compiler

    cc = new_compiler()
    customize_compiler(cc)
    code = textwrap.dedent(
        """
        #include <omp.h>
        int main(void) { int n = 0;
        #pragma omp parallel reduction(+:n)
          n += omp_get_num_threads() > 0;
          return n > 0 ? 0 : 1; }
        """
    )
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp_check.c")
        with open(src, "w") as fh:
            fh.write(code)
        try:
            objs = cc.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
            cc.link_executable(objs, os.path.join(tmp, "omp_check"), extra_postargs=["-fopenmp"])
        except (CompileError, LinkError):
            warnings.warn("OpenMP not available: fastgrad's parallel loops will run serially.")
            return [], []
    return ["-fopenmp"], ["-fopenmp"]


class BuildExt(build_ext):
    def build_extensions(self):
        cflags, lflags = _openmp_flags()
        for ext in self.extensions:
            ext.extra_compile_args = ["-O3", *cflags] + (["-O0", "-g"] if DEBUG else [])
            ext.extra_link_args = list(lflags)
        super().build_extensions()


extensions = [
    Extension(
        f"fastgrad.{name}",
        [f"src/{name}.pyx"],
        depends=["src/_loss_terms.h", "src/_diff_types.pxd", "src/_openmp.h",
                 "src/_optim_rules.pxd"],
        include_dirs=[np.get_include(), "src"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "initializedcheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
        annotate=os.environ.get("FASTGRAD_ANNOTATE", "0") not in ("", "0"),
    ),
    cmdclass={"build_ext": BuildExt},
)
