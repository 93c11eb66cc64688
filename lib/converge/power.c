/* Reboot and shutdown (converge.h). */
#include "converge/converge.h"

int
hl_cv_power(struct hl_pve *p, const struct hl_lab *lab,
    const unsigned char *picked, const struct hl_cv_power_opts *o, jv *res,
    struct hl_err *e)
{
	*res = jv_null();
	return hl_err_set(e, HL_E_INTERNAL, "not built yet");
}
