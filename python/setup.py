"""Build the vlstore Python package: the `vlstore._core` extension plus pure-Python modules.

How the C library is found (first match wins):

1. ``VLSTORE_BUILD_DIR``: a CMake build directory of this repository. The extension links its
   static ``libvlstore.a`` (its objects are position-independent, so they link into a shared
   module), with headers from ``VLSTORE_INCLUDE_DIR`` (default: ``../include`` next to this
   file). A sanitizer build dir works too; the extension is then linked with the same
   ``-fsanitize`` flags (running it needs the sanitizer runtime preloaded, see
   tests/test_python.sh).
2. ``../build/libvlstore.a`` when it exists (what ``make`` builds).
3. Otherwise (or with ``VLSTORE_FROM_SOURCES=1``) the library sources ``../src/*.c`` are
   compiled into the extension directly.

Either way the extension also links Debian's libblosc and libxxhash (found with pkg-config),
so nothing is downloaded: ``/usr/bin/python3 -m pip install --no-build-isolation ./python``.
"""
import os
import re
import shlex
import subprocess
import sys
from glob import glob

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
INCLUDE = os.environ.get("VLSTORE_INCLUDE_DIR", os.path.join(ROOT, "include"))

# The project's C warnings (CMakeLists.txt VLS_WARNINGS), minus those Python's headers trip.
WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wvla", "-Wpointer-arith", "-Wformat=2",
            "-Wmissing-prototypes", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
            "-Wno-cast-function-type"]


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(
            "vlstore: pkg-config could not find libblosc and libxxhash "
            f"({e}); install them with: apt-get install pkg-config libblosc-dev libxxhash-dev"
        ) from e
    return shlex.split(out.stdout)


def cmake_sanitize_flags(build_dir):
    """-fsanitize=... when the CMake build dir was configured with VLS_SANITIZE."""
    cache = os.path.join(build_dir, "CMakeCache.txt")
    if not os.path.exists(cache):
        return []
    with open(cache, encoding="utf-8", errors="replace") as f:
        m = re.search(r"^VLS_SANITIZE:STRING=(.*)$", f.read(), re.M)
    if m and m.group(1).strip():
        return [f"-fsanitize={m.group(1).strip()}", "-fno-omit-frame-pointer"]
    return []


def library_setup():
    """(sources, extra_objects, compile_args, link_args, macros, where)."""
    build_dir = os.environ.get("VLSTORE_BUILD_DIR") or None
    if os.environ.get("VLSTORE_FROM_SOURCES") == "1":
        build_dir = None
    elif build_dir is None and os.path.exists(os.path.join(ROOT, "build", "libvlstore.a")):
        build_dir = os.path.join(ROOT, "build")
    if build_dir is not None:
        build_dir = os.path.abspath(build_dir)
        lib = os.path.join(build_dir, "libvlstore.a")
        if not os.path.exists(lib):
            raise SystemExit(f"vlstore: {lib} does not exist; build the C library first "
                             f"(cmake -S {ROOT} -B {build_dir} && cmake --build {build_dir})")
        san = cmake_sanitize_flags(build_dir)
        return [], [lib], san, san, [], lib
    srcs = sorted(glob(os.path.join(ROOT, "src", "*", "*.c")))
    if not srcs:
        raise SystemExit("vlstore: no libvlstore.a and no ../src/*/*.c; set VLSTORE_BUILD_DIR")
    args = ["-std=c11", "-fvisibility=hidden", f"-I{os.path.join(ROOT, 'src')}"]
    return srcs, [], args, [], [("_GNU_SOURCE", None)], "sources in ../src/*/"


sources, objects, cargs, largs, macros, where = library_setup()
cflags = pkg_config("--cflags", "blosc", "libxxhash")
libs = pkg_config("--libs", "blosc", "libxxhash")
print(f"vlstore: C library from {where}", file=sys.stderr)

# The extension's own files (python/src/core.h says what each holds).
EXTENSION_SOURCES = ["module.c", "store.c", "frame.c", "batch.c", "loader.c"]

core = Extension(
    "vlstore._core",
    sources=[os.path.join("src", f) for f in EXTENSION_SOURCES] + sources,
    # relink when the library or a header changes (setuptools ignores extra_objects)
    depends=objects + sorted(glob(os.path.join(INCLUDE, "*.h"))) + [os.path.join("src", "core.h")],
    include_dirs=[INCLUDE],
    define_macros=macros,
    extra_objects=objects,
    extra_compile_args=["-std=c11", "-O2"] + WARNINGS + cflags + cargs,
    # Keep the library's symbols private to the module (no clash with a libvlstore.so).
    extra_link_args=["-Wl,--exclude-libs,ALL"] + largs + libs + ["-lpthread", "-lm"],
)

setup(
    name="vlstore",
    version="0.2.0",  # the C library's version (VLS_VERSION_STRING in include/vlstore.h)
    description="Variable-length records (MD frames) in one compressed, chunked, crash-safe "
    "file: the seed's Python API on the vlstore C library",
    license="Apache-2.0",
    packages=["vlstore"],
    package_dir={"vlstore": "vlstore"},
    ext_modules=[core],
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
)
