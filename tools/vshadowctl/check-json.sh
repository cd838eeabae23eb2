#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check-json.sh OUT_TEST: vshadowctl's output as a script reads it.  jq
# (1.6 rounds numbers past 2^53) must read back every 64-bit address
# exactly, the whole-space clamp's last of 2^64 - 1 included; keys are
# snake_case; a comm that is not UTF-8 arrives with U+FFFD; -p is the same
# JSON, indented; text is "key value" pairs.
set -euo pipefail

t=${1:?usage: check-json.sh OUT_TEST}
fail() { echo "check-json.sh: FAIL: $*"; exit 1; }
command -v jq >/dev/null || fail "no jq (Debian: apt-get install jq)"

json=$("$t" json)
event=$(head -n 1 <<<"$json")
list=$(tail -n +2 <<<"$json")
[ "$(jq -r .last <<<"$event")" = 0xffffffffffffffff ] ||
	fail "last: $(jq -r .last <<<"$event") ($event)"
[ "$(jq -r .clamped_last <<<"$event")" = 0x0000ffffffffffff ] ||
	fail "clamped_last ($event)"
[ "$(jq -r .event <<<"$event")" = clamped ] || fail "event ($event)"
jq -r .time <<<"$event" |
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$' ||
	fail "time: $(jq -r .time <<<"$event")"
# one object per line inside the list, as the text has one per line
[ "$(wc -l <<<"$list")" = 4 ] || fail "the list is not one object per line: $list"
[ "$(jq -r '.[0].comm' <<<"$list")" = "$(printf '\xef\xbf\xbd\xc3\xa9\x01x"\\/')" ] ||
	fail "comm: $(jq '.[0].comm' <<<"$list")"
[ "$(jq -r '.[0].dirty_hwpts | join(",")' <<<"$list")" = 1,2 ] || fail "dirty_hwpts ($list)"
[ "$(jq -r '.[1].dirty_hwpts | length' <<<"$list")" = 0 ] || fail "no dirty_hwpts ($list)"
[ "$(jq -r '[.[].broken] | map(tostring) | join(",")' <<<"$list")" = false,true ] ||
	fail "broken ($list)"
# a counter stays a number (what jq makes of it past 2^53 is jq's business)
[ "$(jq -r '.[0].bytes | type' <<<"$list")" = number ] || fail "bytes is not a number"
grep -q '"bytes":9007199254740993' <<<"$list" || fail "bytes not written exactly ($list)"

pretty=$("$t" pretty)
same='.[0] |= del(.time)'	# the time differs between the runs
[ "$(jq -cs "$same" <<<"$pretty")" = "$(jq -cs "$same" <<<"$json")" ] || fail "-p is other JSON"
[ "$(wc -l <<<"$pretty")" -gt 20 ] || fail "-p is not indented"

text=$("$t" text)
grep -q '^\[clamped\] time [^ ]*Z ctx 7 start 0x0 last 0xffffffffffffffff clamped-last 0xffffffffffff$' <<<"$text" ||
	fail "text: $text"
grep -q '^ctx 2 comm qemu-system-x86 dirty-hwpts - broken$' <<<"$text" || fail "text: $text"

echo "check-json.sh: ok: jq reads 2^64 - 1 back exactly, snake_case keys, U+FFFD, -p, text"
