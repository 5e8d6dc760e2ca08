#!/bin/sh
# Set up rdns-milter on Debian 12 and run it or its tests.
#   contrib/setup.sh run    install packages (as root), build, run the milter in the foreground
#   contrib/setup.sh test   install packages (as root), build, run every test suite
#   contrib/setup.sh build  install packages (as root) and build only
#   contrib/setup.sh sanitize  also build with ASan+UBSan and with TSan and run unit+integration
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
  knot knot-dnsutils nsd rbldnsd dnsutils ldnsutils swaks miltertest postfix opendmarc
  util-linux m4 libwrap0
  libmicrohttpd-dev
  debhelper dpkg-dev fakeroot lintian systemd cpio git mandoc groff-base"

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
    meson test -C "$build" --print-errorlogs --num-processes 2 "$@" >"$build/test-output.txt" 2>&1 || status=$?
    cat "$build/test-output.txt"
    # One plain summary line for CI, from meson's own counts.
    awk '
      /^Ok:/ {ok=$2} /^Expected Fail:/ {xf=$3} /^Fail:/ {fail=$2}
      /^Unexpected Pass:/ {up=$3} /^Skipped:/ {skip=$2} /^Timeout:/ {to=$2}
      END { printf "%d passed, %d failed, %d skipped\n", ok+xf, fail+up+to, skip }
    ' "$build/test-output.txt"
    exit "$status"
    ;;
  sanitize)
    # Not part of "test" (each sanitizer build takes minutes on 2 cores); run before releases.
    status=0
    for kind in address,undefined thread; do
      dir="$build-$(echo "$kind" | tr ',' '-')"
      [ -f "$dir/build.ninja" ] || meson setup "$dir" -Db_sanitize="$kind" -Dbuildtype=debug >/dev/null
      ninja -C "$dir" >/dev/null
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        meson test -C "$dir" --suite unit --suite integration --print-errorlogs "$@" || status=1
    done
    exit "$status"
    ;;
  *)
    echo "usage: contrib/setup.sh run|test|build|sanitize [ARGS...]" >&2
    exit 2
    ;;
esac
