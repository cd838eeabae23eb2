/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vshadowctl's output: "key value" pairs for people, or JSON (json-c).
 * out_begin() and out_end() open and close one object (a line of text);
 * each out_*() in between adds a member.  Between out_list_begin() and
 * out_list_end() the objects form one JSON list.
 */
#ifndef _VSHADOWCTL_OUT_H
#define _VSHADOWCTL_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum out_format {
	OUT_TEXT,
	OUT_JSON,		/* an object per line, a list over lines */
	OUT_JSON_PRETTY,	/* indented, for people */
};

void out_init(enum out_format format);
bool out_json(void);
void out_list_begin(void);
void out_list_end(void);
void out_begin(const char *event);
void out_end(void);
void out_u64(const char *key, uint64_t v);
void out_hex(const char *key, uint64_t v);
void out_str(const char *key, const char *s);
void out_flag(const char *key, bool v);
void out_u32_list(const char *key, const uint32_t *v, size_t n);
void out_time(void);

#endif /* _VSHADOWCTL_OUT_H */
