# SPDX-License-Identifier: GPL-2.0
#
# viommu_shadow: top-level wrapper around Kbuild, the tools, the selftests
# and the test rig.  "make help" lists the targets.
#
# Two kinds of target.  The product's (all, modules, install, uninstall,
# tools, install-tools, dkms-source, sparse, clean, distclean) build and
# install for a real host: they never install a package, never touch apt,
# and write nothing outside the tree but what install puts in DESTDIR.
# They build against KDIR, by default the running kernel's build tree
# (HOST_KDIR); without one they stop and name the package to install.
# The test rig's (deps, run, vm-run, check, check-full, debug-kernel,
# bench-kernel, bench, checkpatch, selftests, selftests-iommufd) set up
# what they need: run, check, check-full, bench, deps, debug-kernel and
# bench-kernel install missing
# Debian packages (scripts/deps.sh says which); every rig target fetches
# Debian kernel packages into the git-ignored .cache/ (scripts/fetch.sh,
# no install) and builds the module against those, for the guest.
#
# KSERIES=6.12 selects the rig's bookworm-backports kernel instead of 6.1,
# KSERIES=debug the debug lane's kernel (once built).  LANES="6.12" (say)
# runs check on those lanes only.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KSERIES ?= 6.1
CACHE ?= $(TOP)/.cache
DEPS := $(TOP)/scripts/deps.sh
FETCH := $(TOP)/scripts/fetch.sh
ENVF := $(CACHE)/env-$(KSERIES).sh
LANES ?= 6.1 6.12 debug
export KSERIES CACHE LANES

HOST_KDIR := /lib/modules/$(shell uname -r)/build
KDIR ?= $(HOST_KDIR)

# The goals that build against KDIR stop here, while parsed, when it is not
# a kernel build tree: before anything runs, and with no set-up of any kind.
KDIR_GOALS := all modules install sparse
ifneq ($(filter $(KDIR_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(wildcard $(KDIR)/Makefile),)
$(error no kernel build tree in $(KDIR): install the running kernel's \
headers (on Debian and Ubuntu: the package linux-headers-$(shell uname -r)), \
or build against another kernel with KDIR=/path/to/its/build)
endif
endif

# The test-only mock backend is built only when asked (make check does).
VSHADOW_MOCK ?=
MODDIR := drivers/vfio/viommu_shadow
# Kbuild runs on the module's own directory: a Kbuild "clean" with M=$(TOP)
# would delete every .ko below it, the guest kernel's in .cache/ included.
KBUILD_ARGS = -C $(KDIR) M=$(TOP)/$(MODDIR) VSHADOW_MOCK=$(VSHADOW_MOCK)

# The one version of the package: the module's MODULE_VERSION, dkms.conf,
# libvshadow's pkg-config file and vshadowctl -V (libvshadow's SONAME
# follows its ABI instead).
VSHADOW_VERSION := $(shell cat $(TOP)/VERSION)
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_MOD_PATH ?= $(DESTDIR)
UDEVRULESDIR ?= /usr/lib/udev/rules.d
MODULESLOADDIR ?= /usr/lib/modules-load.d
KRELEASE = $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
		$(KDIR)/include/generated/utsrelease.h)
MOD_INSTALL_DIR = $(INSTALL_MOD_PATH)/lib/modules/$(KRELEASE)/updates
HEADER := include/uapi/linux/viommu_shadow.h
UDEV_RULE := packaging/60-viommu_shadow.rules
DKMS_SRC = $(DESTDIR)/usr/src/viommu_shadow-$(VSHADOW_VERSION)

.PHONY: all modules deps tools selftests selftests-iommufd run vm-run check \
	check-full debug-kernel bench-kernel install install-tools install-modules-load \
	uninstall dkms-source clean distclean checkpatch sparse bench help cleanroom \
	install-udev

all: modules

help:
	@sed -n '/^# help-begin/,/^# help-end/{/^# help-/d;s/^# \{0,1\}//;p}' $(TOP)/Makefile

# help-begin
# The product (never installs a package; KDIR=, DESTDIR=, PREFIX=):
#   make                  the module, against KDIR (default: the running
#                         kernel's build tree, /lib/modules/$(uname -r)/build)
#   make install          the module (updates/, depmod), the uapi header,
#                         the udev rule giving /dev/viommu_shadow its mode
#   make install-tools    vshadowctl (needs libnl-genl-3-dev) and libvshadow
#   make install-udev     the udev rule alone (after dkms install)
#   make install-modules-load
#                         also load the module at boot (modules-load.d)
#   make uninstall        undo make install and make install-tools
#   make tools            build vshadowctl and libvshadow only
#   make dkms-source      the sources for DKMS in /usr/src (see the README)
#   make sparse           the module under sparse (needs sparse)
#   make clean            remove what the build made
#   make distclean        clean, and remove .cache/ (the rig's downloads)
#
# The test rig (installs missing Debian packages; fetches kernels into .cache/):
#   make run              boot the test VM, load the module, demonstrate it
#   make check            every test, on every lane (LANES="6.1 6.12 debug")
#   make check-full       check, building the debug kernel first; long sweeps;
#                         and the clean room
#   make cleanroom        make run and make check in a new Debian 12 root
#   make debug-kernel     build the debug lane's kernel (13-16 min cold)
#   make bench-kernel     build make bench's production 6.12 kernel (make
#                         bench builds it when it is missing)
#   make bench            the benchmark, in a guest without slab debugging
#   make vm-run PROG=X    run your own static program X in the test VM
#   make deps             set the rig up only
#   make selftests        build the guest's test programs (installs nothing;
#                         KSELFTEST_DIR= to use a kernel tree's harness)
#   make checkpatch       checkpatch.pl --strict over the sources
# help-end

deps:
	@$(DEPS)

modules:
	$(MAKE) $(KBUILD_ARGS) W=1 modules

# The test programs of the guest (static), and the static vshadowctl they
# run there.  Installs nothing: the kselftest harness comes from
# KSELFTEST_DIR (a kernel tree's tools/testing/selftests) or from
# linux-source-6.1 fetched into .cache/, and the uapi headers from
# bookworm-backports' linux-libc-dev fetched there too, whatever the
# host's own linux-libc-dev is.
selftests:
	@$(FETCH) $(if $(KSELFTEST_DIR),uapi,src)
	$(MAKE) -C tools/lib/vshadow
	$(MAKE) -C tools/vshadowctl static/vshadowctl
	$(MAKE) -C tools/testing/selftests/viommu_shadow STATIC=1

# vshadowctl (libnl-3, skipped with a message where it is missing) and
# libvshadow (static, shared, the preload library).
tools:
	$(MAKE) -C tools/lib/vshadow PREFIX=$(PREFIX)
	$(MAKE) -C tools/vshadowctl

# The iommufd groundwork test, against the debug kernel's uapi (or the
# bench kernel's: IOMMUFD_KSERIES=bench).
IOMMUFD_KSERIES ?= debug
selftests-iommufd:
	KSERIES=$(IOMMUFD_KSERIES) $(DEPS)
	$(MAKE) -C tools/testing/selftests/viommu_shadow KSERIES=$(IOMMUFD_KSERIES) \
		IOMMUFD_KSERIES=$(IOMMUFD_KSERIES) STATIC=1 iommufd

# install: the module (modules_install, then depmod), the uapi header and
# the udev rule.  DESTDIR (or INSTALL_MOD_PATH, as for Kbuild) stages into
# a root; PREFIX (/usr/local) is where the header goes under it.
install: modules install-udev
	$(MAKE) $(KBUILD_ARGS) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) \
		INSTALL_MOD_DIR=updates modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $(KRELEASE)
	install -D -m 0644 $(HEADER) $(DESTDIR)$(PREFIX)/include/linux/viommu_shadow.h

# The udev rule alone (DKMS installs the module but no rule).
install-udev:
	install -D -m 0644 $(UDEV_RULE) $(DESTDIR)$(UDEVRULESDIR)/60-viommu_shadow.rules

install-tools: tools
	$(MAKE) -C tools/vshadowctl install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)
	$(MAKE) -C tools/lib/vshadow install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

install-modules-load:
	install -D -m 0644 packaging/viommu_shadow.conf \
		$(DESTDIR)$(MODULESLOADDIR)/viommu_shadow.conf

# Kbuild may have compressed the modules (CONFIG_MODULE_COMPRESS_*).
# Without KDIR (the kernel's headers gone) only the module is left alone.
uninstall:
ifneq ($(wildcard $(KDIR)/Makefile),)
	rm -f $(foreach m,viommu_shadow viommu_shadow_iommufd, \
		$(addprefix $(MOD_INSTALL_DIR)/$(m).ko,"" .gz .xz .zst))
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $(KRELEASE)
else
	@echo "no kernel build tree in $(KDIR): the module is left installed (KDIR=...)"
endif
	rm -f $(DESTDIR)$(PREFIX)/include/linux/viommu_shadow.h
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-viommu_shadow.rules
	rm -f $(DESTDIR)$(MODULESLOADDIR)/viommu_shadow.conf
	$(MAKE) -C tools/vshadowctl uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)
	$(MAKE) -C tools/lib/vshadow uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

# The sources DKMS builds from, in /usr/src under DESTDIR; dkms.conf gets
# the version here.
dkms-source:
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/$(MODDIR) $(DKMS_SRC)/include/uapi/linux
	sed 's/@VERSION@/$(VSHADOW_VERSION)/' dkms.conf >$(DKMS_SRC)/dkms.conf
	install -m 0644 VERSION $(DKMS_SRC)/
	install -m 0644 $(MODDIR)/Kbuild $(filter-out %.mod.c,$(wildcard \
		$(MODDIR)/*.c $(MODDIR)/*.h)) $(DKMS_SRC)/$(MODDIR)/
	install -m 0755 $(MODDIR)/probe-ns.sh $(DKMS_SRC)/$(MODDIR)/
	install -m 0644 $(HEADER) $(DKMS_SRC)/include/uapi/linux/

checkpatch:
	@$(FETCH) src
	@$(TOP)/scripts/checkpatch.sh

sparse:
	$(MAKE) $(KBUILD_ARGS) VSHADOW_MOCK=1 C=2 W=1 modules

run: deps
	@$(TOP)/scripts/run.sh

# One's own static program in the test VM, the module loaded.
vm-run: deps
	@IOMMU=$(IOMMU) $(TOP)/scripts/vm-run.sh "$(PROG)" $(ARGS)

check: deps
	@$(TOP)/scripts/check.sh

# The module against the userspace loops it replaces, side by side.
bench: deps
	@$(TOP)/scripts/bench.sh $(REPS)

debug-kernel: deps
	@$(TOP)/scripts/debug-kernel.sh

# make bench's production 6.12 kernel (iommufd without the checkers).
bench-kernel: deps
	@$(TOP)/scripts/debug-kernel.sh --bench

check-full: deps
	@CHECK_FULL=1 $(TOP)/scripts/check.sh

# The README's two commands from a fresh clone of HEAD in a new Debian 12
# root (check-full runs it).
cleanroom: deps
	@$(TOP)/scripts/cleanroom.sh

# Works with or without a kernel build tree.
clean:
	$(if $(wildcard $(KDIR)/Makefile),-$(MAKE) $(KBUILD_ARGS) clean)
	cd $(MODDIR) && rm -f *.o *.ko *.mod *.mod.c .*.cmd modules.order Module.symvers
	$(MAKE) -C tools/testing/selftests/viommu_shadow clean
	$(MAKE) -C tools/vshadowctl clean
	$(MAKE) -C tools/lib/vshadow clean
	rm -rf build

# CACHE may come from the environment: only a directory that is the rig's
# cache (it has its env-src.sh or apt/) is removed.
distclean: clean
	@if [ -d "$(CACHE)" ]; then \
		if [ "$(CACHE)" != "$(TOP)/.cache" ] && [ ! -f "$(CACHE)/env-src.sh" ] && \
		   [ ! -d "$(CACHE)/apt" ]; then \
			echo "CACHE=$(CACHE) is not the rig's cache: not removing it" >&2; exit 1; \
		fi; \
		echo "removing $(CACHE) ($$(du -sh "$(CACHE)" | cut -f1))"; \
		rm -rf "$(CACHE)"; \
	fi
	@kc=$${KCACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/viommu_shadow}; \
	if [ -d "$$kc" ]; then \
		echo "The debug kernel's cache, shared by every clone, stays in $$kc" \
		     "($$(du -sh "$$kc" | cut -f1)); remove it with: rm -rf $$kc"; \
	fi
