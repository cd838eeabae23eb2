#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh - everything "make check" checks, lane by lane.  A lane is one
# guest kernel: the module is built against it and the whole suite runs in
# QEMU guests booted on it.
#
#   scripts/check.sh [LANE...]     default: $LANES, or "6.1 6.12 debug"
#
#   host     once, whatever the lanes: checkpatch (--strict) reports
#            nothing, the shell scripts pass shellcheck -x, the selftests
#            build, the syzkaller description and the netlink family's
#            YNL spec match the uapi header (and the spec the module),
#            every Documentation page parses without a docutils warning,
#            make without a kernel build tree sets nothing up, the
#            namespace probe takes both header forms (check-probe-ns.sh),
#            dkms and make install/uninstall work (scripts/dkms-test.sh); with
#            CHECK_FULL=1 also the clean room (scripts/cleanroom.sh: make
#            run and make check LANES=6.1 from a fresh clone in a new
#            Debian 12 root)
#   6.1      Debian bookworm's kernel (scripts/deps.sh)
#   6.12     Debian bookworm-backports' kernel (scripts/deps.sh)
#   debug    the project's own 6.12 build with KASAN, lockdep, kmemleak,
#            fault injection and iommufd (scripts/debug-kernel.sh).  Run
#            only when that kernel is in the cache, else reported as one
#            skip saying how to build it.  With CHECK_FULL=1 (make
#            check-full) the kernel is built first when it is not cached,
#            and a failed build is a failure of the lane.  make check
#            runs it behind VT-d (and without an IOMMU, for iommufd's
#            mock domain); check-full behind AMD-Vi too.
#
# In each lane:
#   build        the module builds from clean with W=1 and no warning
#   build-mock   the same with the test-only mock backend (VSHADOW_MOCK=1)
#   exports      what the module exports is in its own namespace and is
#                only the backends' interface (scripts/check-exports.sh)
#   sparse       sparse (C=2) reports nothing
#   vm(RUN)      for each VM run of the lane, scripts/vm.sh boots the guest
#                with both modules loaded and runs every test binary; the
#                run itself (VFIO set-up, module load/unload, a clean guest
#                kernel log, no hang; on the debug kernel also no kmemleak
#                report, lockdep still on, and all three checkers present)
#                is one result and every kselftest test case it reports
#                ("ok N", "not ok N", "# SKIP") is one
#
# Each lane prints its results, their counts per VM run, binary and
# fixture variant (so per backend mode: range.type1, range.mock,
# range.iommufd, iommufd.cdev, ...), and its own "LANE: N passed, M failed"
# line; the very last line, "N passed, M failed" (", K skipped" when K > 0),
# sums them.  It exits non-zero when anything failed or when no test case
# ran.  Logs go to build/check/LANE/ (host checks to build/check/host/),
# the guests' console logs to build/check/LANE/vm-RUN.console.log; a run
# replaces the logs of the lanes it runs and keeps the others'.
#
# Environment: LANES, CHECK_FULL, CACHE, KCACHE (as for scripts/deps.sh
# and scripts/debug-kernel.sh), VM_TIMEOUT (seconds per VM run, default 300,
# 1500 on the debug lane), and those of scripts/vm.sh.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
OUT=$TOP/build/check
if [ $# -gt 0 ]; then
	LANES="$*"
else
	LANES=${LANES:-6.1 6.12 debug}
fi
CHECK_FULL=${CHECK_FULL:-0}

MODDIR=drivers/vfio/viommu_shadow
MODULES="$MODDIR/viommu_shadow.ko $MODDIR/viommu_shadow_mock.ko"
TESTDIR=tools/testing/selftests/viommu_shadow
# Programs the tests run, copied into every guest's /bin beside them.
GUEST_TOOLS="tools/vshadowctl/static/vshadowctl $TESTDIR/vshadow_example
	$TESTDIR/type1_unmodified $TESTDIR/type1_unmodified_preload"

# The VM runs of each lane, one per line: "name|test binaries|scripts/vm.sh
# options".  The test binaries are copied into the guest and run in turn;
# inside the guest VSHADOW_IOMMU tells them which IOMMU they run on.
# A run whose options have --install-module loads no module itself: the
# guest loads it on first use (autoload_test.sh).
VM_RUNS_DEBIAN=(
	"intel|viommu_shadow_test dirty_log_test compat_test reliability_test netlink_test libvshadow_test example_test interpose_test|--iommu intel"
	"amd|viommu_shadow_test dirty_log_test compat_test reliability_test netlink_test libvshadow_test example_test interpose_test|--iommu amd"
	"autoload|autoload_test.sh|--iommu intel --edu 0 --install-module $MODDIR/viommu_shadow.ko"
)
# A real VMM: Debian's QEMU in the guest, its vIOMMU driven over qtest,
# straight on type1 and under the preload library (with the module and
# without): on 6.1 in make check (VSHADOW_SWEEP=sampled: 48 pages), on
# 6.1 and the debug kernel in check-full (320 pages).
VM_RUN_QEMU="qemu|qemu_vtd_test|--iommu intel --edu 1 --inner-qemu"
# The debug kernel also has iommufd: its groundwork test runs beside the
# suite, and alone in a guest without an IOMMU, where iommufd's mock domain
# (with dirty tracking) works.
VM_RUNS_DEBUG=(
	"intel|viommu_shadow_test dirty_log_test compat_test reliability_test netlink_test libvshadow_test example_test interpose_test iommufd_test|--iommu intel"
	"amd|viommu_shadow_test dirty_log_test compat_test reliability_test netlink_test libvshadow_test example_test interpose_test iommufd_test|--iommu amd"
	"none|iommufd_test|--iommu none --edu 0"
)

for lane in $LANES; do
	case "$lane" in
	6.1|6.12|debug) ;;
	*) echo "check.sh: unknown lane '$lane' (6.1, 6.12 or debug)" >&2; exit 2 ;;
	esac
done
cd "$TOP"
# Only the lanes that run now lose their old logs.
mkdir -p "$OUT"
rm -rf "$OUT/summary" "$OUT/lanes" "$OUT/host"
mkdir -p "$OUT/host"

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

# deps_progress SERIES LOG: scripts/deps.sh for SERIES, its output in LOG;
# its own lines (and fetch.sh's) are shown as they come, so that a long
# set-up is never silent.
deps_progress() {
	local rc
	KSERIES=$1 "$TOP/scripts/deps.sh" </dev/null 2>&1 | tee "$2" |
		grep --line-buffered -E '^(deps|fetch|debug-kernel)\.sh: ' | sed 's/^/    /'
	rc=${PIPESTATUS[0]}
	return "$rc"
}

# make_modules_from_clean KDIR: every object is rebuilt, so that no warning
# hides in an old object (or one built for another lane's kernel).
make_modules_from_clean() {
	make -C "$1" M="$TOP/drivers/vfio/viommu_shadow" clean &&
	make -C "$TOP" KDIR="$1" modules
}

# guest_command TESTS: the guest command of a VM run: each test binary in
# turn, bracketed by markers for parse_tests.  Exit status 4 is kselftest's
# "skipped".  VSHADOW_SWEEP tells the reliability sweeps how much to do.
guest_command() {
	cat <<EOF
export VSHADOW_SWEEP=$([ "$CHECK_FULL" = 1 ] && echo full || echo sampled)
failed=0
for t in $1; do
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
	awk -v run="$1" -v tests="$2" '
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
	}' "$3"
}

# vm_check LANE NAME TESTS VM.SH-OPTIONS: one VM run.  The run's own result
# comes from vm.sh's "vm.sh: FAIL: reason; reason..." line, less the failure
# of the guest command itself, which the test cases account for.  On the
# debug lane the guest must also report all three checkers on.
vm_check() {
	local lane=$1 name=$2 tests=$3 opts=$4 start=$SECONDS
	local out=$OUT/$lane/vm-$name.out log=$OUT/$lane/vm-$name.console.log
	local args=() parts=() reasons='' r rc=0 m t item="$lane/vm($name)"
	local timeout=${VM_TIMEOUT:-$([ "$lane" = debug ] && echo 1500 || echo 300)}
	mkdir -p "$OUT/$lane"
	echo "==> $item: scripts/vm.sh $opts"
	local mods=$MODULES
	# The debug kernel has IOMMUFD: its backend module is built and loaded.
	[ "$lane" != debug ] || mods="$mods $MODDIR/viommu_shadow_iommufd.ko"
	[[ "$opts" != *--install-module* ]] || mods=
	for m in $mods; do
		[ -f "$m" ] || { record FAIL "$item" "not run: $m not built"; return; }
		args+=(--module "$m")
	done
	for t in $tests; do
		[ -f "$TESTDIR/$t" ] ||
			{ record FAIL "$item" "not run: $TESTDIR/$t not built"; return; }
		args+=(--file "$TESTDIR/$t")
	done
	for t in $GUEST_TOOLS; do
		[ -f "$t" ] || { record FAIL "$item" "not run: $t not built"; return; }
		args+=(--file "$t")
	done
	# shellcheck disable=SC2086
	"$TOP/scripts/vm.sh" $opts --timeout "$timeout" --log "$log" \
		"${args[@]}" -- "$(guest_command "$tests")" </dev/null 2>&1 | tee "$out" ||
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
	if [ "$lane" = debug ] &&
	   ! grep -aq '^vshadow-init: checkers: kasan lockdep kmemleak' "$log"; then
		r=$(grep -a '^vshadow-init: checkers:' "$log" | head -n1)
		reasons="${reasons:+$reasons; }checkers not all on (${r:-no checkers line})"
	fi
	if [ -n "$reasons" ]; then
		record FAIL "$item" "$reasons ($((SECONDS - start))s)"
	else
		record PASS "$item" "$((SECONDS - start))s"
	fi
	while IFS=$'\t' read -r status t detail; do
		record "$status" "$lane/$t" "$detail"
	done < <(parse_tests "$name" "$tests" "$log")
	echo "==> $item: done ($((SECONDS - start))s)"
}

# summarize LABEL: print the results recorded since the last call and the
# line "LABEL: N passed, M failed[, K skipped]", add them to the totals and
# start afresh.  Test cases are named LANE/RUN/BINARY/CASE.
# by_variant: the recorded test cases counted per backend mode, that is
# per binary and fixture, with its variant where it has them (a case
# "range.iommufd.map_and_info" of viommu_shadow_test counts under
# "viommu_shadow_test range.iommufd"), per VM run.
by_variant() {
	printf '%s\n' ${results[@]+"${results[@]}"} | awk -F'\t' '
	split($2, p, "/") == 4 {
		n = split(p[4], c, ".")
		key = p[2] " " p[3] " " c[1] (n > 2 ? "." c[2] : "")
		if (!(key in seen)) { seen[key] = 1; order[++k] = key }
		count[key, $1]++
	}
	END {
		if (k)
			print "  by variant (run, binary, fixture[.variant]):"
		for (i = 1; i <= k; i++) {
			key = order[i]
			line = (count[key, "PASS"] + 0) " passed, " \
			       (count[key, "FAIL"] + 0) " failed"
			if (count[key, "SKIP"])
				line = line ", " count[key, "SKIP"] " skipped"
			printf "    %-50s %s\n", key, line
		}
	}'
}

total_passed=0 total_failed=0 total_skipped=0 total_cases=0
summarize() {
	local passed=0 failed=0 skipped=0 r status item detail line
	echo
	echo "==> $1 results"
	for r in ${results[@]+"${results[@]}"}; do
		IFS=$'\t' read -r status item detail <<<"$r"
		case "$status" in
		PASS)	passed=$((passed + 1)) ;;
		FAIL)	failed=$((failed + 1)) ;;
		SKIP)	skipped=$((skipped + 1)) ;;
		esac
		case "$status:$item" in
		PASS:*/*/*/*|FAIL:*/*/*/*) total_cases=$((total_cases + 1)) ;;
		esac
		printf '%s %s%s\n' "$status" "$item" "${detail:+: $detail}"
	done
	by_variant
	line="$passed passed, $failed failed"
	[ "$skipped" -eq 0 ] || line="$line, $skipped skipped"
	echo "$1: $line" | tee -a "$OUT/lanes"
	echo
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	total_skipped=$((total_skipped + skipped))
	results=()
}

# lane LANE: set the lane's kernel up (or find it), then build and test.
lane() {
	local lane=$1 start=$SECONDS run rest envf=$CACHE/env-$1.sh kdir
	local -a runs
	echo "==> lane $lane"
	rm -rf "${OUT:?}/$lane"
	mkdir -p "$OUT/$lane"
	case "$lane" in
	debug)
		runs=("${VM_RUNS_DEBUG[@]}")
		# The sanitizers slow a run to ~20 minutes under TCG: make
		# check runs the debug lane behind VT-d only (AMD-Vi is
		# covered on 6.1 and 6.12), check-full behind both.
		[ "$CHECK_FULL" = 1 ] || runs=("${runs[0]}" "${runs[2]}")
		[ "$CHECK_FULL" = 0 ] || runs+=("$VM_RUN_QEMU")
		if [ "$CHECK_FULL" = 1 ]; then
			if ! "$TOP/scripts/debug-kernel.sh"; then
				record FAIL "debug/kernel" "scripts/debug-kernel.sh failed"
				summarize "$lane"
				return
			fi
		elif ! "$TOP/scripts/debug-kernel.sh" --cached; then
			echo "==> lane debug: SKIPPED: its kernel is not built."
			echo "    Build it once with 'make debug-kernel' (about 13 minutes"
			echo "    on 2 cores), or run 'make check-full', which does."
			record SKIP "debug" "kernel not built: make debug-kernel or make check-full"
			summarize "$lane"
			return
		fi
		;;
	*)
		runs=("${VM_RUNS_DEBIAN[@]}")
		[ "$lane" != 6.1 ] || runs+=("$VM_RUN_QEMU")
		echo "==> $lane/deps: scripts/deps.sh (log build/check/$lane/deps.log)"
		if ! deps_progress "$lane" "$OUT/$lane/deps.log"; then
			tail -n 20 "$OUT/$lane/deps.log"
			record FAIL "$lane/deps" "scripts/deps.sh failed, see build/check/$lane/deps.log"
			summarize "$lane"
			return
		fi
		;;
	esac
	# shellcheck disable=SC1090,SC2153
	kdir=$(. "$envf" && echo "$KDIR")
	export KSERIES=$lane
	host_check "$lane/build" 'warning:' make_modules_from_clean "$kdir"
	host_check "$lane/build-mock" 'warning:' make -C "$TOP" KDIR="$kdir" modules VSHADOW_MOCK=1
	host_check "$lane/exports" '' "$TOP/scripts/check-exports.sh" "$TOP/$MODDIR/Module.symvers"
	host_check "$lane/sparse" 'warning:|error:' make -C "$TOP" KDIR="$kdir" sparse
	[ "$lane" != debug ] ||
		host_check "$lane/selftests" '' make -C "$TOP" selftests-iommufd
	for run in "${runs[@]}"; do
		rest=${run#*|}
		vm_check "$lane" "${run%%|*}" "${rest%%|*}" "${rest#*|}"
	done
	echo "==> lane $lane: done ($((SECONDS - start))s)"
	summarize "$lane"
}

# reliability: one line of what the reliability tests did, over every VM
# run of this check: the counts their "VSHADOW-RELIABILITY key=value ..."
# lines report (the ABI sweep, the fault-injection sweeps, ...), added up,
# and the kernel problems vm.sh found in the guests' logs (KASAN, lockdep,
# WARN, oops, kmemleak: "vm.sh: kernel reports: N").  The lines
# themselves are in build/check/reliability.
reliability() {
	local logs=() outs=() l reports
	for l in $LANES; do
		compgen -G "$OUT/$l/vm-*.out" >/dev/null || continue
		logs+=("$OUT/$l"/vm-*.console.log)
		outs+=("$OUT/$l"/vm-*.out)
	done
	[ ${#logs[@]} -gt 0 ] || return 0
	grep -ah '^VSHADOW-RELIABILITY ' "${logs[@]}" | tr -d '\r' >"$OUT/reliability" || true
	reports=$(cat "${outs[@]}" |
		sed -n 's/^vm\.sh: kernel reports: //p' | awk '{ n += $1 } END { print n + 0 }')
	awk -v sweep="$([ "$CHECK_FULL" = 1 ] && echo full || echo sampled)" \
	    -v reports="$reports" '
		{
			for (i = 2; i <= NF; i++) {
				split($i, kv, "=")
				if (kv[2] ~ /^[0-9]+$/)
					n[kv[1]] += kv[2]
			}
		}
		END {
			printf "reliability (%s sweeps): %d ABI cases, %d fault points swept, " \
			       "%d fuzz calls, %d concurrent ops, %d inconsistencies, " \
			       "%d leaks, %d sanitizer reports\n", sweep, n["abi"], n["faults"],
			       n["fuzz"], n["concurrent"], n["inconsistencies"], n["leaks"],
			       reports
		}' "$OUT/reliability" | tee -a "$OUT/lanes"
}

# qemu_case: what the unmodified QEMU did in each lane that ran it: the
# "# qemu: ..." lines of qemu_vtd_test (calls through the module,
# mismatches per configuration).
qemu_case() {
	local l f
	for l in $LANES; do
		f=$OUT/$l/vm-qemu.out
		[ -f "$f" ] || continue
		sed -n "s/^# qemu: /QEMU ($l): /p" "$f" | tr -d '\r'
	done >>"$OUT/lanes"
}

check_start=$SECONDS
: >"$OUT/lanes"
# The host checks use the default series' checkpatch and kselftest headers.
echo "==> host/deps: scripts/deps.sh (log build/check/host/deps.log)"
if deps_progress 6.1 "$OUT/host/deps.log"; then
	host_check host/checkpatch '' "$TOP/scripts/checkpatch.sh"
	host_check host/scripts '' shellcheck -x "$TOP"/scripts/*.sh "$TOP/.ci/run" \
		"$TOP/$TESTDIR"/*.sh
	host_check host/selftests '' make -C "$TOP" selftests
	host_check host/probe-ns '' "$TOP/scripts/check-probe-ns.sh"
	host_check host/syzkaller '' python3 "$TOP/tools/testing/syzkaller/check_description.py"
	# With the debug lane's kernel source (6.12) in the kernel cache,
	# YNL's own parser reads the spec too; a machine that has not built
	# that kernel yet checks the rest.
	ynl=
	for d in "$KCACHE"/src-*/tools/net/ynl; do
		[ -d "$d" ] && ynl=${d%/tools/net/ynl}
	done
	if [ -n "$ynl" ]; then
		host_check host/netlink-spec '' python3 "$TOP/tools/testing/netlink/check_spec.py" --ynl "$ynl"
	else
		echo "    (no kernel source with YNL in the cache yet: the spec is not read by YNL this run)"
		host_check host/netlink-spec '' python3 "$TOP/tools/testing/netlink/check_spec.py"
	fi
	host_check host/docs '' python3 "$TOP/tools/testing/docs/check_rst.py"
	host_check host/packaging '' "$TOP/scripts/dkms-test.sh"
	host_check host/library '' "$TOP/scripts/check-library.sh"
	host_check host/vshadowctl '' make -s -C "$TOP/tools/vshadowctl" check
	[ "$(id -u)" -eq 0 ] ||
		record SKIP host/packaging-dkms "dkms install needs root: sudo scripts/dkms-test.sh"
	# make check-full: the README's commands in a new Debian 12 root.
	if [ "$CHECK_FULL" = 1 ]; then
		if [ "$(id -u)" -eq 0 ]; then
			host_check host/cleanroom '' "$TOP/scripts/cleanroom.sh"
		else
			record SKIP host/cleanroom "needs root (chroot): sudo scripts/cleanroom.sh"
		fi
	fi
else
	tail -n 20 "$OUT/host/deps.log"
	record FAIL host/deps "scripts/deps.sh failed, see build/check/host/deps.log"
fi
summarize host
for l in $LANES; do
	lane "$l"
done

echo "==> all lanes ($((SECONDS - check_start))s)"
reliability
qemu_case
cat "$OUT/lanes"
if [ "$total_cases" -eq 0 ]; then
	echo "FAIL tests: no test case ran"
	total_failed=$((total_failed + 1))
fi
summary="$total_passed passed, $total_failed failed"
[ "$total_skipped" -eq 0 ] || summary="$summary, $total_skipped skipped"
echo "$summary" | tee "$OUT/summary"
[ "$total_failed" -eq 0 ]
