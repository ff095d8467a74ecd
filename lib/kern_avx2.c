/* kern_avx2.c - the AVX2 + FMA kernel set (built with -mavx2 -mfma -mf16c on x86-64 only).
 * The code is kern_impl.h with 8-float vectors and 6 x 16 register tiles (12 accumulators);
 * its bf16 products are the emulation, in 4 x 16 tiles. */
#include "kern.h"

#if defined(__x86_64__)
#define VW 8
#define MR 6
#define NV 2
#define KC 256
#define MRB 4        /* bf16 tiles of 4 x 16: the emulated step's unpacked pairs need registers */
#include "kern_impl.h"

const kern_ops kern_avx2 = {
    "avx2", VW, gemm_nn, gemm_tn, gemm_nt, pack_b, gemm_nn_packed, gemv_packed,
    gemv_packed_f16, lstm_cell_fwd, lstm_cell_bwd,
    gru_cell_fwd, gru_cell_bwd, ln_fwd, ln_bwd, softmax, gemv_packed_rows,
    gemv_packed_rows_f16, pack_b_bf16, gemm_nn_bf16, gemm_tn_bf16, KERN_BF16_NATIVE,
};
#else
typedef int kern_avx2_not_built;       /* not x86-64: nothing here (kern.c does not list it) */
#endif
