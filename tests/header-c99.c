/* The public headers alone, in strict C99 (built with -pedantic -Werror):
 * libvfiomig's, and the checker's beside it. */
#include <vfiomig/conformance.h>
#include <vfiomig/vfiomig.h>

int main(void)
{
	enum vfiomig_state s = VFIOMIG_STATE_RUNNING;
	enum vfiomig_verdict v = VFIOMIG_VERDICT_PASS;

	return vfiomig_state_name(s) && v == 0 ? 0 : 1;
}
