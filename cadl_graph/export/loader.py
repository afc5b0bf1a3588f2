"""The C++ loader, compiled against the installed TensorFlow: exports run from C++.

    from cadl_graph.export import loader
    loader.build("build/load_graph")      # what `make cc` and `cadl-graph build_loader` do

`load_graph.cc` ships inside the package (as `cadl_graph.cc_files`, from the repository's cc/
folder), so an installed wheel builds the same program a checkout does. It links against the
TensorFlow wheel's own shared libraries (`libtensorflow_cc.so.2`, `libtensorflow_framework.so.2`)
and headers, with the wheel's folder as its run-time search path: no separate libtensorflow is
needed, and the program runs what that TensorFlow runs.
"""

import importlib.resources
import shutil
import subprocess
from pathlib import Path

from cadl_graph import fileio
from cadl_graph.compat import tf
from cadl_graph.errors import Error

SOURCE = Path(str(importlib.resources.files("cadl_graph.cc_files") / "load_graph.cc"))
# Deprecated-API and cache-line notices from TensorFlow's own headers; nothing to act on here.
QUIET = ["-Wno-deprecated-declarations", "-Wno-interference-size"]


class LoaderBuildError(Error, RuntimeError):
    """The C++ loader could not be compiled (no compiler, or the compiler failed)."""


def command(output, compiler="g++"):
    """The compiler command line that builds `output` from SOURCE (see the module docstring)."""
    lib = tf.sysconfig.get_lib()
    # Without --no-as-needed the program links but fails at run time with "No session factory
    # registered": nothing references libtensorflow_cc's session factory by symbol.
    linker = ["-fuse-ld=gold"] if shutil.which("ld.gold") else []
    return [compiler, "-O2", "-Wall", *tf.sysconfig.get_compile_flags(), *QUIET,
            "-o", str(output), str(SOURCE), f"-L{lib}", "-Wl,--no-as-needed",
            "-l:libtensorflow_cc.so.2", "-l:libtensorflow_framework.so.2", "-Wl,--as-needed",
            f"-Wl,-rpath,{lib}", *linker]


def build(output, compiler="g++"):
    """Compiles the loader into `output` (written whole or not at all); returns its path.

    Raises:
      LoaderBuildError: `compiler` is not installed, or it failed (its last lines quoted).
    """
    if shutil.which(compiler) is None:
        raise LoaderBuildError(f"{compiler} is not installed; the C++ loader needs a C++17 "
                               "compiler (Debian: apt-get install g++)")
    with fileio.atomic_path(output) as tmp:
        done = subprocess.run(command(tmp, compiler), capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise LoaderBuildError(f"{compiler} failed (exit {done.returncode}) building "
                                   f"{output} from {SOURCE}:\n{tail}")
        tmp.chmod(tmp.stat().st_mode | 0o111)  # whatever mode the linker left: runnable
    return Path(output)
