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

/* The crc32 instruction has a latency of 3 cycles and a throughput of 1, so one dependent
 * stream runs at a third of its speed. Long inputs are cut into three equal spans whose CRCs
 * run interleaved, then combined: the register of A||B is shift(register of A, |B|) xor the
 * register of B started from 0, and shift by a fixed length is a linear map on 32 bits,
 * tabulated once per span length (GF(2) matrix powers, as in Mark Adler's crc32c.c). */
#define CRC32C_LONG 8192
#define CRC32C_SHORT 256

static uint32_t crc32c_long[4][256];
static uint32_t crc32c_short[4][256];
static int crc32c_shift_ready;

static uint32_t gf2_matrix_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;
	while (vec) {
		if (vec & 1)
			sum ^= *mat;
		vec >>= 1;
		mat++;
	}
	return sum;
}

static void gf2_matrix_square(uint32_t *square, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		square[n] = gf2_matrix_times(mat, mat[n]);
}

/* The operator that feeds `len` zero bytes (len a power of two ≥ 4) through the register. */
static void crc32c_zeros_op(uint32_t *even, size_t len)
{
	uint32_t odd[32];
	odd[0] = CRC32C_POLY_REFLECTED; /* one zero bit */
	uint32_t row = 1;
	for (int n = 1; n < 32; n++) {
		odd[n] = row;
		row <<= 1;
	}
	gf2_matrix_square(even, odd); /* two zero bits */
	gf2_matrix_square(odd, even); /* four */
	do {
		gf2_matrix_square(even, odd);
		len >>= 1;
		if (len == 0)
			return;
		gf2_matrix_square(odd, even);
		len >>= 1;
	} while (len);
	for (int n = 0; n < 32; n++)
		even[n] = odd[n];
}

static void crc32c_zeros(uint32_t zeros[][256], size_t len)
{
	uint32_t op[32];
	crc32c_zeros_op(op, len);
	for (uint32_t n = 0; n < 256; n++) {
		zeros[0][n] = gf2_matrix_times(op, n);
		zeros[1][n] = gf2_matrix_times(op, n << 8);
		zeros[2][n] = gf2_matrix_times(op, n << 16);
		zeros[3][n] = gf2_matrix_times(op, n << 24);
	}
}

static uint32_t crc32c_shift(uint32_t zeros[][256], uint32_t crc)
{
	return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

static void crc32c_init_shift(void)
{
	crc32c_zeros(crc32c_long, CRC32C_LONG);
	crc32c_zeros(crc32c_short, CRC32C_SHORT);
	__atomic_store_n(&crc32c_shift_ready, 1, __ATOMIC_RELEASE);
}

/* Three spans of `span` bytes at p, interleaved, folded into crc; p advances by 3 × span. */
__attribute__((target("sse4.2")))
static uint64_t crc32c_hw_triple(uint64_t crc0, const uint8_t **p, size_t span, uint32_t zeros[][256])
{
	uint64_t crc1 = 0, crc2 = 0;
	const uint8_t *next = *p, *end = next + span;
	do {
		uint64_t a, b, c;
		__builtin_memcpy(&a, next, 8);
		__builtin_memcpy(&b, next + span, 8);
		__builtin_memcpy(&c, next + 2 * span, 8);
		crc0 = _mm_crc32_u64(crc0, a);
		crc1 = _mm_crc32_u64(crc1, b);
		crc2 = _mm_crc32_u64(crc2, c);
		next += 8;
	} while (next < end);
	crc0 = crc32c_shift(zeros, (uint32_t)crc0) ^ crc1;
	crc0 = crc32c_shift(zeros, (uint32_t)crc0) ^ crc2;
	*p = next + 2 * span;
	return crc0;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	if (!__atomic_load_n(&crc32c_shift_ready, __ATOMIC_ACQUIRE))
		crc32c_init_shift();
	uint64_t c0 = crc;
	while (len && ((uintptr_t)p & 7)) {
		c0 = _mm_crc32_u8((uint32_t)c0, *p++);
		len--;
	}
	while (len >= 3 * CRC32C_LONG) {
		c0 = crc32c_hw_triple(c0, &p, CRC32C_LONG, crc32c_long);
		len -= 3 * CRC32C_LONG;
	}
	while (len >= 3 * CRC32C_SHORT) {
		c0 = crc32c_hw_triple(c0, &p, CRC32C_SHORT, crc32c_short);
		len -= 3 * CRC32C_SHORT;
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
