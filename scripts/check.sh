#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - everything "make check" checks, after scripts/deps.sh has set
# the machine up:
#
#   build        the module builds from clean with W=1 and no warning
#   build-mock   the same with the test-only mock backend (VSHADOW_MOCK=1)
#   sparse       sparse (C=2) reports nothing
#   checkpatch   scripts/checkpatch.sh (--strict) reports nothing
#   scripts      the shell scripts pass shellcheck -x
#   selftests    the selftests build
#   vm(RUN)      for each VM run below, scripts/vm.sh boots the guest with
#                both modules loaded and runs every test binary; the run
#                itself (VFIO set-up, module load/unload, a clean guest
#                kernel log, no hang) is one result and every kselftest
#                test case it reports ("ok N", "not ok N", "# SKIP") is one
#
# Then it prints one line per result and, as the very last line,
# "N passed, M failed" (", K skipped" when K > 0).  It exits non-zero when
# anything failed or when no test case ran.  Logs go to build/check/.
#
# Environment: KSERIES, CACHE (as for scripts/deps.sh), VM_TIMEOUT
# (seconds per VM run, default 180), and those of scripts/vm.sh.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
OUT=$TOP/build/check
VM_TIMEOUT=${VM_TIMEOUT:-180}

MODDIR=drivers/vfio/viommu_shadow
MODULES="$MODDIR/viommu_shadow.ko $MODDIR/viommu_shadow_mock.ko"
TESTDIR=tools/testing/selftests/viommu_shadow
# The test binaries each VM run copies into the guest and runs in turn.
TESTS="viommu_shadow_test"

# The VM runs, one per line: "name|scripts/vm.sh options".  Inside the
# guest VSHADOW_IOMMU tells the tests which IOMMU they run on.
VM_RUNS=(
	"intel|--iommu intel"
	"amd|--iommu amd"
)

[ -f "$ENVF" ] || { echo "check.sh: $ENVF missing: run make deps" >&2; exit 2; }
# shellcheck disable=SC1090
. "$ENVF"
cd "$TOP"
rm -rf "$OUT"
mkdir -p "$OUT"

# Results, one "STATUS<tab>item<tab>detail" each; STATUS is PASS, FAIL or
# SKIP.
results=()
record() { results+=("$1"$'\t'"$2"$'\t'"${3:-}"); }

# host_check NAME PATTERN CMD...: run CMD, its output in $OUT/NAME.log.  It
# passes when CMD succeeds and, if PATTERN is not empty, no output line
# matches PATTERN (an extended regex).
host_check() {
	local name=$1 pattern=$2 start=$SECONDS detail='' log=build/check/$1.log
	shift 2
	echo "==> $name: $*"
	if ! "$@" >"$log" 2>&1 </dev/null; then
		detail="failed"
		tail -n 100 "$log"
	elif [ -n "$pattern" ] && grep -E -- "$pattern" "$log"; then
		detail="warnings in the output"
	fi
	if [ -n "$detail" ]; then
		record FAIL "$name" "$detail, see $log ($((SECONDS - start))s)"
	else
		record PASS "$name" "$((SECONDS - start))s"
	fi
	echo "==> $name: ${detail:-ok} ($((SECONDS - start))s)"
}

# Every object is rebuilt, so that no warning hides in an old object.
make_modules_from_clean() {
	make -C "$KDIR" M="$TOP/drivers/vfio/viommu_shadow" clean &&
	make -C "$TOP" KDIR="$KDIR" modules
}

# The guest command of a VM run: each test binary in turn, bracketed by
# markers for parse_tests.  Exit status 4 is kselftest's "skipped".
guest_command() {
	cat <<EOF
failed=0
for t in $TESTS; do
	echo "VSHADOW-TEST-BEGIN \$t"
	"\$t"
	rc=\$?
	echo "VSHADOW-TEST-END \$t rc=\$rc"
	[ \$rc -eq 0 ] || [ \$rc -eq 4 ] || failed=1
done
exit \$failed
EOF
}

# parse_tests RUN LOG: one result line per kselftest test case of the
# guest console LOG, plus a failure for any test binary that did not run,
# did not finish, exited with an error that no test case reported, or
# reported fewer results than it planned.  The harness's own lines
# ("# ...") are not results.  Kernel 6.1's harness prints "ok N # SKIP
# reason" with no name: the name then comes from the "#  RUN" line before.
parse_tests() {
	awk -v run="$1" -v tests="$TESTS" '
	function out(status, item, detail) {
		printf "%s\t%s/%s\t%s\n", status, run, item, detail
	}
	function end_binary(rc) {
		if (seen < plan)
			out("FAIL", bin, (plan - seen) " of " plan " results missing")
		else if (rc != 0 && rc != 4 && !failed)
			out("FAIL", bin, "exited with status " rc)
		else if (seen == 0 && rc != 4)
			out("FAIL", bin, "no test results")
		bin = ""
	}
	/^VSHADOW-TEST-BEGIN / {
		bin = $2; ran[bin] = 1
		plan = 0; seen = 0; failed = 0; name = ""
		next
	}
	bin == "" { next }
	/^VSHADOW-TEST-END / { sub(/^rc=/, "", $3); end_binary($3 + 0); next }
	/^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0; next }
	/^# +RUN +/ { name = $3; next }
	/^(not )?ok [0-9]+/ {
		status = /^not/ ? "FAIL" : "PASS"
		line = $0
		sub(/^(not )?ok [0-9]+ */, "", line)
		detail = ""
		if (match(line, /# */)) {
			detail = substr(line, RSTART + RLENGTH)
			line = substr(line, 1, RSTART - 1)
			if (status == "PASS" && sub(/^SKIP */, "", detail))
				status = "SKIP"
		}
		sub(/ +$/, "", line)
		out(status, bin "/" (line != "" ? line : name), detail)
		seen++
		if (status == "FAIL")
			failed = 1
		next
	}
	END {
		if (bin != "")
			out("FAIL", bin, "did not finish")
		n = split(tests, list, " ")
		for (i = 1; i <= n; i++)
			if (!(list[i] in ran))
				out("FAIL", list[i], "did not run")
	}' "$2"
}

# vm_check NAME VM.SH-OPTIONS: one VM run.  The run's own result comes from
# vm.sh's "vm.sh: FAIL: reason; reason..." line, less the failure of the
# guest command itself, which the test cases account for.
vm_check() {
	local name=$1 opts=$2 start=$SECONDS
	local out=$OUT/vm-$name.out log=$OUT/vm-$name.console.log
	local args=() parts=() reasons='' r rc=0 m t
	echo "==> vm($name): scripts/vm.sh $opts"
	for m in $MODULES; do
		[ -f "$m" ] || { record FAIL "vm($name)" "not run: $m not built"; return; }
		args+=(--module "$m")
	done
	for t in $TESTS; do
		[ -f "$TESTDIR/$t" ] ||
			{ record FAIL "vm($name)" "not run: $TESTDIR/$t not built"; return; }
		args+=(--file "$TESTDIR/$t")
	done
	# shellcheck disable=SC2086
	"$TOP/scripts/vm.sh" $opts --timeout "$VM_TIMEOUT" --log "$log" \
		"${args[@]}" -- "$(guest_command)" </dev/null 2>&1 | tee "$out" ||
		rc=$?
	if [ "$rc" -ne 0 ]; then
		r=$(sed -n 's/^vm\.sh: FAIL: //p' "$out" | tail -n1)
		r=${r% (*s)}
		IFS=';' read -ra parts <<<"$r"
		for r in ${parts[@]+"${parts[@]}"}; do
			r=${r# }
			case "$r" in
			"guest command exited with status "*) ;;
			*) reasons="${reasons:+$reasons; }$r" ;;
			esac
		done
		# A usage error or a crash of vm.sh itself has no FAIL line.
		grep -q '^vm\.sh: FAIL: ' "$out" || reasons="vm.sh exited with status $rc"
	fi
	if [ -n "$reasons" ]; then
		record FAIL "vm($name)" "$reasons ($((SECONDS - start))s)"
	else
		record PASS "vm($name)" "$((SECONDS - start))s"
	fi
	while IFS=$'\t' read -r status item detail; do
		record "$status" "$item" "$detail"
	done < <(parse_tests "$name" "$log")
	echo "==> vm($name): done ($((SECONDS - start))s)"
}

check_start=$SECONDS
host_check build 'warning:' make_modules_from_clean
host_check build-mock 'warning:' make -C "$TOP" KDIR="$KDIR" modules VSHADOW_MOCK=1
host_check sparse 'warning:|error:' make -C "$TOP" KDIR="$KDIR" sparse
host_check checkpatch '' "$TOP/scripts/checkpatch.sh"
host_check scripts '' shellcheck -x "$TOP"/scripts/*.sh "$TOP/.ci/run"
host_check selftests '' make -C "$TOP" selftests
for run in "${VM_RUNS[@]}"; do
	vm_check "${run%%|*}" "${run#*|}"
done

# The summary.
passed=0 failed=0 skipped=0 cases=0
echo
echo "==> results ($((SECONDS - check_start))s)"
for r in "${results[@]}"; do
	IFS=$'\t' read -r status item detail <<<"$r"
	case "$status" in
	PASS)	passed=$((passed + 1)) ;;
	FAIL)	failed=$((failed + 1)) ;;
	SKIP)	skipped=$((skipped + 1)) ;;
	esac
	# Test cases are named RUN/BINARY/CASE; skipped ones do not count.
	case "$status:$item" in PASS:*/*/*|FAIL:*/*/*) cases=$((cases + 1)) ;; esac
	printf '%s %s%s\n' "$status" "$item" "${detail:+: $detail}"
done
if [ "$cases" -eq 0 ]; then
	echo "FAIL tests: no test case ran"
	failed=$((failed + 1))
fi
summary="$passed passed, $failed failed"
[ "$skipped" -eq 0 ] || summary="$summary, $skipped skipped"
echo "$summary" | tee "$OUT/summary"
[ "$failed" -eq 0 ]
