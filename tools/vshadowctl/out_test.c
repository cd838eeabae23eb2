// SPDX-License-Identifier: GPL-2.0
/*
 * out_test: vshadowctl's output layer on its own, for check-json.sh,
 * which reads it back with jq on the host (which runs no module).
 * Prints, in the format its argument names (text, json, pretty): a
 * clamp event over the whole 64-bit space, then a list of two contexts,
 * the first with a comm that is not UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "out.h"

int main(int argc, char **argv)
{
	static const uint32_t hwpts[] = { 1, 2 };
	const char *f = argc > 1 ? argv[1] : "json";

	out_init(!strcmp(f, "text") ? OUT_TEXT :
		 !strcmp(f, "pretty") ? OUT_JSON_PRETTY : OUT_JSON);
	out_begin("clamped");
	out_time();
	out_u64("ctx", 7);
	out_hex("start", 0);
	out_hex("last", UINT64_MAX);
	out_hex("clamped-last", 0xffffffffffffULL);
	out_end();

	out_list_begin();
	out_begin(NULL);
	out_u64("ctx", 1);
	out_str("comm", "\xff\xc3\xa9\x01x\"\\/");
	out_u64("bytes", 9007199254740993ULL);	/* 2^53 + 1 */
	out_u32_list("dirty-hwpts", hwpts, 2);
	out_flag("broken", false);
	out_end();
	out_begin(NULL);
	out_u64("ctx", 2);
	out_str("comm", "qemu-system-x86");
	out_u32_list("dirty-hwpts", NULL, 0);
	out_flag("broken", true);
	out_end();
	out_list_end();
	return 0;
}
