#include "CCompression.h"

#include <lz4.h>
#include <zstd.h>

/* ---- CRC32C ---------------------------------------------------------- */

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t crc32c_table[8][256];
static int crc32c_table_ready;

static void crc32c_init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^ crc32c_table[0][crc32c_table[t - 1][i] & 0xFF];
	__atomic_store_n(&crc32c_table_ready, 1, __ATOMIC_RELEASE);
}

/* Slicing-by-8: the portable path. */
static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	if (!__atomic_load_n(&crc32c_table_ready, __ATOMIC_ACQUIRE))
		crc32c_init_table();
	while (len && ((uintptr_t)p & 7)) {
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xFF];
		len--;
	}
	while (len >= 8) {
		uint64_t v;
		__builtin_memcpy(&v, p, 8);
		v ^= crc;
		crc = crc32c_table[7][v & 0xFF] ^ crc32c_table[6][(v >> 8) & 0xFF] ^
		      crc32c_table[5][(v >> 16) & 0xFF] ^ crc32c_table[4][(v >> 24) & 0xFF] ^
		      crc32c_table[3][(v >> 32) & 0xFF] ^ crc32c_table[2][(v >> 40) & 0xFF] ^
		      crc32c_table[1][(v >> 48) & 0xFF] ^ crc32c_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xFF];
	return crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
/* Three independent crc32 streams hide the instruction's 3-cycle latency. */
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c0 = crc;
	while (len && ((uintptr_t)p & 7)) {
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;
		__builtin_memcpy(&v, p, 8);
		c0 = _mm_crc32_u64(c0, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
	return (uint32_t)c0;
}
#endif

uint32_t ccompression_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	crc = ~crc;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(crc, p, len);
#endif
	return ~crc32c_sw(crc, p, len);
}

/* ---- LZ4 ------------------------------------------------------------- */

int ccompression_lz4_bound(int n) { return LZ4_compressBound(n); }

int ccompression_lz4_compress(const void *src, int src_len, void *dst, int dst_cap)
{
	return LZ4_compress_default(src, dst, src_len, dst_cap);
}

int ccompression_lz4_decompress(const void *src, int src_len, void *dst, int dst_cap)
{
	return LZ4_decompress_safe(src, dst, src_len, dst_cap);
}

/* ---- zstd ------------------------------------------------------------ */

size_t ccompression_zstd_bound(size_t n) { return ZSTD_compressBound(n); }

size_t ccompression_zstd_compress(const void *src, size_t src_len, void *dst, size_t dst_cap, int level)
{
	size_t r = ZSTD_compress(dst, dst_cap, src, src_len, level);
	return ZSTD_isError(r) ? 0 : r;
}

size_t ccompression_zstd_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap)
{
	size_t r = ZSTD_decompress(dst, dst_cap, src, src_len);
	return ZSTD_isError(r) ? (size_t)-1 : r;
}

struct ccompression_zstd_cctx { ZSTD_CCtx *cctx; };

ccompression_zstd_cctx *ccompression_zstd_cctx_create(void)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (!c)
		return 0;
	ccompression_zstd_cctx *ctx = (ccompression_zstd_cctx *)__builtin_malloc(sizeof(*ctx));
	if (!ctx) {
		ZSTD_freeCCtx(c);
		return 0;
	}
	ctx->cctx = c;
	return ctx;
}

void ccompression_zstd_cctx_free(ccompression_zstd_cctx *ctx)
{
	if (!ctx)
		return;
	ZSTD_freeCCtx(ctx->cctx);
	__builtin_free(ctx);
}

size_t ccompression_zstd_compress_cctx(ccompression_zstd_cctx *ctx, const void *src, size_t src_len,
                                       void *dst, size_t dst_cap, int level)
{
	size_t r = ZSTD_compressCCtx(ctx->cctx, dst, dst_cap, src, src_len, level);
	return ZSTD_isError(r) ? 0 : r;
}
