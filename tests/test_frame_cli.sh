#!/usr/bin/env bash
# test_frame_cli — `vlstore import-xyz` and `vlstore show` on real XYZ files from Debian's
# xcrysden-data and on a malformed file of our own.
set -uo pipefail
V=${VLSTORE:?}
T=${VLS_TEST_TMP:-/tmp}/frame_cli.$$
mkdir -p "$T"
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
X=/usr/share/doc/xcrysden/examples/XYZ
[ -f $X/anim.xyz ] || skip_test "missing $X/anim.xyz: apt-get install xcrysden-data (scripts/deps.sh test)"

ok "$V" import-xyz "$T/s.vls" $X/anim.xyz $X/bucky.xyz --commit-every 2
ok test "$("$V" ls "$T/s.vls" | wc -l)" -eq 6          # 5 benzene frames + C60
ok test "$("$V" ls "$T/s.vls" | head -1)" = anim/0
ok "$V" verify "$T/s.vls"
"$V" show "$T/s.vls" bucky/0 > "$T/show.txt"; ok test $? -eq 0
ok grep -q "nsites    60" "$T/show.txt"
"$V" show "$T/s.vls" anim/3 --json > "$T/f.json"; ok test $? -eq 0
ok /usr/bin/python3 -c "
import json,sys
f=json.load(open('$T/f.json'))
assert f['nsites']==12 and len(f['positions64'])==36 and f['types'].count(6)==6, f
"
# values agree with the file: the 4th frame's first atom
want=$(awk 'BEGIN{n=0} /^ *12 *$/{n++} n==4 && NF==4 && $1=="C"{print $2; exit}' $X/anim.xyz)
got=$(/usr/bin/python3 -c "import json;print(json.load(open('$T/f.json'))['positions64'][0])")
# import-xyz keeps float64: the value is the file's, exactly
ok /usr/bin/python3 -c "assert float('$want')==float('$got'), ('$want','$got')"

printf '2\ncomment\nH 0 0 0\nH 1 1\n' > "$T/bad.xyz"
"$V" import-xyz "$T/bad.vls" "$T/bad.xyz" 2> "$T/err"; ok test $? -eq 1
ok grep -q "bad.xyz:4" "$T/err"
"$V" put "$T/s.vls" notaframe /etc/hostname
"$V" show "$T/s.vls" notaframe 2> "$T/err"; ok test $? -eq 1
ok grep -q "not a valid frame" "$T/err"
"$V" show "$T/s.vls" nokey 2>/dev/null; ok test $? -eq 1
"$V" import-xyz 2>/dev/null; ok test $? -eq 2
rm -rf "$T"
finish
