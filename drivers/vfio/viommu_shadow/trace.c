// SPDX-License-Identifier: GPL-2.0
/*
 * The viommu_shadow tracepoints (trace.h) are created here, once.  They
 * are fired by the backend-call layer (backend.c) and the ioctls.
 */
#include <linux/viommu_shadow.h>
#include "vshadow.h"

#define CREATE_TRACE_POINTS
#include "trace.h"
