/* The public header alone, in strict C99 (built with -pedantic -Werror). */
#include <vfiomig/vfiomig.h>

int main(void)
{
	enum vfiomig_state s = VFIOMIG_STATE_RUNNING;

	return vfiomig_state_name(s) ? 0 : 1;
}
