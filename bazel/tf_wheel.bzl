"""A repository for the TensorFlow C++ library that the pip wheel in .venv ships.

The wheel carries `include/`, `libtensorflow_cc.so.2` and `libtensorflow_framework.so.2`; this
rule finds them through the project's Python (CADL_GRAPH_PYTHON, default .venv/bin/python, so
run `make test` or `make cc` once first) and exposes them as @tf_wheel//:tensorflow. Nothing is
downloaded.
"""

_FIND_TF = "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('tensorflow').origin))"

_BUILD = """
cc_library(
    name = "tensorflow",
    srcs = ["libtensorflow_cc.so.2", "libtensorflow_framework.so.2"],
    hdrs = glob(["include/**"], exclude = ["include/**/*.py"]),
    includes = ["include"],
    defines = ["_GLIBCXX_USE_CXX11_ABI=1", "EIGEN_MAX_ALIGN_BYTES=64"],
    # Both libraries must stay NEEDED: the session factories register themselves in static
    # initialisers, and without them NewSession fails with "No session factory registered".
    linkopts = ["-Wl,--no-as-needed"],
    visibility = ["//visibility:public"],
)
"""

def _tf_wheel_impl(ctx):
    python = ctx.os.environ.get("CADL_GRAPH_PYTHON") or str(ctx.path(Label("//:pyproject.toml")).dirname) + "/.venv/bin/python"
    found = ctx.execute([python, "-c", _FIND_TF])
    if found.return_code != 0:
        fail("cannot find TensorFlow with %s (%s); run `make cc` first to create .venv, or set CADL_GRAPH_PYTHON" % (python, found.stderr.strip()))
    tf_dir = found.stdout.strip()
    for name in ["include", "libtensorflow_cc.so.2", "libtensorflow_framework.so.2"]:
        ctx.symlink(tf_dir + "/" + name, name)
    ctx.file("BUILD", _BUILD)

tf_wheel = repository_rule(
    implementation = _tf_wheel_impl,
    local = True,
    environ = ["CADL_GRAPH_PYTHON"],
)
