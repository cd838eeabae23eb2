# SPDX-License-Identifier: GPL-2.0
#
# viommu_shadow: top-level wrapper around Kbuild, the selftests and the VM.
#
#   make                build the module (against KDIR)
#   make selftests      build the kselftests (static, for the test VM)
#   make tools          build vshadowctl (needs libnl-genl-3-dev) and
#                       libvshadow
#   make run            set up, build, boot the test VM and demonstrate
#   make vm-run PROG=X  boot the test VM with the module loaded and run the
#                       static binary X in it (ARGS="...", IOMMU=amd)
#   make check          set up, build, style checks, all tests in the VM,
#                       on every lane (LANES: 6.1, 6.12, and debug when its
#                       kernel is cached)
#   make debug-kernel   build the debug lane's kernel (about 13 minutes
#                       cold; cached outside the tree, see scripts/common.sh)
#   make check-full     check, building the debug kernel first if needed
#                       (a failed build fails the lane)
#   make install        modules_install + depmod, and the uapi header,
#                       for a real host (DESTDIR, PREFIX); make uninstall
#   make dkms-source    the sources for DKMS in /usr/src (dkms.conf)
#   make clean
#
# KDIR defaults to the running kernel's build tree; when that does not
# exist (as on the CI machines, whose kernel has no module tree) the Debian
# headers that scripts/deps.sh installs are used.  KSERIES=6.12 selects the
# bookworm-backports kernel instead of 6.1, KSERIES=debug the debug lane's
# kernel (once built).  LANES="6.12" (say) runs check on those lanes only.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
KSERIES ?= 6.1
CACHE ?= $(TOP)/.cache
DEPS := $(TOP)/scripts/deps.sh
ENVF := $(CACHE)/env-$(KSERIES).sh
LANES ?= 6.1 6.12 debug
export KSERIES CACHE LANES

HOST_KDIR := /lib/modules/$(shell uname -r)/build
ifeq ($(origin KDIR),undefined)
ifneq ($(wildcard $(HOST_KDIR)/Makefile),)
KDIR := $(HOST_KDIR)
else
NEED_DEPS := 1
KDIR = $(shell . $(ENVF) 2>/dev/null && echo $$KDIR)
endif
endif

# The test-only mock backend is built only when asked (make check does).
VSHADOW_MOCK ?=
MODDIR := drivers/vfio/viommu_shadow
# Kbuild runs on the module's own directory: a Kbuild "clean" with M=$(TOP)
# would delete every .ko below it, the guest kernel's in .cache/ included.
KBUILD_ARGS = -C $(KDIR) M=$(TOP)/$(MODDIR) VSHADOW_MOCK=$(VSHADOW_MOCK)

.PHONY: all modules deps tools selftests selftests-iommufd run vm-run check check-full \
	debug-kernel install uninstall dkms-source clean checkpatch sparse bench

all: modules

deps:
	@$(DEPS)

modules: $(if $(NEED_DEPS),deps)
	$(MAKE) $(KBUILD_ARGS) W=1 modules

selftests: deps
	$(MAKE) tools
	$(MAKE) -C tools/testing/selftests/viommu_shadow \
		KSRC_DIR="$$(. $(ENVF) && echo $$KSRC_DIR)"

# vshadowctl (libnl-3): the host's build, and a static one for the guest;
# libvshadow, static and shared.
tools:
	$(MAKE) -C tools/vshadowctl
	$(MAKE) -C tools/lib/vshadow PREFIX=$(PREFIX)

# The iommufd groundwork test, against the debug kernel's uapi.
selftests-iommufd:
	KSERIES=debug $(TOP)/scripts/deps.sh
	$(MAKE) -C tools/testing/selftests/viommu_shadow KSERIES=debug iommufd

# install: the module (modules_install, then depmod), the uapi header,
# vshadowctl and libvshadow.  DESTDIR (or INSTALL_MOD_PATH, as for Kbuild) stages into a
# root; PREFIX (/usr/local) is where the header and the CLI go under it.
VSHADOW_VERSION := 0.1
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_MOD_PATH ?= $(DESTDIR)
KRELEASE = $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
		$(KDIR)/include/generated/utsrelease.h)
MOD_INSTALL_DIR = $(INSTALL_MOD_PATH)/lib/modules/$(KRELEASE)/updates
HEADER := include/uapi/linux/viommu_shadow.h
DKMS_SRC = $(DESTDIR)/usr/src/viommu_shadow-$(VSHADOW_VERSION)

install: modules tools
	$(MAKE) $(KBUILD_ARGS) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) \
		INSTALL_MOD_DIR=updates modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $(KRELEASE)
	install -D -m 0644 $(HEADER) $(DESTDIR)$(PREFIX)/include/linux/viommu_shadow.h
	install -D -m 0755 tools/vshadowctl/vshadowctl $(DESTDIR)$(PREFIX)/sbin/vshadowctl
	$(MAKE) -C tools/lib/vshadow install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

uninstall:
	rm -f $(MOD_INSTALL_DIR)/viommu_shadow.ko $(MOD_INSTALL_DIR)/viommu_shadow_iommufd.ko
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $(KRELEASE)
	rm -f $(DESTDIR)$(PREFIX)/include/linux/viommu_shadow.h
	rm -f $(DESTDIR)$(PREFIX)/sbin/vshadowctl
	$(MAKE) -C tools/lib/vshadow uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

# The sources DKMS builds from (dkms.conf), in /usr/src under DESTDIR.
dkms-source:
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/$(MODDIR) $(DKMS_SRC)/include/uapi/linux
	install -m 0644 dkms.conf $(DKMS_SRC)/
	install -m 0644 $(MODDIR)/Kbuild $(filter-out %.mod.c,$(wildcard \
		$(MODDIR)/*.c $(MODDIR)/*.h)) $(DKMS_SRC)/$(MODDIR)/
	install -m 0644 $(HEADER) $(DKMS_SRC)/include/uapi/linux/

checkpatch: deps
	@$(TOP)/scripts/checkpatch.sh

sparse: deps
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

check-full: deps
	@CHECK_FULL=1 $(TOP)/scripts/check.sh

clean:
	-$(MAKE) $(KBUILD_ARGS) clean 2>/dev/null
	$(MAKE) -C tools/testing/selftests/viommu_shadow clean
	$(MAKE) -C tools/vshadowctl clean
	$(MAKE) -C tools/lib/vshadow clean
	rm -rf build
