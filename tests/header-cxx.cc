// The public headers from C++: libvfiomig's, and the checker's beside it.
#include <vfiomig/conformance.h>
#include <vfiomig/vfiomig.h>

int main()
{
	vfiomig_ctx *ctx = nullptr;
	vfiomig_conformance_opts o = {};

	o.sz = sizeof(o);
	o.areas = VFIOMIG_CONF_ALL;
	if (vfiomig_ctx_new(&ctx) < 0)
		return 1;
	vfiomig_ctx_unref(ctx);
	return vfiomig_state_name(VFIOMIG_STATE_PRE_COPY_P2P) && o.areas ? 0 : 1;
}
