"""A pool of Python identifiers that are hostile to generated source, by class (see test_names_fuzz.py).

Each class is something a renderer's output also contains or its compiler predefines: C, OpenCL and
CUDA keywords, builtins, vector types and header macros; the C prelude's and the Python preludes'
own names; the Python renderers' imports and temporaries; Python builtins; unicode names, among them
names that NFKC-normalise together (Python itself normalises identifiers) and names that a naive
encoding of non-ASCII would map onto an ASCII name (``é`` and ``u_e9_``).
"""
from __future__ import annotations

import builtins
import keyword
import random
import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).parents[2]

C_KEYWORDS = """
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while bool true false class delete new namespace template this typename using operator
virtual private public protected friend catch try throw asm main NULL nullptr noexcept constexpr
decltype static_assert thread_local alignas alignof char16_t char32_t wchar_t mutable explicit export
final override std and or not xor bitand bitor compl and_eq or_eq xor_eq not_eq concept requires
co_await co_yield co_return consteval constinit reinterpret_cast static_cast dynamic_cast const_cast
typeid _Bool _Complex _Imaginary _Atomic _Alignas _Alignof _Static_assert _Noreturn _Generic
_Thread_local
""".split()

OPENCL = """
kernel __kernel global __global local __local constant __constant private __private read_only
write_only read_write __read_only image1d_t image2d_t image3d_t sampler_t event_t half size_t
ptrdiff_t intptr_t uintptr_t uchar ushort uint ulong get_global_id get_local_id get_group_id
get_global_size get_local_size get_num_groups get_work_dim get_global_offset barrier mem_fence
read_mem_fence write_mem_fence atomic_add atomic_sub atomic_min atomic_max atomic_cmpxchg atomic_xchg
atomic_inc atomic_dec atomic_and atomic_or atomic_xor atom_add atom_sub atom_min atom_max atom_cmpxchg
as_uint as_float as_ulong as_double as_int as_long convert_int convert_float convert_int_sat
vec_type_hint work_group_size_hint reqd_work_group_size select mad clamp fmin fmax nan mix step
smoothstep sign cross dot distance length normalize printf vload4 vstore4 vload_half native_sin
native_sqrt half_sqrt isequal isless isgreater any all bitselect shuffle upsample popcount clz rotate
mul24 mad24 hadd rhadd add_sat sub_sat abs_diff mad_hi mul_hi fract frexp ldexp modf remquo sincos
async_work_group_copy wait_group_events prefetch rsqrt exp10 cbrt tgamma lgamma logb ilogb nextafter
fdim maxmag minmag pown powr rootn atan2pi sinpi cospi
""".split()

CUDA = """
threadIdx blockIdx blockDim gridDim warpSize __syncthreads __syncwarp __threadfence atomicAdd
atomicSub atomicMin atomicMax atomicCAS atomicExch atomicInc atomicDec atomicAnd atomicOr atomicXor
__shfl_sync __ballot_sync __ldg __float_as_uint __uint_as_float __int_as_float __double_as_longlong
__longlong_as_double __fdividef __expf __sinf __saturatef __fmaf_rn __dadd_rn make_float4 make_int2
dim3 cudaError_t cudaStream_t __global__ __device__ __host__ __shared__ __constant__ __managed__
__restrict__ __forceinline__ __noinline__ __launch_bounds__ __align__ __int128 __nv_bool
__CUDA_ARCH__ __CUDACC__ __NVCC__ __CUDACC_RTC__ CUDART_INF_F CUDART_NAN longlong2 ulonglong2
""".split()

MACROS = """
M_PI M_PI_F M_E M_E_F M_SQRT2 M_LN2 M_LOG2E M_1_PI FLT_MAX FLT_MIN FLT_EPSILON FLT_DIG FLT_RADIX
FLT_MANT_DIG DBL_MAX DBL_MIN DBL_EPSILON INT_MAX INT_MIN UINT_MAX LONG_MAX LONG_MIN ULONG_MAX
CHAR_BIT CHAR_MAX CHAR_MIN SCHAR_MAX SCHAR_MIN UCHAR_MAX SHRT_MAX SHRT_MIN USHRT_MAX HUGE_VAL
HUGE_VALF MAXFLOAT INFINITY NAN FP_ILOGB0 FP_ILOGBNAN FP_FAST_FMA FP_FAST_FMAF CLK_LOCAL_MEM_FENCE
CLK_GLOBAL_MEM_FENCE CLK_NORMALIZED_COORDS_TRUE CLK_ADDRESS_CLAMP CLK_FILTER_NEAREST cl_khr_fp64
cl_khr_fp16 cl_khr_int64_base_atomics cl_khr_int64_extended_atomics cl_khr_global_int32_base_atomics
__OPENCL_VERSION__ __OPENCL_C_VERSION__ CL_VERSION_1_0 CL_VERSION_1_2 CL_VERSION_2_0
__ENDIAN_LITTLE__ __IMAGE_SUPPORT__ __FAST_RELAXED_MATH__ __EMBEDDED_PROFILE__ EOF assert offsetof
__LINE__ __FILE__ __DATE__ __TIME__ __func__ __attribute__ __STDC__ __STDC_VERSION__ __cplusplus
__x86_64__ __linux__ unix linux __GNUC__ __clang__ __SPIR__ __SPIR64__ __PTX__ INT8_MAX INT64_MIN
UINT64_MAX SIZE_MAX errno stdin stdout EXIT_SUCCESS RAND_MAX isnan isinf isfinite signbit fabs sqrt
sqrtf exp expf log logf pow powf sin cos tan fmod floor ceil trunc rint round lround fma copysign
hypot erf erfc min max abs labs llabs fminf fmaxf memcpy memset malloc free exit
""".split()

GENERATED = """
pk pk_dims pk_err pk_kernel pk_o0 pk_o1 pk_o2 pk_global_id0 pk_global_id1 pk_local_id0
pk_local_size0 pk_group_id0 pk_num_groups0 pk_global_size0 pk_stop1 pk_step1 pk_ndrange0
ndrange0 ndrange1 u_x w_x u_u_x w_w_x u_ w_ u w x_shape0 u_x_shape0 pk_x_shape0 pk_u_x_shape0
pk_min_f32 pk_max_f64 pk_floordiv_i32 pk_mod_i64 pk_i8_from_f64 pk_i32_from_f32 pk_range_next
pk_check1 pk_check2 pk_atomic_add_i32_global pk_abs_i32 pk_shl_i32 pk_shr_i64 pk_pow_i64 np numpy
math numba jnp jax lax cuda ops args kernel build C K0 K1 K2 alive _t0 _t1 _m0 _pk_kernel _pk_err _pk_chunk
_pk_g0 _pk_g1 _pk_n0 _pk_w0 _pk_l _pk_l0 _pk_r0 _pk_ng0 _pk_s _pk_step _pk_ret _pk_c _pk_cl _pk_o
_pk_q _pk_no _pk_nc _pk_ch _pk_b _pk_i _pk_t0 pk_t0 prange v_x a_x v_v_x a_a_x v_ a_ f2i_i64
floordiv_f64 imin imax rmw_add priv_add atomic_fadd pk_check written mask m lanes wide out ret done
i j k n x y z a b t v self cls
""".split()

COLLISIONS = ["_e9_", "é", "u_e9_", "u__e9_", "w_e9_", "w__e9_", "u_é", "w_é", "e9", "x_", "x__",
              "_", "__", "___", "_x", "__x", "x__x", "int_", "float_", "__init__", "__name__",
              "__builtins__", "__class__", "__dict__", "__file__", "__spec__", "__loader__"]

# names that NFKC-normalise to one identifier (Python normalises them while parsing): each one
# stands for its normal form, so kernels are assembled from distinct normal forms
UNICODE = ["β", "λ", "π", "Ω", "ñ", "ç", "ø", "ß", "变量", "名前", "переменная", "μ", "µ", "Å", "Å",
           "ﬁ", "fi", "ｘ", "ℌ", "H", "ᵢ", "Ⅸ", "IX", "x̂", "ŝ", "ǆ", "dž", "ªb", "ab", "𝔘", "𝕩", "ℯ",
           "ᾳ", "ﬀ", "ff", "ǅ", "Ǆ", "ｉｎｔ", "ｍａｘ", "ｓｅｌｅｃｔ", "ｐｋ", "㍱", "K", "K", "ℵ", "ℊ",
           "x_é", "é_x", "éé", "e\u0301", "Ｍ_ＰＩ", "ｆｌｏａｔ４", "ＦＬＴ＿ＭＡＸ"]


def _scraped() -> list[str]:
    """Top-level names of the Python preludes and lane-operation modules generated code calls."""
    files = [ROOT / "portakern/codegen/pyprelude.py", ROOT / "portakern/codegen/vector_ops.py",
             ROOT / "portakern/codegen/vector_numerics.py", *ROOT.glob("backends/portakern_*/prelude.py"),
             *ROOT.glob("backends/portakern_*/ops.py")]
    out: list[str] = []
    for f in files:
        if f.exists():
            for m in re.finditer(r"^(?:def |class )([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*[:=]", f.read_text(), re.M):
                out.append(m.group(1) or m.group(2))
    return out


def _vector_types() -> list[str]:
    bases = ["char", "uchar", "short", "ushort", "int", "uint", "long", "ulong", "float", "double",
             "half", "longlong", "ulonglong"]
    return [f"{b}{w}" for b in bases for w in (1, 2, 3, 4, 8, 16)] + ["int8", "int16", "uint8", "float32"]


def _random_unicode(count: int, seed: int = 12) -> list[str]:
    """Deterministic identifiers drawn from letters of several scripts."""
    rng = random.Random(seed)
    ranges = [(0x00C0, 0x024F), (0x0370, 0x03FF), (0x0400, 0x04FF), (0x05D0, 0x05EA), (0x0620, 0x064A),
              (0x4E00, 0x4FFF), (0x3041, 0x3096), (0xAC00, 0xAD00), (0x1D400, 0x1D4FF), (0xFF21, 0xFF5A)]
    out: list[str] = []
    while len(out) < count:
        n = rng.randint(1, 6)
        s = "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(n))
        if rng.random() < 0.3:
            s += rng.choice(["_", "1", "_x", "2_"])
        if s.isidentifier() and not keyword.iskeyword(unicodedata.normalize("NFKC", s)):
            out.append(s)
    return out


def pool(size: int = 1000) -> list[tuple[str, str]]:
    """(class, name) pairs, every class first in full, then random unicode up to ``size``; no
    Python keyword and no name of the reserved ``__pk_`` form."""
    classes = [("c-keyword", C_KEYWORDS), ("opencl", OPENCL), ("cuda", CUDA), ("macro", MACROS),
               ("vector-type", _vector_types()), ("generated", GENERATED), ("prelude", _scraped()),
               ("python-builtin", [n for n in dir(builtins) if n.isidentifier()]),
               ("collision", COLLISIONS), ("unicode", UNICODE)]
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for cls, names in classes:
        for n in names:
            if n not in seen and n.isidentifier() and not keyword.iskeyword(n) and n != "__debug__" \
                    and not unicodedata.normalize("NFKC", n).startswith("__pk_"):
                seen.add(n)
                out.append((cls, n))
    for n in _random_unicode(max(0, size - len(out)) + 50):
        if len(out) >= size:
            break
        if n not in seen:
            seen.add(n)
            out.append(("random-unicode", n))
    return out


def sample(per_class: int = 4) -> list[tuple[str, str]]:
    """A fast sample: the first ``per_class`` names of every class, plus every collision and
    NFKC-related name (the rarest classes)."""
    taken: dict[str, int] = {}
    out = []
    for cls, n in pool():
        if cls in ("collision", "unicode") or taken.get(cls, 0) < per_class \
                or n in ("select", "mad", "clamp", "fmin", "nan", "int8", "float4", "printf", "size_t",
                         "M_PI", "FLT_MAX", "INT_MAX", "CHAR_BIT", "HUGE_VAL", "CLK_LOCAL_MEM_FENCE",
                         "_Bool", "cl_khr_fp64"):
            taken[cls] = taken.get(cls, 0) + 1
            out.append((cls, n))
    return out
