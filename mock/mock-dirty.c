// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The mock's DMA logging (dirtylog=1) and the device's own DMA.  The
 * tracker is written from mlx5_vfio_pci's (mlx5vf_start_page_tracker,
 * mlx5vf_create_tracker, mlx5vf_tracker_read_and_clear) and the core's
 * vfio_combine_iova_ranges(); the bits it reports follow iova_bitmap.c.
 * mock-ioctl.c makes the core's checks before calling in here.
 *
 * The device writes guest memory only when told to (vfiomig_mock_dma())
 * or at dirtyrate=, and those writes are accrued lazily: whenever a device
 * op runs, the writes due since the last op are done then, so no thread is
 * needed and everything here is under op_lock.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mock.h"
#include "dev.h"
#include "log.h"
#include "util.h"

#define NSEC 1000000000ull
#define EMPTY UINT64_MAX		/* hash slots; page numbers are < 2^52 */
#define TOMB (UINT64_MAX - 1)
#define ACCRUE_MAX_NS (1000ull * NSEC)	/* rate x this fits in 64 bits */
#define ACCRUE_MAX_WRITES (1u << 20)	/* writes one accrual does at most */
#define DMA_CHUNK_WORDS 8192u		/* vfiomig_mock_dma()'s file writes */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Whether the device does DMA now: it runs, in RUNNING and PRE_COPY, and
 * in their P2P states, where it only stops peer-to-peer DMA, unless
 * those are a full suspend (personality=xe).
 */
static bool dma_runs(const struct vfiomig_mock *m)
{
	switch (m->state) {
	case VFIOMIG_STATE_RUNNING:
	case VFIOMIG_STATE_PRE_COPY:
		return true;
	case VFIOMIG_STATE_RUNNING_P2P:
	case VFIOMIG_STATE_PRE_COPY_P2P:
		return !mock_p2p_suspends(m);
	default:
		return false;
	}
}

/* ---- the set of logged tracker pages ---- */

static size_t slot_of(const struct mock_dirty *d, uint64_t page)
{
	uint64_t x = page;

	return (size_t)(splitmix(&x) & (d->cap - 1));
}

static void set_clear(struct mock_dirty *d)
{
	free(d->set);
	d->set = NULL;
	d->cap = d->used = d->tombs = 0;
}

/* Rebuilds the table with room for twice what it holds, tombstones gone. */
static int set_rehash(struct mock_dirty *d)
{
	size_t cap = 1024, old_cap = d->cap;
	uint64_t *old = d->set, *set;

	while (cap < 4 * (d->used + 1))
		cap *= 2;
	set = malloc(cap * sizeof(*set));
	if (!set)
		return -ENOMEM;
	memset(set, 0xff, cap * sizeof(*set));	/* EMPTY */
	d->set = set;
	d->cap = cap;
	d->tombs = 0;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (old[i] >= TOMB)
			continue;
		for (j = slot_of(d, old[i]); set[j] != EMPTY; j = (j + 1) & (cap - 1))
			;
		set[j] = old[i];
	}
	free(old);
	return 0;
}

/*
 * Logs tracker page @page.  Past MOCK_DIRTY_MAX_PAGES distinct pages, or
 * without the memory for them, the tracker fails for good, as mlx5's does
 * when its firmware object or its CQ fails: REPORT gives EIO until STOP.
 */
static void log_page(struct mock_dirty *d, uint64_t page)
{
	size_t i, tomb = SIZE_MAX;

	if (d->err)
		return;
	if ((d->used + d->tombs + 1) * 2 > d->cap && set_rehash(d)) {
		d->err = true;
		return;
	}
	for (i = slot_of(d, page); d->set[i] != EMPTY; i = (i + 1) & (d->cap - 1)) {
		if (d->set[i] == page)
			return;
		if (d->set[i] == TOMB && tomb == SIZE_MAX)
			tomb = i;
	}
	if (d->used == MOCK_DIRTY_MAX_PAGES) {
		d->err = true;
		return;
	}
	if (tomb != SIZE_MAX) {
		i = tomb;
		d->tombs--;
	}
	d->set[i] = page;
	d->used++;
}

/* ---- the device's writes ---- */

/* Whether [iova, iova + len) lies inside the union of the requested ranges. */
static bool inside_requested(const struct mock_dirty *d, uint64_t iova, uint64_t len)
{
	uint64_t end = iova + len;	/* the caller checked it does not wrap */

	for (uint32_t i = 0; i < d->nreq && iova < end; i++) {
		const struct mock_range *r = &d->req[i];

		if (iova < r->iova)
			return false;	/* a hole before this range */
		if (iova < r->iova + r->length)
			iova = r->iova + r->length;
	}
	return iova >= end;
}

/* Logs every tracker page [iova, iova + len) touches; @len > 0. */
static void log_span(struct mock_dirty *d, uint64_t iova, uint64_t len)
{
	uint64_t last = (iova + len - 1) >> d->shift;

	for (uint64_t p = iova >> d->shift; !d->err; p++) {
		log_page(d, p);
		if (p == last)
			break;
	}
}

/* dmafd='s size now; 0 when there is none or it cannot be told. */
static uint64_t dmafd_size(const struct mock_dirty *d)
{
	struct stat st;

	if (d->dmafd < 0 || fstat(d->dmafd, &st) < 0 || st.st_size < 0)
		return 0;
	return (uint64_t)st.st_size;
}

/* One 8-byte write at @addr, 8-aligned: logged if tracked, and into dmafd=. */
static void dma_word(struct vfiomig_mock *m, uint64_t addr, uint64_t fsize)
{
	struct mock_dirty *d = &m->dirty;
	uint8_t le[8];
	uint64_t seq = ++d->seq;

	if (d->active)
		log_page(d, addr >> d->shift);
	if (d->dmafd < 0 || addr > fsize || fsize - addr < 8)
		return;
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(seq >> (8 * i));
	/* A failing write is the caller's memory's problem, not the device's. */
	if (pwrite(d->dmafd, le, 8, (off_t)addr) != 8)
		dbg(m->ctx, "mock %s: dmafd write at 0x%" PRIx64 " failed", m->spec.name, addr);
}

/*
 * The 8-byte words of guest memory dirtyrate= writes into: those of the
 * ranges an active START asked for; on a device without DMA logging,
 * whose DMA only the IOMMU tracks and which no START tells where guest
 * memory is, dmafd='s file from IOVA 0 (@fsize bytes); else none.
 */
static uint64_t guest_words(const struct vfiomig_mock *m, uint64_t fsize)
{
	const struct mock_dirty *d = &m->dirty;

	if (d->active)
		return d->nreq ? d->req_words[d->nreq - 1] : 0;
	return m->spec.dirtylog == MOCK_LOG_NONE ? fsize / 8 : 0;
}

/* A random one of guest_words()'s @words words, as an address. */
static uint64_t pick_addr(struct mock_dirty *d, uint64_t words)
{
	uint64_t w = splitmix(&d->prng) % words;
	uint32_t lo = 0, hi;

	if (!d->active)
		return 8 * w;
	for (hi = d->nreq - 1; lo < hi;) {	/* the first range whose words end past w */
		uint32_t mid = lo + (hi - lo) / 2;

		if (d->req_words[mid] > w)
			hi = mid;
		else
			lo = mid + 1;
	}
	return d->req[lo].iova + 8 * (w - (lo ? d->req_words[lo - 1] : 0));
}

/*
 * dirtyrate=: the writes due since the last accrual, at the current rate,
 * if the device did DMA meanwhile.  The callers accrue before every change
 * of state, so the time spent stopped writes nothing.  carry keeps the
 * fraction of a write, so that the rate is exact over time.
 */
void mock_dirty_accrue(struct vfiomig_mock *m)
{
	struct mock_dirty *d = &m->dirty;
	uint64_t now = now_ns(), elapsed = now - d->last_ns, n, fsize, words;

	d->last_ns = now;
	if (!m->spec.dirtyrate || !dma_runs(m))
		return;
	fsize = dmafd_size(d);
	words = guest_words(m, fsize);
	if (!words)
		return;
	if (elapsed > ACCRUE_MAX_NS)
		elapsed = ACCRUE_MAX_NS;
	n = elapsed * m->spec.dirtyrate + d->carry;
	d->carry = n % NSEC;
	n /= NSEC;
	if (n > ACCRUE_MAX_WRITES)
		n = ACCRUE_MAX_WRITES;
	while (n--)
		dma_word(m, pick_addr(d, words), fsize);
}

/*
 * @nwords 8-byte words from @first, each with a sequence number of its
 * own, into dmafd= as far as the file goes.
 */
static void dma_words(struct vfiomig_mock *m, uint64_t first, uint64_t nwords)
{
	struct mock_dirty *d = &m->dirty;
	uint64_t fsize = dmafd_size(d);

	while (nwords) {
		uint64_t buf[DMA_CHUNK_WORDS];
		uint64_t n = nwords < DMA_CHUNK_WORDS ? nwords : DMA_CHUNK_WORDS;
		uint64_t fit = first >= fsize ? 0 : (fsize - first) / 8;

		if (!fit) {	/* the rest lies past the file's end, or there is none */
			d->seq += nwords;
			return;
		}
		if (fit > n)
			fit = n;
		for (uint64_t i = 0; i < n; i++)
			buf[i] = htole64(++d->seq);
		if (pwrite(d->dmafd, buf, fit * 8, (off_t)first) != (ssize_t)(fit * 8))
			dbg(m->ctx, "mock %s: dmafd write at 0x%" PRIx64 " failed",
			    m->spec.name, first);
		first += n * 8;
		nwords -= n;
	}
}

VFIOMIG_MOCK_API int vfiomig_mock_dma(struct vfiomig_dev *dev, uint64_t iova, uint64_t len)
{
	struct vfiomig_mock *m;
	struct mock_dirty *d;
	uint64_t end;
	int r = 0;

	if (!dev || dev->transport != &vfiomig_mock_transport || !dev->priv)
		return -EINVAL;
	if (!len || __builtin_add_overflow(iova, len, &end))
		return -EINVAL;
	m = dev->priv;
	d = &m->dirty;
	pthread_mutex_lock(&m->op_lock);
	mock_dirty_accrue(m);
	if (d->active && !inside_requested(d, iova, len))
		r = -EINVAL;
	else if (!dma_runs(m))
		r = -EPERM;	/* a stopped device cannot DMA */
	if (!r && d->active)
		log_span(d, iova, len);
	/* Every 8-byte word the write touches gets a number of its own. */
	if (!r)
		dma_words(m, iova & ~7ull, ((end - 1) >> 3) - (iova >> 3) + 1);
	pthread_mutex_unlock(&m->op_lock);
	return r;
}

/* ---- START, STOP, REPORT ---- */

static int range_cmp(const void *a, const void *b)
{
	const struct mock_range *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/*
 * vfio_combine_iova_ranges(): down to @max ranges by joining, each time,
 * the neighbours with the smallest gap (the leftmost pair on a tie); one
 * range is the hull.  @r is sorted.
 */
static uint32_t combine(struct mock_range *r, uint32_t n, uint32_t max)
{
	while (n > max) {
		uint64_t min_gap = UINT64_MAX;
		uint32_t at = 1;

		for (uint32_t i = 1; i < n; i++) {
			/* the kernel's start - prev->last, with last inclusive */
			uint64_t gap = r[i].iova - (r[i - 1].iova + r[i - 1].length - 1);

			if (gap < min_gap) {
				min_gap = gap;
				at = i;
			}
		}
		r[at - 1].length = r[at].iova + r[at].length - r[at - 1].iova;
		memmove(&r[at], &r[at + 1], (n - at - 1) * sizeof(*r));
		n--;
	}
	return n;
}

/* ilog2(roundup_pow_of_two(@x)); 64 past 2^63. */
static unsigned int log_roundup(uint64_t x)
{
	if (x <= 1)
		return 0;
	return x > (1ull << 63) ? 64 : 64 - (unsigned int)__builtin_clzll(x - 1);
}

/* mlx5: ilog2() of the asked size, clamped into the device's page sizes. */
static unsigned int clamp_page(const struct mock_spec *spec, uint64_t page_size)
{
	/* ilog2(0) is -1, a u8 255 in mlx5: above any maximum. */
	unsigned int lg = page_size ? 63 - (unsigned int)__builtin_clzll(page_size) : 255;

	if (lg < spec->logpage_min)
		return spec->logpage_min;
	return lg > spec->logpage_max ? spec->logpage_max : lg;
}

/* The requested ranges, sorted, and the words dirtyrate= picks from. */
static void keep_requested(struct mock_dirty *d, const struct mock_range *sorted, uint32_t n)
{
	uint64_t words = 0;

	memcpy(d->req, sorted, n * sizeof(*sorted));
	d->nreq = n;
	for (uint32_t i = 0; i < n; i++) {
		words += sorted[i].length / 8;	/* disjoint: below 2^61 in all */
		d->req_words[i] = words;
	}
}

int mock_log_start(struct vfiomig_mock *m, const struct mock_range *ranges, uint32_t n,
		   uint64_t *page_size)
{
	struct mock_dirty *d = &m->dirty;
	struct mock_range sorted[MOCK_LOG_MAX_RANGES], merged[MOCK_LOG_MAX_RANGES];
	uint32_t max = m->spec.logranges ? m->spec.logranges : MOCK_LOG_MAX_RANGES;
	uint32_t nmerged;
	uint64_t total = 0;
	unsigned int span;

	if (d->active)
		return -EINVAL;	/* mlx5: log_active */
	memcpy(sorted, ranges, n * sizeof(*ranges));
	qsort(sorted, n, sizeof(*sorted), range_cmp);	/* the interval tree's order */
	memcpy(merged, sorted, n * sizeof(*sorted));
	nmerged = combine(merged, n, max);
	for (uint32_t i = 0; i < nmerged; i++)
		total += merged[i].length;	/* disjoint ranges: no wrap */
	span = log_roundup(total);
	if (span < m->spec.logspan_min || span > m->spec.logspan_max)
		return -EOPNOTSUPP;	/* mlx5: log_addr_space_size out of the caps */
	keep_requested(d, sorted, n);
	memcpy(d->merged, merged, nmerged * sizeof(*merged));
	d->nmerged = nmerged;
	d->shift = clamp_page(&m->spec, *page_size);
	*page_size = 1ull << d->shift;
	set_clear(d);
	d->err = false;
	d->active = true;
	d->last_ns = now_ns();
	return 0;
}

/* mlx5: 0 also when nothing is tracking. */
int mock_log_stop(struct vfiomig_mock *m)
{
	struct mock_dirty *d = &m->dirty;

	mock_dirty_accrue(m);	/* the memory is written even if nobody reads the log */
	set_clear(d);
	d->active = false;
	d->err = false;
	d->nreq = d->nmerged = 0;
	return 0;
}

/* Sets bits @first..@last of the user's bitmap; never clears one. */
static void set_bits(uint64_t *bitmap, uint64_t first, uint64_t last)
{
	for (uint64_t w = first / 64; w <= last / 64; w++) {
		uint64_t lo = w == first / 64 ? first % 64 : 0;
		uint64_t hi = w == last / 64 ? last % 64 : 63;
		uint64_t mask = (hi == 63 ? UINT64_MAX : (1ull << (hi + 1)) - 1) &
				~((1ull << lo) - 1);

		bitmap[w] |= mask;
	}
}

/*
 * mlx5vf_tracker_read_and_clear(), the bits as iova_bitmap_set() puts them:
 * bit n is [iova + n * page_size, + page_size), in u64 word n / 64, bit
 * n % 64, so one tracker page sets every report page it overlaps.  A
 * tracker page wholly inside [iova, iova + length) is cleared; one only
 * partly inside sets the bits it overlaps and stays logged, so that the
 * rest of it is still reported by a later call.
 */
int mock_log_report(struct vfiomig_mock *m, uint64_t iova, uint64_t length,
		    uint64_t page_size, uint64_t *bitmap)
{
	struct mock_dirty *d = &m->dirty;
	uint64_t end = iova + length;	/* the core checked it does not wrap */
	unsigned int rshift = (unsigned int)__builtin_ctzll(page_size);

	if (!d->active)
		return -EINVAL;
	mock_dirty_accrue(m);
	if (d->err)
		return -EIO;
	for (size_t i = 0; i < d->cap && length; i++) {
		uint64_t p = d->set[i], a, last, lo, hi;

		if (p >= TOMB)
			continue;
		/* Inclusive ends: the top tracker page may end at 2^64. */
		a = p << d->shift;
		last = a + ((1ull << d->shift) - 1);
		lo = a > iova ? a : iova;
		hi = last < end - 1 ? last : end - 1;
		if (lo > hi)
			continue;
		set_bits(bitmap, (lo - iova) >> rshift, (hi - iova) >> rshift);
		if (a >= iova && last <= end - 1) {
			d->set[i] = TOMB;
			d->used--;
			d->tombs++;
		}
	}
	return 0;
}

/* ---- the mock's life ---- */

int mock_dirty_init(struct vfiomig_mock *m)
{
	struct mock_dirty *d = &m->dirty;
	uint64_t x = mock_seed_from_name(m->spec.name) ^ 0x444d41ull;	/* "DMA" */

	d->dmafd = -1;
	d->prng = splitmix(&x);
	d->last_ns = now_ns();
	if (m->spec.dmafd < 0)
		return 0;
	/* Our own fd: the caller may close theirs. */
	d->dmafd = fcntl(m->spec.dmafd, F_DUPFD_CLOEXEC, 3);
	if (d->dmafd < 0) {
		int e = errno;

		/* A bad number is a bad spec, as any other key's. */
		return vfiomig_fail(m->ctx, e == EBADF ? -EINVAL : -e,
				    "mock spec: dmafd=%d: %s: give an open fd, such as "
				    "a memfd standing for guest memory", m->spec.dmafd,
				    strerror(e));
	}
	return 0;
}

void mock_dirty_free(struct vfiomig_mock *m)
{
	set_clear(&m->dirty);
	if (m->dirty.dmafd >= 0)
		close(m->dirty.dmafd);
	m->dirty.dmafd = -1;
}

int vfiomig_mock_dirty_state(struct vfiomig_dev *dev, struct mock_dirty_view *out)
{
	struct vfiomig_mock *m;
	struct mock_dirty *d;

	if (!dev || dev->transport != &vfiomig_mock_transport || !dev->priv)
		return -EINVAL;
	m = dev->priv;
	d = &m->dirty;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->op_lock);
	out->active = d->active;
	out->err = d->err;
	out->page_size = d->active ? 1ull << d->shift : 0;
	out->nranges = d->nmerged;
	memcpy(out->ranges, d->merged, d->nmerged * sizeof(*d->merged));
	out->nrequested = d->nreq;
	out->logged = d->used;
	out->writes = d->seq;
	pthread_mutex_unlock(&m->op_lock);
	return 0;
}
