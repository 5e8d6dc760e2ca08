#!/bin/sh
# Build the Debian package from a copy of the source tree and check what it ships:
#   tests/package/check-deb.sh SOURCE_DIR WORK_DIR
# Fails (never skips) when the packaging tools are missing: contrib/setup.sh installs them.
# WORK_DIR is removed on success unless CHECK_DEB_KEEP is set.
set -eu

src=$(cd "$1" && pwd)
work=$2
version=$(sed -n '1s/^rdns-milter (\([^)]*\)).*/\1/p' "$src/debian/changelog")
upstream=${version%-*}
arch=$(dpkg --print-architecture)

fail() {
  echo "check-deb: FAIL: $*" >&2
  exit 1
}
for tool in dpkg-buildpackage dpkg-deb dh lintian systemd-analyze systemd-sysusers readelf; do
  command -v "$tool" >/dev/null || fail "$tool is missing (contrib/setup.sh installs it)"
done

# A clean copy (tracked and new, not ignored files, as they are in the work tree), so the
# work tree gets no obj-*/ or debian/rdns-milter/ and the .deb lands in $work, not in ..
rm -rf "$work"
tree="$work/rdns-milter-$upstream"
mkdir -p "$tree"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    cpio -0 -pdm --quiet "$tree")
else
  (cd "$src" && tar --exclude='./build*' --exclude='./obj-*' -cf - .) | tar -xf - -C "$tree"
fi

# dh points HOME at a scratch directory: keep using the user's ccache.
if command -v ccache >/dev/null; then
  CCACHE_DIR=$(ccache -k cache_dir)
  CCACHE_BASEDIR=$work
  export CCACHE_DIR CCACHE_BASEDIR
fi
start=$(date +%s)
if ! (cd "$tree" && dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log" >&2
  fail "dpkg-buildpackage failed (log: $work/build.log)"
fi
echo "check-deb: dpkg-buildpackage took $(($(date +%s) - start)) s"

deb="$work/rdns-milter_${version}_${arch}.deb"
[ -f "$deb" ] || fail "no $deb"
ls "$work"/rdns-milter-dbgsym_"${version}"_"${arch}".*deb >/dev/null 2>&1 || fail "no -dbgsym package"

dpkg-deb -c "$deb" >"$work/contents.txt"
cat "$work/contents.txt"
expect_file() {
  grep -q " \./$1\$" "$work/contents.txt" || fail "the package does not ship /$1"
}
expect_file usr/sbin/rdns-milter
expect_file etc/rdns-milter/rdns-milter.conf
expect_file lib/systemd/system/rdns-milter.service
expect_file usr/lib/sysusers.d/rdns-milter.conf
expect_file usr/share/doc/rdns-milter/copyright
for page in "$src"/man/*.[1-8]; do
  name=$(basename "$page")
  expect_file "usr/share/man/man${name##*.}/$name.gz"
done

info="$work/control"
dpkg-deb -e "$deb" "$info"
grep -qx /etc/rdns-milter/rdns-milter.conf "$info/conffiles" ||
  fail "/etc/rdns-milter/rdns-milter.conf is not a conffile"
grep -q 'systemd-sysusers' "$info/postinst" || fail "postinst does not create the system user"
grep -q 'deb-systemd-helper' "$info/postinst" || fail "postinst does not enable the unit"

root="$work/root"
dpkg-deb -x "$deb" "$root"
bin="$root/usr/sbin/rdns-milter"
"$bin" --version >"$work/version.txt" || fail "--version exits non-zero"
cat "$work/version.txt"
head -n 1 "$work/version.txt" | grep -qx "rdns-milter $upstream" ||
  fail "--version does not print rdns-milter $upstream first"
for lib in libmilter libunbound libspf2 ldns; do
  grep -Eq "^$lib [0-9]+\.[0-9]+" "$work/version.txt" || fail "--version does not print the $lib version"
done
# The shipped conffile passes --config-test as it is (the socket is the unit's).
"$bin" --config-test --config "$root/etc/rdns-milter/rdns-milter.conf" >"$work/config-test.txt" 2>&1 ||
  { cat "$work/config-test.txt" >&2; fail "--config-test fails on the shipped /etc/rdns-milter/rdns-milter.conf"; }
grep -qx 'pid-file = /run/rdns-milter/rdns-milter.pid' "$work/config-test.txt" ||
  { cat "$work/config-test.txt" >&2; fail "--config-test does not show the conffile's pid-file"; }
grep -qx 'socket = unix:/run/rdns-milter/rdns-milter.sock' "$work/config-test.txt" ||
  { cat "$work/config-test.txt" >&2; fail "--config-test does not show the conffile's socket"; }
"$bin" --help | grep -q '^Usage: rdns-milter' || fail "--help prints no usage"
if readelf -S "$bin" | grep -q '\.debug_info'; then fail "/usr/sbin/rdns-milter is not stripped"; fi
grep -qx 'socket = unix:/run/rdns-milter/rdns-milter.sock' "$root/etc/rdns-milter/rdns-milter.conf" ||
  fail "the conffile does not set the socket the unit's RuntimeDirectory provides"
# The sysusers file, applied to a scratch root (not to this machine).
users="$work/sysusers-root"
mkdir -p "$users/etc" "$users/usr/lib/sysusers.d"
cp "$root/usr/lib/sysusers.d/rdns-milter.conf" "$users/usr/lib/sysusers.d/"
systemd-sysusers --root="$users" >/dev/null 2>&1 || fail "systemd-sysusers rejects the sysusers file"
grep -q '^rdns-milter:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$users/etc/passwd" ||
  fail "the sysusers file does not create the system user rdns-milter"
grep -q '^rdns-milter:' "$users/etc/group" || fail "the sysusers file does not create group rdns-milter"

# The extracted daemon starts with the packaged conffile (socket moved into $work; as root it
# must be told user = root) and makes a socket the group can use (socket-mode 0660), whatever
# the umask: srw-rw----.
sock="$work/milter.sock"
as_root=""
[ "$(id -u)" = 0 ] && as_root="--user root"
# shellcheck disable=SC2086
(umask 0022 && exec "$bin" --config "$root/etc/rdns-milter/rdns-milter.conf" --socket "unix:$sock" \
  --pid-file "$work/milter.pid" --foreground $as_root) >"$work/daemon.log" 2>&1 &
daemon=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ] && kill -0 $daemon 2>/dev/null; do
  sleep 0.1
  i=$((i + 1))
done
mode=$(stat -c %A "$sock" 2>/dev/null || echo none)
pid_in_file=$(cat "$work/milter.pid" 2>/dev/null || echo none)
kill -TERM $daemon 2>/dev/null || true
wait $daemon || { cat "$work/daemon.log" >&2; fail "the daemon did not stop cleanly on SIGTERM"; }
[ "$pid_in_file" = "$daemon" ] || { cat "$work/daemon.log" >&2; fail "pid file holds $pid_in_file, not $daemon"; }
[ "$mode" = srw-rw---- ] || { cat "$work/daemon.log" >&2; fail "socket mode $mode, not srw-rw----"; }
grep -q "listening on unix:$sock ($root/etc/rdns-milter/rdns-milter.conf)" "$work/daemon.log" ||
  { cat "$work/daemon.log" >&2; fail "the daemon did not start with the packaged conffile"; }

# lintian: errors fail, warnings are shown.
lintian --fail-on error --tag-display-limit 0 "$deb" >"$work/lintian.txt" 2>&1 ||
  { cat "$work/lintian.txt" >&2; fail "lintian reports errors"; }
echo "check-deb: lintian:"
cat "$work/lintian.txt"

unit="$root/lib/systemd/system/rdns-milter.service"
cmp -s "$unit" "$src/contrib/rdns-milter.service" || fail "the shipped unit is not contrib/rdns-milter.service"
# verify needs the ExecStart binary to exist: point it at the extracted one.
sed "s|/usr/sbin/rdns-milter|$bin|" "$unit" >"$work/rdns-milter.service"
systemd-analyze verify --man=no "$work/rdns-milter.service" || fail "systemd-analyze verify"
systemd-analyze security --offline=true "$unit" >"$work/security.txt" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$work/security.txt")
[ -n "$score" ] || { cat "$work/security.txt" >&2; fail "no exposure level from systemd-analyze security"; }
echo "check-deb: systemd-analyze security exposure $score"
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || { cat "$work/security.txt" >&2; fail "exposure $score > 3.0"; }

[ -n "${CHECK_DEB_KEEP:-}" ] || rm -rf "$work"
echo "check-deb: OK"
