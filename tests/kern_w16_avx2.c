/* kern_w16_avx2.c - lib/kern_avx512bf16.c built for AVX2 (-mavx2 -mfma -mf16c, x86-64 only), with
 * the emulated pair-dot step in place of vdpbf16ps: the AVX512_BF16 set's code at its sizes
 * (16-float vectors, 8 x 32 tiles, the same packing), which test_bf16 checks bit for bit on any
 * CPU with AVX2. Only the instruction itself (kern_impl_bf16.h's native dpbf16) is left to
 * the CPUs that have it. */
#if defined(__x86_64__)
#define KERN_BF16_NATIVE 0
#define KERN_SET kern_avx512bf16_on_avx2
#include "kern_avx512bf16.c"
#else
typedef int kern_w16_avx2_not_built;
#endif
