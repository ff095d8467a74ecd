/* kern_avx512bf16.c - the AVX-512 kernel set with AVX512_BF16 (built with the AVX-512 set's
 * flags and -mavx512bf16, on x86-64 only): kern_impl.h at the AVX-512 set's sizes, its bf16
 * products on vdpbf16ps itself (KERN_BF16_NATIVE 1: kern_impl_bf16.h's dpbf16). Everything else
 * is the AVX-512 set's code; tests/kern_w16_avx2.c builds this file for AVX2 with the emulated
 * step, so that every part of it but the one instruction runs, and is tested, on any AVX2 CPU. */
#include "kern.h"

#if defined(__x86_64__)
#define VW 16
#define MR 8
#define NV 2
#define KC 256
#ifndef KERN_BF16_NATIVE
#define KERN_BF16_NATIVE 1
#endif
#ifndef KERN_SET
#define KERN_SET kern_avx512bf16
#endif
#include "kern_impl.h"

const kern_ops KERN_SET = {
    "avx512bf16", VW, gemm_nn, gemm_tn, gemm_nt, pack_b, gemm_nn_packed, gemv_packed,
    gemv_packed_f16, lstm_cell_fwd, lstm_cell_bwd,
    gru_cell_fwd, gru_cell_bwd, ln_fwd, ln_bwd, softmax, gemv_packed_rows,
    gemv_packed_rows_f16, pack_b_bf16, gemm_nn_bf16, gemm_tn_bf16, KERN_BF16_NATIVE,
};
#else
typedef int kern_avx512bf16_not_built;
#endif
