/* Compression and checksums for segments and Parquet pages: liblz4, libzstd
 * and a CRC32C (Castagnoli) that uses the SSE4.2 instruction when present. */
#ifndef C_COMPRESSION_H
#define C_COMPRESSION_H
#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf[0..len), continuing from `crc` (pass 0 to start).
 * Standard CRC-32C: reflected, init/xorout 0xFFFFFFFF; crc32c("123456789") = 0xE3069283. */
uint32_t ccompression_crc32c(uint32_t crc, const void *buf, size_t len);

/* LZ4 block format (no frame). Bound on the compressed size of n bytes. */
int ccompression_lz4_bound(int n);
/* Compresses src into dst (capacity dst_cap). Returns bytes written, 0 on failure. */
int ccompression_lz4_compress(const void *src, int src_len, void *dst, int dst_cap);
/* Decompresses exactly into dst (capacity dst_cap). Returns bytes written, or
 * a negative number if the input is malformed. Never reads or writes out of bounds. */
int ccompression_lz4_decompress(const void *src, int src_len, void *dst, int dst_cap);

/* zstd single-shot. Bound on the compressed size of n bytes. */
size_t ccompression_zstd_bound(size_t n);
/* Returns bytes written, or 0 on failure (ZSTD_isError). */
size_t ccompression_zstd_compress(const void *src, size_t src_len, void *dst, size_t dst_cap, int level);
/* Returns bytes written, or SIZE_MAX on a malformed frame or too small dst. */
size_t ccompression_zstd_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap);

/* A reusable zstd compression context (faster than single-shot for many pages). */
typedef struct ccompression_zstd_cctx ccompression_zstd_cctx;
ccompression_zstd_cctx *ccompression_zstd_cctx_create(void);
void ccompression_zstd_cctx_free(ccompression_zstd_cctx *ctx);
size_t ccompression_zstd_compress_cctx(ccompression_zstd_cctx *ctx, const void *src, size_t src_len,
                                       void *dst, size_t dst_cap, int level);
#endif
