/* kern_avx512.c - the AVX-512 kernel set (built with -mavx512f/vl/bw/dq -mfma -mf16c on
 * x86-64 only). The code is kern_impl.h, the same source as the AVX2 set, with 16-float vectors and
 * 8 x 32 register tiles (16 accumulators of the 32 zmm registers). */
#include "kern.h"

#if defined(__x86_64__)
#define VW 16
#define MR 8
#define NV 2
#define KC 256
#include "kern_impl.h"

const kern_ops kern_avx512 = {
    "avx512", VW, gemm_nn, gemm_tn, gemm_nt, pack_b, gemm_nn_packed, gemv_packed,
    gemv_packed_f16, lstm_cell_fwd, lstm_cell_bwd,
    gru_cell_fwd, gru_cell_bwd, ln_fwd, ln_bwd, softmax, gemv_packed_rows,
    gemv_packed_rows_f16, pack_b_bf16, gemm_nn_bf16, gemm_tn_bf16, KERN_BF16_NATIVE,
};
#else
typedef int kern_avx512_not_built;
#endif
