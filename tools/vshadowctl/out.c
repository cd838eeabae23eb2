// SPDX-License-Identifier: GPL-2.0
/*
 * vshadowctl's output, see out.h.  JSON is built with json-c, which does
 * the escaping; this file decides the schema's conventions
 * (Documentation/userspace-api/vshadowctl.rst):
 *
 * - keys are snake_case (iproute2's habit); the text uses kebab-case;
 * - addresses, lengths, cookies and identities are strings of 16 hex
 *   digits, since JSON numbers past 2^53 do not survive most readers
 *   (jq 1.6 reads 18446744073709551615 as 18446744073709552000);
 *   counters stay numbers;
 * - strings are UTF-8: a byte that is not (a comm is any bytes) becomes
 *   U+FFFD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json.h>

#include "out.h"

static enum out_format format;
static bool first;			/* text: no member on the line yet */
static struct json_object *obj;		/* JSON: the object being made */
static struct json_object *list;	/* JSON: the list, if any */

void out_init(enum out_format f)
{
	format = f;
}

bool out_json(void)
{
	return format != OUT_TEXT;
}

static int json_flags(void)
{
	return JSON_C_TO_STRING_NOSLASHESCAPE |
	       (format == OUT_JSON_PRETTY ? JSON_C_TO_STRING_PRETTY :
					    JSON_C_TO_STRING_PLAIN);
}

static void out_of_memory(void)
{
	fputs("vshadowctl: out of memory\n", stderr);
	exit(1);
}

static struct json_object *checked(struct json_object *o)
{
	if (!o)
		out_of_memory();
	return o;
}

/* @key in snake_case, for JSON. */
static void add(const char *key, struct json_object *v)
{
	char k[64];
	size_t i;

	for (i = 0; key[i] && i < sizeof(k) - 1; i++)
		k[i] = key[i] == '-' ? '_' : key[i];
	k[i] = 0;
	if (json_object_object_add(obj, k, checked(v)))
		out_of_memory();
}

/* Text: the key, after a space unless it is the line's first word. */
static void text_key(const char *key)
{
	printf("%s%s ", first ? "" : " ", key);
	first = false;
}

void out_list_begin(void)
{
	if (out_json())
		list = checked(json_object_new_array());
}

/*
 * The list: with -p indented whole; else an object per line, so that a
 * line-oriented reader sees one context per line as in text.
 */
void out_list_end(void)
{
	struct json_object *o;
	size_t i, n;

	if (!list)
		return;
	n = json_object_array_length(list);
	if (format == OUT_JSON_PRETTY) {
		puts(json_object_to_json_string_ext(list, json_flags()));
	} else {
		fputs("[\n", stdout);
		for (i = 0; i < n; i++) {
			o = json_object_array_get_idx(list, i);
			printf("%s%s", json_object_to_json_string_ext(o,
								      json_flags()),
			       i + 1 < n ? ",\n" : "\n");
		}
		fputs("]\n", stdout);
	}
	json_object_put(list);
	list = NULL;
}

void out_begin(const char *event)
{
	first = true;
	if (out_json()) {
		obj = checked(json_object_new_object());
		if (event)
			add("event", json_object_new_string(event));
	} else if (event) {
		printf("[%s]", event);
		first = false;
	}
}

void out_end(void)
{
	if (!out_json()) {
		putchar('\n');
		return;
	}
	if (list) {
		if (json_object_array_add(list, obj))
			out_of_memory();
	} else {
		puts(json_object_to_json_string_ext(obj, json_flags()));
		json_object_put(obj);
	}
	obj = NULL;
}

void out_u64(const char *key, uint64_t v)
{
	if (out_json()) {
		add(key, json_object_new_uint64(v));
		return;
	}
	text_key(key);
	printf("%llu", (unsigned long long)v);
}

void out_hex(const char *key, uint64_t v)
{
	char s[24];

	if (out_json()) {
		snprintf(s, sizeof(s), "0x%016llx", (unsigned long long)v);
		add(key, json_object_new_string(s));
		return;
	}
	text_key(key);
	printf("0x%llx", (unsigned long long)v);
}

/*
 * The length of the valid UTF-8 sequence at @p (1 to 4), or 0.  Overlong
 * forms, surrogates and code points past U+10FFFF are not valid.
 */
static int utf8_len(const unsigned char *p)
{
	int n, i;
	uint32_t c;

	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf) {
		n = 2;
		c = *p & 0x1f;
	} else if (*p >= 0xe0 && *p <= 0xef) {
		n = 3;
		c = *p & 0x0f;
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		n = 4;
		c = *p & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return n;
}

void out_str(const char *key, const char *s)
{
	const unsigned char *p;
	char *u, *q;
	int n;

	if (!out_json()) {
		text_key(key);
		fputs(s, stdout);
		return;
	}
	/* UTF-8 as it is; a byte that is not: U+FFFD (3 bytes for 1) */
	u = malloc(3 * strlen(s) + 1);
	if (!u)
		out_of_memory();
	for (p = (const unsigned char *)s, q = u; *p; p += n) {
		n = utf8_len(p);
		if (n) {
			memcpy(q, p, n);
			q += n;
		} else {
			memcpy(q, "\xef\xbf\xbd", 3);
			q += 3;
			n = 1;
		}
	}
	*q = 0;
	add(key, json_object_new_string(u));
	free(u);
}

/* A flag: a word in text when set, true or false in JSON. */
void out_flag(const char *key, bool v)
{
	if (out_json()) {
		add(key, json_object_new_boolean(v));
	} else if (v) {
		printf("%s%s", first ? "" : " ", key);
		first = false;
	}
}

/* Numbers: "1,2" for people ("-" for none), [1,2] in JSON. */
void out_u32_list(const char *key, const uint32_t *v, size_t n)
{
	struct json_object *a, *e;
	size_t i;

	if (out_json()) {
		a = checked(json_object_new_array());
		for (i = 0; i < n; i++) {
			e = checked(json_object_new_uint64(v[i]));
			if (json_object_array_add(a, e))
				out_of_memory();
		}
		add(key, a);
		return;
	}
	text_key(key);
	for (i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", v[i]);
	if (!n)
		putchar('-');
}

/* Now: UTC, ISO 8601, microseconds. */
void out_time(void)
{
	struct timespec ts;
	char buf[32], s[64];
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(s, sizeof(s), "%s.%06uZ", buf,
		 (unsigned int)(ts.tv_nsec / 1000) % 1000000);
	if (out_json()) {
		add("time", json_object_new_string(s));
		return;
	}
	text_key("time");
	fputs(s, stdout);
}
