// SPDX-License-Identifier: GPL-2.0
/*
 * The backend registry.  A backend is a small ops table (struct
 * vshadow_backend_ops) that a context forwards MAP and unmap calls to.  The
 * VFIO type1 backend is built in; other modules (the test-only mock today,
 * iommufd later) register theirs here.
 */
#include <linux/module.h>
#include <linux/mutex.h>

#include <linux/viommu_shadow.h>
#include "vshadow.h"

#define VSHADOW_MAX_BACKENDS 4

/* Protects vshadow_backends; never held across a backend call. */
static DEFINE_MUTEX(vshadow_backends_lock);
static const struct vshadow_backend_ops *vshadow_backends[VSHADOW_MAX_BACKENDS] = {
	&vshadow_type1_ops,
};

int vshadow_backend_register(const struct vshadow_backend_ops *ops)
{
	int i, free = -1, ret = -ENOSPC;

	/* Every op is called unconditionally. */
	if (!ops->attach || !ops->detach || !ops->query || !ops->map ||
	    !ops->unmap || !ops->sync)
		return -EINVAL;

	mutex_lock(&vshadow_backends_lock);
	for (i = 0; i < VSHADOW_MAX_BACKENDS; i++) {
		if (vshadow_backends[i] && vshadow_backends[i]->id == ops->id) {
			ret = -EEXIST;
			goto out_unlock;
		}
		if (!vshadow_backends[i] && free < 0)
			free = i;
	}
	if (free >= 0) {
		vshadow_backends[free] = ops;
		ret = 0;
	}
out_unlock:
	mutex_unlock(&vshadow_backends_lock);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(vshadow_backend_register, VSHADOW_NS);

/*
 * Contexts attached to @ops pin its module, so nothing can still be using
 * @ops once its module's exit calls this.
 */
void vshadow_backend_unregister(const struct vshadow_backend_ops *ops)
{
	int i;

	mutex_lock(&vshadow_backends_lock);
	for (i = 0; i < VSHADOW_MAX_BACKENDS; i++)
		if (vshadow_backends[i] == ops)
			vshadow_backends[i] = NULL;
	mutex_unlock(&vshadow_backends_lock);
}
EXPORT_SYMBOL_NS_GPL(vshadow_backend_unregister, VSHADOW_NS);

/* Look up backend @id and pin its module; NULL if there is none. */
const struct vshadow_backend_ops *vshadow_backend_get(u32 id)
{
	const struct vshadow_backend_ops *ops = NULL;
	int i;

	mutex_lock(&vshadow_backends_lock);
	for (i = 0; i < VSHADOW_MAX_BACKENDS; i++) {
		if (vshadow_backends[i] && vshadow_backends[i]->id == id &&
		    try_module_get(vshadow_backends[i]->owner)) {
			ops = vshadow_backends[i];
			break;
		}
	}
	mutex_unlock(&vshadow_backends_lock);
	return ops;
}

void vshadow_backend_put(const struct vshadow_backend_ops *ops)
{
	module_put(ops->owner);
}
