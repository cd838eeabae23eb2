/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvshadow's hooks for its own tests; not installed, not exported from
 * the shared library (static builds only).
 */
#ifndef _VSHADOW_TEST_H
#define _VSHADOW_TEST_H

#include <stdint.h>

struct vshadow;

/* How many type1 ioctls the userspace fallback of @vs made. */
uint64_t vshadow__type1_calls(const struct vshadow *vs);

/*
 * The library makes its ioctls with syscall(2), so that
 * libvshadow-preload's ioctl(3) never sees them.  A test linked with
 * -Wl,--wrap=syscall defines __wrap_syscall() to see (or answer) them,
 * and reaches the real one as __real_syscall().
 */
long __real_syscall(long nr, ...);
long __wrap_syscall(long nr, ...);

#endif /* _VSHADOW_TEST_H */
