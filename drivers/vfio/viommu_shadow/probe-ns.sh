#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# probe-ns.sh SRCTREE: the ccflags for the form of symbol namespace the
# kernel headers under SRCTREE take.  Before 6.13, EXPORT_SYMBOL_NS_GPL()
# and MODULE_IMPORT_NS() took a bare identifier and made it a string
# themselves (with __stringify()); from 6.13 on they take a string
# literal.  Prints -DVSHADOW_NS_IDENT for the first, nothing for the
# second.  Kbuild runs it; scripts/check.sh checks it on two snippets.
if grep -qs 'import_ns, *__stringify(ns)' "$1/include/linux/module.h"; then
	echo -DVSHADOW_NS_IDENT
fi
