#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# 'meson install --destdir' into a temporary directory: qpin, every man page of docs/man, the
# bash completion and every file of examples/ land where they belong, unchanged; and LICENSE is
# the GPL version 2.
# Usage: test-install.sh MESON BINDIR MANDIR DATADIR COMPLETIONSDIR (absolute, as installed)
# Environment: QPIN_SOURCE_ROOT, QPIN_BUILD_ROOT. Prints TAP.
meson=$1 bindir=$2 mandir=$3 datadir=$4 completionsdir=$5
src=$QPIN_SOURCE_ROOT
n=0
failed=0
ok() { # ok STATUS NAME
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=1
    fi
}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

"$meson" install -C "$QPIN_BUILD_ROOT" --no-rebuild --destdir "$dest" >"$tmp/log" 2>&1
status=$?
ok $status "meson install --destdir"
[ $status -eq 0 ] || sed 's/^/# /' "$tmp/log"

[ -x "$dest$bindir/qpin" ]
ok $? "qpin in $bindir"

for page in "$src"/docs/man/*.1; do
    name=$(basename "$page")
    [ -f "$dest$mandir/man1/$name" ]
    ok $? "man page $name in $mandir/man1"
done
[ "$(find "$dest$mandir/man1" -type f | wc -l)" -eq "$(find "$src/docs/man" -name '*.1' | wc -l)" ]
ok $? "no other file in $mandir/man1"
grep -q '^\.TH QPIN 1 [^ ]* "qpin [0-9]' "$dest$mandir/man1/qpin.1"
ok $? "the installed qpin.1 carries the version"

cmp -s "$src/scripts/completion/qpin.bash" "$dest$completionsdir/qpin"
ok $? "bash completion installed as $completionsdir/qpin"

for name in $(cd "$src/examples" && find . -type f | sed 's|^\./||' | sort); do
    cmp -s "$src/examples/$name" "$dest$datadir/doc/qpin/examples/$name"
    ok $? "example $name in $datadir/doc/qpin/examples"
done
# The man pages name the installed examples: those files are there.
for path in $(sed -n 's/\\-/-/g; s|.*\('"$datadir"'/doc/qpin/examples/[^ ]*\.ini\).*|\1|p' "$dest$mandir"/man1/*.1 | sort -u); do
    [ -f "$dest$path" ]
    ok $? "the man pages' $path is installed"
done

if [ -f /usr/share/common-licenses/GPL-2 ]; then
    cmp -s /usr/share/common-licenses/GPL-2 "$src/LICENSE"
else
    sed -n 1p "$src/LICENSE" | grep -q 'GNU GENERAL PUBLIC LICENSE' &&
        sed -n 2p "$src/LICENSE" | grep -q 'Version 2, June 1991' &&
        grep -q 'END OF TERMS AND CONDITIONS' "$src/LICENSE"
fi
ok $? "LICENSE is the whole GNU GPL version 2"

echo "# installed:"
(cd "$dest" && find . -type f | sort | sed 's/^\./# /')
echo "1..$n"
exit $failed
