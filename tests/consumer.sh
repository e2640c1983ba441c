# tests/consumer.sh — sourced by test_install.sh and test_doc_examples.sh (after lib.sh): install
# the build tree into a scratch prefix, as `make install PREFIX=...` does, and build programs
# against the installed library the two ways a user would: pkg-config, and CMake find_package
# with the targets vlstore::vlstore (shared) and vlstore::vlstore_static.
# Needs: BUILD (the build tree). A sanitizer or coverage build instruments the library, so its
# consumers are built with the same flags (CONSUMER_FLAGS).
# shellcheck shell=bash

CONSUMER_FLAGS=""
if [ -f "$BUILD/CMakeCache.txt" ]; then
    sanitize=$(sed -n 's/^VLS_SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
    [ -n "$sanitize" ] && CONSUMER_FLAGS="-fsanitize=$sanitize"
    if grep -q '^VLS_COVERAGE:BOOL=ON' "$BUILD/CMakeCache.txt"; then
        CONSUMER_FLAGS="$CONSUMER_FLAGS --coverage"
    fi
fi

# install_into PREFIX : cmake --install of the build tree (what `make install PREFIX=` runs).
install_into() {
    cmake --install "$BUILD" --prefix "$1" >"$1.install.log" 2>&1 ||
        { cat "$1.install.log" >&2; return 1; }
}

# build_pkgconfig PREFIX SRC OUT [static] : cc with `pkg-config vlstore` from PREFIX. Shared:
# an rpath to the prefix's libdir. Static: libvlstore.a with `pkg-config --static`'s libraries
# (Requires.private, Libs.private), so a missing dependency in vlstore.pc fails the link.
build_pkgconfig() {
    local prefix=$1 src=$2 out=$3 how=${4:-shared} pc libdir cflags libs
    pc=$(dirname "$(find "$prefix" -name vlstore.pc | head -n 1)")
    libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir vlstore) || return 1
    cflags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags vlstore) || return 1
    if [ "$how" = static ]; then
        libs=$(PKG_CONFIG_PATH=$pc pkg-config --static --libs vlstore) || return 1
        libs=${libs/-lvlstore/-l:libvlstore.a}
    else
        libs="$(PKG_CONFIG_PATH=$pc pkg-config --libs vlstore) -Wl,-rpath,$libdir"
    fi
    # shellcheck disable=SC2086 # the flags are lists
    cc -std=c11 -Wall -Wextra -Werror $CONSUMER_FLAGS $cflags -o "$out" "$src" $libs
}

# build_cmake PREFIX SRCDIR BINDIR [min_version] : a CMake project that builds every SRCDIR/*.c
# twice, NAME_shared against vlstore::vlstore and NAME_static against vlstore::vlstore_static,
# finding the package with find_package(vlstore [min_version] REQUIRED) under PREFIX.
build_cmake() {
    local prefix=$1 src=$2 bin=$3 version=${4:-}
    mkdir -p "$bin/project"
    cat >"$bin/project/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.20)
project(vlstore_consumer C)
find_package(vlstore $version REQUIRED)
file(GLOB srcs "$src/*.c")
foreach(src \${srcs})
  get_filename_component(name \${src} NAME_WE)
  add_executable(\${name}_shared \${src})
  target_link_libraries(\${name}_shared PRIVATE vlstore::vlstore)
  add_executable(\${name}_static \${src})
  target_link_libraries(\${name}_static PRIVATE vlstore::vlstore_static)
endforeach()
EOF
    cmake -S "$bin/project" -B "$bin" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_C_FLAGS="-Wall -Wextra -Werror $CONSUMER_FLAGS" \
        -DCMAKE_EXE_LINKER_FLAGS="$CONSUMER_FLAGS" >"$bin.configure.log" 2>&1 ||
        { cat "$bin.configure.log" >&2; return 1; }
    cmake --build "$bin" -j 2 >"$bin.build.log" 2>&1 || { cat "$bin.build.log" >&2; return 1; }
}

# needs_libvlstore BINARY : prints the NEEDED entry naming libvlstore ("" for a static link).
needs_libvlstore() {
    readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(libvlstore[^]]*\)\].*/\1/p'
}
