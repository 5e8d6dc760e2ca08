#!/bin/sh
# Fetch Debian's sendmail-bin and sendmail-cf and unpack them into a directory, without
# installing them (sendmail-bin conflicts with postfix, which the other e2e tests need).
#   contrib/sendmail/fetch-sendmail.sh [DIR]     (default /var/cache/rdns-milter-tests/sendmail)
# Leaves DIR/debs/*.deb and DIR/root/ (usr/libexec/sendmail/sendmail, usr/share/sendmail/cf/);
# prints DIR/root. Idempotent: does nothing when DIR/root is complete. Needs apt (root) and the
# runtime packages m4 and libwrap0 (contrib/setup.sh installs them).
set -eu

dir=${1:-/var/cache/rdns-milter-tests/sendmail}
root="$dir/root"
binary="$root/usr/libexec/sendmail/sendmail"
cfm4="$root/usr/share/sendmail/cf/m4/cf.m4"

if [ -x "$binary" ] && [ -f "$cfm4" ]; then
  echo "$root"
  exit 0
fi

mkdir -p "$dir/debs"
cd "$dir/debs"
rm -f ./*.deb
# apt-get download as root warns when _apt cannot write the directory; let it.
chown _apt "$dir/debs" 2>/dev/null || true
if ! apt-get download -qq sendmail-bin sendmail-cf >/dev/null 2>&1; then
  # A fresh machine may have no package lists yet.
  apt-get update -qq >/dev/null
  apt-get download -qq sendmail-bin sendmail-cf >/dev/null
fi

rm -rf "$root.new"
mkdir -p "$root.new"
for deb in sendmail-bin_*.deb sendmail-cf_*.deb; do
  dpkg -x "$deb" "$root.new"
done
rm -rf "$root"
mv "$root.new" "$root"

[ -x "$binary" ] && [ -f "$cfm4" ] || { echo "fetch-sendmail: $binary or $cfm4 missing" >&2; exit 1; }
echo "$root"
