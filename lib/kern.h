/* kern.h - the hot loops of the LSTM, one implementation per instruction set.
 *
 * Every implementation has the same functions behind a kern_ops table; kern_select() picks
 * the best one this CPU supports (CPUID), kern_choose() the one a name asks for ("scalar",
 * "avx2", "avx512", "avx512bf16": the AVX-512 set with its bf16 products on vdpbf16ps; the
 * tools take it from the environment variable CHARPIPE_KERNEL), and kern_limit() makes a
 * process act as if the CPU offered fewer sets (the tools' and tests' CHARPIPE_KERNELS). The
 * "scalar" set is portable C that builds anywhere; the others are compiled only for x86-64,
 * each in its own file with its own -m flags. Results of all sets agree with the
 * double-precision reference (tests/lstm_ref.h) to float rounding; tests/test_kern.c checks
 * every set this CPU can run.
 *
 * Matrices are row-major floats, leading dimensions in floats, pointers need no alignment.
 */
#ifndef CHARPIPE_KERN_H
#define CHARPIPE_KERN_H

#include <stddef.h>
#include <stdint.h>

/* One-row products (generation) read their matrix B (k, n) packed by kern_pack_gemv, the same
 * layout for every set: the columns in panels of KERN_GEMV_P (the last one zero-padded), each
 * panel k rows of KERN_GEMV_P contiguous values, so the product streams B once from start to
 * end. kern_gemv_size(k, n) values; kern_pack_gemv_f16 stores them as IEEE half precision
 * (round to nearest even), half the bytes to read per step. */
enum { KERN_GEMV_P = 32 };
size_t kern_gemv_size(int k, int n);
void kern_pack_gemv(int k, int n, const float *B, int ldb, float *Bp);
void kern_pack_gemv_f16(int k, int n, const float *B, int ldb, uint16_t *Bp);
/* IEEE half <-> float, portable C (what F16C's vcvtps2ph / vcvtph2ps compute). */
uint16_t kern_f16_from_float(float f);
float kern_f16_to_float(uint16_t h);

/* bf16 products. bfloat16 (bf16) is the upper half of an IEEE float: sign, 8 exponent bits, 7
 * fraction bits. AVX512_BF16's vdpbf16ps multiplies pairs of bf16 values and adds both products
 * into a float, twice the products of a float FMA per instruction; the bf16 training path
 * (lstm.h's LSTM_BF16) takes its products that way. The functions below are the instruction's
 * semantics in portable C: the scalar set's bf16 path and the oracle every set is checked
 * against bit for bit (tests/test_bf16.c). They follow Intel's pseudo-code (Intel Architecture
 * Instruction Set Extensions and Future Features Programming Reference, May 2019: VDPBF16PS,
 * VCVTNEPS2BF16, VCVTNE2PS2BF16), as Bochs's emulation reads it (cpu/avx/avx512_bf16.cc on
 * SoftFloat 3e, which detects a tiny result after rounding, as x86 does):
 *   kern_bf16_from_float  vcvtneps2bf16: round to nearest, ties to even (a carry into the
 *                         exponent rounds to infinity); zero and denormal inputs become a zero
 *                         of their sign; infinity stays; a NaN keeps its upper half, made quiet
 *   kern_bf16_fma         one of vdpbf16ps's two multiply-adds: a b + c rounded once to nearest
 *                         even, and a result that is tiny (below 2^-126 once rounded to 24 bits
 *                         with an unbounded exponent) flushed to a zero of its sign; a, b, c
 *                         are not denormal (the instruction flushes its inputs first)
 *   kern_bf16_dot         one lane of vdpbf16ps: a and b each hold a pair of bf16, element 0 in
 *                         the low half; acc + a1 b1 is rounded first, then + a0 b0, every input
 *                         (acc too) treated as zero when denormal
 * The pair's products are exact in float (8-bit significands) and the instruction ignores MXCSR.
 * NaN results are NaN; their sign and payload are not specified (tests take NaN as NaN). */
uint16_t kern_bf16_from_float(float f);
float kern_bf16_to_float(uint16_t h);
float kern_bf16_fma(float a, float b, float c);
float kern_bf16_dot(float acc, uint32_t a, uint32_t b);

/* The sets' bf16 products compute C (m, n) += A . B with every value of A and B rounded to bf16
 * (kern_bf16_from_float) and these sums: element (i, j) takes the k terms in pairs (2p, 2p + 1),
 * an odd k padded with a zero, and the pairs in blocks of KERN_BF16_KB; each block's sum starts
 * at +0, takes its pairs in order (acc = kern_bf16_dot(acc, A's pair, B's pair)), and is then
 * added to C (a float add). So every set, the emulations and the instruction, gives the same
 * bits. A matrix packed for them (pack_b_bf16) holds kern_bf16_pack_size(k, n) 32-bit words:
 * KERN_BF16_HEAD words of the set's own, then the pairs in the set's order; the products need a
 * workspace of kern_bf16_work_size(m, n, k) bytes (64-byte aligned). */
enum { KERN_BF16_KB = 256, KERN_BF16_HEAD = 16 };
size_t kern_bf16_pack_size(int k, int n);
size_t kern_bf16_work_size(int m, int n, int k);

typedef struct kern_ops {
    const char *name;
    int width;                          /* floats per vector register */

    /* C (m, n) += A (m, k) . B (k, n) */
    void (*gemm_nn)(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc);
    /* C (m, n) += A^T . B,  A is (k, m) */
    void (*gemm_tn)(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc);
    /* C (m, n) += A . B^T,  B is (n, k) */
    void (*gemm_nt)(int m, int n, int k, const float *A, int lda,
                    const float *B, int ldb, float *C, int ldc);

    /* Copy B (k, n) into Bp (k * n floats) in the order gemm_nn_packed reads it. For a B that
     * many products use (the recurrent kernel over the T steps of a batch), packing once
     * saves each product from reorganising B itself. */
    void (*pack_b)(int k, int n, const float *B, int ldb, float *Bp);
    /* C (m, n) += A (m, k) . B (k, n), B given packed by pack_b */
    void (*gemm_nn_packed)(int m, int n, int k, const float *A, int lda, const float *Bp,
                           float *C, int ldc);

    /* y (n) = y0 (n) + x (k) . B (k, n), B packed by kern_pack_gemv; y0 may be y. The
     * products of a generation step (one row): several sums in flight hide the FMA latency. */
    void (*gemv_packed)(int n, int k, const float *x, const float *Bp, const float *y0,
                        float *y);
    /* The same with B packed by kern_pack_gemv_f16, converted to float as it is read (F16C
     * on x86-64; the scalar set converts in C). */
    void (*gemv_packed_f16)(int n, int k, const float *x, const uint16_t *Bp, const float *y0,
                            float *y);

    /* LSTM cell forward for b rows. z (b, 4H) holds pre-activations in gate order i,f,c,o and
     * is overwritten with the activations i, f, g, o. c_prev (b, H) may be NULL (zeros).
     * Writes c (b, H) and h (b, H); c may be the same array as c_prev (updated in place). */
    void (*lstm_cell_fwd)(int b, int H, float *z, const float *c_prev, float *c, float *h);

    /* LSTM cell backward for b rows. act (b, 4H) holds the activations i, f, g, o from the
     * forward pass and is overwritten with dz, the gradient of the pre-activations.
     * c_prev (b, H) (NULL = zeros), c (b, H) from the forward pass; dh (b, H) is the
     * gradient arriving at h_t; dc (b, H) holds the gradient arriving at c_t from step t+1
     * on entry and the gradient for c_{t-1} on return. */
    void (*lstm_cell_bwd)(int b, int H, float *act, const float *c_prev, const float *c,
                          const float *dh, float *dc);

    /* GRU cell forward for b rows (lstm.h gives the math). a (b, 3H) holds the input
     * pre-activations (input projection + input bias) in gate order z, r, h and is
     * overwritten with the activations z, r, n; u (b, 3H) holds the recurrent pre-activations
     * h_prev . recurrent + recurrent bias (read only: the backward pass needs u_h). h_prev
     * (b, H) may be NULL (zeros); h (b, H) is written and may be the same array as h_prev. */
    void (*gru_cell_fwd)(int b, int H, float *a, const float *u, const float *h_prev, float *h);

    /* GRU cell backward for b rows. act (b, 3H) holds z, r, n from the forward pass and is
     * overwritten with the gradient of the input pre-activations a; u (b, 3H) holds the
     * recurrent pre-activations and is overwritten with their gradient; h_prev (b, H) may be
     * NULL (zeros); dh (b, H) holds the gradient arriving at h_t and is overwritten with
     * dh * z, the part of the gradient for h_{t-1} that does not pass through the recurrent
     * kernel (the caller adds du . recurrent^T). */
    void (*gru_cell_bwd)(int b, int H, float *act, float *u, const float *h_prev, float *dh);

    /* Layer norm of the lnlstm (lstm.h): s (b, 4H) holds b rows of 4 gate blocks of H; each
     * block becomes gamma * shat + bias with shat = (s - mean) / sqrt(var + 1e-5) over its H
     * values (gamma, bias (4H)), in place. shat (b, 4H) and rstd (b, 4) (1 / sqrt(var + 1e-5)
     * of each block) are written for the backward pass unless NULL. */
    void (*ln_fwd)(int b, int H, float *s, const float *gamma, const float *bias, float *shat,
                   float *rstd);
    /* Its backward: dz (b, 4H) the gradient at the output -> the gradient at s, in place;
     * dgamma and dbias (4H) accumulate dz * shat and dz. */
    void (*ln_bwd)(int b, int H, float *dz, const float *gamma, const float *shat,
                   const float *rstd, float *dgamma, float *dbias);

    /* Softmax at a temperature for generation: x (n) = exp(s (x - max)) / sum over x, in
     * place (s = 1 / temperature > 0); returns the index of the first maximum. The vector
     * sets use the cells' exp (relative error < 1e-8 before rounding). */
    int (*softmax)(int n, float *x, float s);

    /* Y (m, n) = Y0 + X (m, k) . B, B packed by kern_pack_gemv: m rows at once (batched
     * generation), X rows ldx apart, Y rows ldy apart, Y0 rows ldy0 apart (0: the same row
     * for every row of Y; Y0 may be Y with ldy0 = ldy). Each row of Y is bit for bit what
     * gemv_packed gives for that row alone (the same sums in the same order), so a sample
     * does not depend on the batch it is in; B is read once for a group of rows. */
    void (*gemv_packed_rows)(int m, int n, int k, const float *X, int ldx, const float *Bp,
                             const float *Y0, int ldy0, float *Y, int ldy);
    /* The same with B packed by kern_pack_gemv_f16 (bit for bit gemv_packed_f16's rows). */
    void (*gemv_packed_rows_f16)(int m, int n, int k, const float *X, int ldx,
                                 const uint16_t *Bp, const float *Y0, int ldy0, float *Y,
                                 int ldy);

    /* The bf16 products (above). pack_b_bf16: Bp (kern_bf16_pack_size(k, n) words) = B (k, n)
     * rounded and packed as this set's gemm_nn_bf16 reads it (a weight matrix, once a step). */
    void (*pack_b_bf16)(int k, int n, const float *B, int ldb, uint32_t *Bp);
    /* C (m, n) += A (m, k) . B, B packed by pack_b_bf16 (A rounded as it is read) */
    void (*gemm_nn_bf16)(int m, int n, int k, const float *A, int lda, const uint32_t *Bp,
                         float *C, int ldc, void *work);
    /* C (m, n) += A^T . B,  A is (k, m), B (k, n): a weight gradient, summed over k rows */
    void (*gemm_tn_bf16)(int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                         float *C, int ldc, void *work);
    int bf16_native;                    /* 1: they run on vdpbf16ps; 0: on an exact emulation */
} kern_ops;

/* The best set for this CPU (within kern_limit's list). */
const kern_ops *kern_select(void);

/* The set with this name (NULL or "" = kern_select()), or NULL if it is unknown or this CPU
 * cannot run it, with "NAME: unknown or not supported by this CPU (this CPU runs: avx2
 * scalar)" in err (cap bytes; err may be NULL); or NULL if kern_limit left it out, with
 * "NAME: not among the allowed kernel sets (allowed: avx2 scalar)". */
const kern_ops *kern_choose(const char *name, char *err, size_t cap);

/* The set with this name if it was built, this CPU can run it and kern_limit allows it,
 * else NULL. */
const kern_ops *kern_get(const char *name);

/* Allow only the sets named in list, comma-separated ("scalar,avx2"), as on a CPU that
 * offered no others: kern_select, kern_choose and kern_get then leave the rest out. The
 * scalar set is always allowed (every CPU runs it); a named set this CPU cannot run stays
 * out. NULL or "" allows every set again. Returns 0, or -1 with "NAME: unknown kernel set
 * (built: avx512 avx2 scalar)" in err (cap bytes; may be NULL) and the limit unchanged.
 * Process-wide: call it before choosing a set, not while other threads choose one. */
int kern_limit(const char *list, char *err, size_t cap);

/* Why set k cannot be used here: NULL if it can, else "this CPU cannot run it" or "left
 * out by the limit on kernel sets" (kern_limit). */
const char *kern_unusable(const kern_ops *k);

/* All sets built into this binary, NULL-terminated (for tests and benchmarks; check
 * kern_get before running one). */
extern const kern_ops *const kern_all[];

#endif
