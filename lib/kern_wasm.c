/* kern_wasm.c - the WebAssembly SIMD kernel set "simd128" (built by make wasm with -msimd128,
 * into the page's SIMD build only). The code is kern_impl.h with 4-float vectors and 4 x 8
 * register tiles: the same source as the x86 sets. WebAssembly SIMD has no fused multiply-add,
 * so a * b + c rounds twice, as in the scalar set; the sums are grouped as in the other vector
 * sets, so results differ from the scalar set's by float rounding. Its bf16 products are the
 * exact emulation of vdpbf16ps (kern_impl_bf16.h), each FMA lane by lane. */
#include "kern.h"

#if defined(__wasm_simd128__)
#define VW 4
#define MR 4
#define NV 2
#define KC 256
#include "kern_impl.h"

const kern_ops kern_simd128 = {
    "simd128", VW, gemm_nn, gemm_tn, gemm_nt, pack_b, gemm_nn_packed, gemv_packed,
    gemv_packed_f16, lstm_cell_fwd, lstm_cell_bwd,
    gru_cell_fwd, gru_cell_bwd, ln_fwd, ln_bwd, softmax, gemv_packed_rows,
    gemv_packed_rows_f16, pack_b_bf16, gemm_nn_bf16, gemm_tn_bf16, KERN_BF16_NATIVE,
};
#else
typedef int kern_wasm_not_built;       /* not WebAssembly SIMD: nothing here (kern.c does not list it) */
#endif
