// The public header from C++.
#include <vfiomig/vfiomig.h>

int main()
{
	vfiomig_ctx *ctx = nullptr;

	if (vfiomig_ctx_new(&ctx) < 0)
		return 1;
	vfiomig_ctx_unref(ctx);
	return vfiomig_state_name(VFIOMIG_STATE_PRE_COPY_P2P) ? 0 : 1;
}
