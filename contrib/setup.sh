#!/bin/sh
# Set up rdns-milter on Debian 12 and run it or its tests.
#   contrib/setup.sh run    install packages (as root), build, run the milter in the foreground
#   contrib/setup.sh test   install packages (as root), build, run every test suite, then
#                           the unit, integration and e2e suites under ASan+UBSan and the unit
#                           and integration suites under TSan (RDNS_SANITIZE=no skips those)
#   contrib/setup.sh build  install packages (as root) and build only
#   contrib/setup.sh sanitize  only the sanitizer builds and their suites
#   contrib/setup.sh bench [MODE...] [--quick]  also install the benchmark's peer
#                           (pyspf-milter), build, run bench/run (as root; bench/README.md)
# Idempotent and non-interactive; packages already installed are not fetched again.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${RDNS_BUILD_DIR:-build}
mode=${1:-run}
shift || true

# Build, run and test dependencies (Debian 12 package names); the last line is for the
# package test (tests/package/check-deb.sh).
packages="build-essential g++ clang meson ninja-build pkg-config python3 clang-format clang-tidy
  libmilter-dev libunbound-dev libevent-dev nettle-dev libldns-dev libspf2-dev
  libboost-program-options-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev libsystemd-dev
  libgtest-dev libgmock-dev googletest dns-root-data
  knot knot-dnsutils nsd rbldnsd unbound dnsutils ldnsutils swaks miltertest postfix opendmarc
  util-linux m4 libwrap0
  libmicrohttpd-dev
  debhelper dpkg-dev fakeroot lintian systemd cpio git mandoc groff-base"
# Only the benchmark needs these: the SPF milter it is compared with.
if [ "$mode" = bench ]; then
  packages="$packages pyspf-milter"
fi

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages:$missing; run this script as root to install them" >&2
    exit 1
  fi
  echo "setup: installing$missing"
  # Postfix is only used by the tests, on private ports; keep its Debian configuration inert.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $missing >/dev/null
  # Tests run their own unbound daemons on private ports; the packaged service is not wanted
  # on a machine that did not have it before.
  case " $missing " in
    *" unbound "*)
      if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now unbound.service >/dev/null 2>&1 || true
      fi
      ;;
  esac
  # The benchmark starts its own pyspf-milter in a namespace; the packaged service is not wanted.
  case " $missing " in
    *" pyspf-milter "*)
      if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now pyspf-milter.service >/dev/null 2>&1 || true
      fi
      ;;
  esac
fi

# The Sendmail e2e test runs Debian's sendmail unpacked, not installed (sendmail-bin conflicts
# with postfix): download and unpack it once into the cache the test reads (idempotent).
fetch_sendmail() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: not root: the sendmail e2e test will fetch sendmail itself or skip" >&2
    return 0
  fi
  contrib/sendmail/fetch-sendmail.sh "${RDNS_SENDMAIL_CACHE:-/var/cache/rdns-milter-tests/sendmail}" >/dev/null ||
    echo "setup: could not fetch sendmail; the sendmail e2e test will try again, then skip" >&2
}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dwerror=true >/dev/null
fi
ninja -C "$build" >/dev/null

# One sanitizer build and its suites: sanitized KIND SUITE...; output appended to $results.
# Note: the fuzz targets (their own clang ASan build) and the package test are not rebuilt here.
sanitized() {
  kind=$1
  shift
  dir="$build-$(echo "$kind" | tr ',' '-')"
  [ -f "$dir/build.ninja" ] ||
    meson setup "$dir" -Db_sanitize="$kind" -Db_lundef=false -Dbuildtype=debug -Dfuzz=disabled >/dev/null
  if ! ninja -C "$dir" >>"$results" 2>&1; then
    echo "setup: the $kind build failed" >>"$results"
    echo "Fail: 1" >>"$results"
    status=1
    return 0
  fi
  suites=""
  for s in "$@"; do suites="$suites --suite $s"; done
  echo "setup: $kind: suites $*" >>"$results"
  # Note: halt_on_error makes every UBSan finding fail its test; detect_leaks stays on.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS="suppressions=$here/tests/lsan.supp" \
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$here/tests/tsan.supp" \
    meson test -C "$dir" --print-errorlogs --num-processes 2 $suites >>"$results" 2>&1 || status=1
}

# The plain summary line for CI, summed over every meson run in $results.
summary() {
  awk '
    /^Ok:/ {ok+=$2} /^Expected Fail:/ {xf+=$3} /^Fail:/ {fail+=$2}
    /^Unexpected Pass:/ {up+=$3} /^Skipped:/ {skip+=$2} /^Timeout:/ {to+=$2}
    END { printf "%d passed, %d failed, %d skipped\n", ok+xf, fail+up+to, skip }
  ' "$results"
}

case "$mode" in
  build) ;;
  run)
    # The daemon refuses to run as root: as root, it switches to nobody once its socket is
    # open (unless the arguments name a user).
    case " $* " in
      *" --user"*) ;;
      *) [ "$(id -u)" != 0 ] || set -- --user nobody "$@" ;;
    esac
    echo "setup: starting rdns-milter in the foreground (Ctrl-C stops it)"
    exec "$build/src/rdns-milter" --foreground "$@"
    ;;
  test)
    fetch_sendmail
    status=0
    results="$build/test-output.txt"
    meson test -C "$build" --print-errorlogs --num-processes 2 "$@" >"$results" 2>&1 || status=$?
    cat "$results"
    if [ "${RDNS_SANITIZE:-yes}" != no ] && [ $# = 0 ]; then
      start=$(cat "$results" | wc -l)
      sanitized address,undefined unit integration e2e
      sanitized thread unit integration
      tail -n +"$((start + 1))" "$results"
    fi
    summary
    exit "$status"
    ;;
  sanitize)
    status=0
    results="$build/sanitize-output.txt"
    : >"$results"
    sanitized address,undefined unit integration e2e
    sanitized thread unit integration
    cat "$results"
    summary
    exit "$status"
    ;;
  bench)
    exec python3 bench/run --build "$build" "$@"
    ;;
  *)
    echo "usage: contrib/setup.sh run|test|build|sanitize|bench [ARGS...]" >&2
    exit 2
    ;;
esac
