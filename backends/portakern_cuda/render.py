"""CUDA C (NVRTC) as data for the one C-family renderer. Pure: imports no framework."""
from __future__ import annotations

from portakern.codegen.cfamily import CFamilyRenderer
from portakern.codegen.subgroup_tree import reductions_as_shuffles
from portakern.ir import nodes as ir
from portakern.ir.nodes import Op

_ULL = "unsigned long long"
_FULL = "0xffffffffu"   # every lane: sub-group operations are reached by the whole work-group

#: NVRTC options of docs/semantics.md: no contraction into FMA, no flush-to-zero, IEEE division and sqrt.
NVRTC_OPTIONS = ("--fmad=false", "--ftz=false", "--prec-div=true", "--prec-sqrt=true", "-std=c++17")


class CudaRenderer(CFamilyRenderer):
    """CUDA C++: no address spaces, blockIdx/threadIdx, atomicAdd/atomicCAS."""

    dialect = "CUDA C++"
    backend = "cuda"
    kernel_qual = 'extern "C" __global__'
    fn_qual = "static __device__ __forceinline__"
    type_names = {"bool_": "bool", "int8": "signed char", "int16": "short", "int32": "int",
                  "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short",
                  "uint32": "unsigned int", "uint64": _ULL, "float32": "float", "float64": "double"}
    space_qual = {"global": "", "local": "", "private": ""}
    local_decl = "__shared__ "
    dynamic_local = "extern __shared__ __align__({A}) unsigned char pk_dyn[];"
    readonly_restrict = " __restrict__"   # pk.constant: read-only, never aliased by an output (checked at launch)
    hw_dims = ("x", "y", "z")
    index_templates = {
        Op.GLOBAL_ID: "(({L})blockIdx.{h} * blockDim.{h} + threadIdx.{h})",
        Op.LOCAL_ID: "(({L})threadIdx.{h})",
        Op.GROUP_ID: "(({L})blockIdx.{h})",
        Op.LOCAL_SIZE: "(({L})blockDim.{h})",
        Op.NUM_GROUPS: "(({L})gridDim.{h})",
    }
    barrier = "__syncthreads();"
    header = ()
    f32_math_suffix = "f"
    specials = {("float32", "inf"): "__int_as_float(0x7f800000)",
                ("float32", "nan"): "__int_as_float(0x7fc00000)",
                ("float64", "inf"): "__longlong_as_double(0x7ff0000000000000LL)",
                ("float64", "nan"): "__longlong_as_double(0x7ff8000000000000LL)"}
    int64_suffix = "LL"
    native_atomics = {
        **{("add", t): "atomicAdd({p}, {v})" for t in ("int32", "uint32", "uint64", "float32", "float64")},
        **{("sub", t): "atomicSub({p}, {v})" for t in ("int32", "uint32")},
        **{(op, t): f"atomic{op.title()}({{p}}, {{v}})"
           for op in ("min", "max") for t in ("int32", "uint32", "int64", "uint64")},
        ("add", "int64"): f"(long long)atomicAdd(({_ULL}*){{p}}, ({_ULL}){{v}})",
        ("sub", "int64"): f"(long long)atomicAdd(({_ULL}*){{p}}, 0ULL - ({_ULL}){{v}})",
        ("sub", "uint64"): "atomicAdd({p}, 0ULL - {v})",
        ("sub", "float32"): "atomicAdd({p}, -{v})",     # a - b == a + (-b) exactly in IEEE
        ("sub", "float64"): "atomicAdd({p}, -{v})",
        **{(op, t): f"atomic{op.title()}({{p}}, {{v}})" for op in ("and", "or", "xor")
           for t in ("int32", "uint32", "uint64")},
        **{(op, "int64"): f"(long long)atomic{op.title()}(({_ULL}*){{p}}, ({_ULL}){{v}})"
           for op in ("and", "or", "xor")},
        **{("xchg", t): "atomicExch({p}, {v})" for t in ("int32", "uint32", "uint64", "float32")},
        ("xchg", "int64"): f"(long long)atomicExch(({_ULL}*){{p}}, ({_ULL}){{v}})",
    }
    cas = {32: "atomicCAS({p}, {cmp}, {val})", 64: "atomicCAS({p}, {cmp}, {val})"}
    bitcast = {"float32": ("__float_as_uint({x})", "__uint_as_float({x})"),
               "float64": (f"({_ULL})__double_as_longlong({{x}})", "__longlong_as_double((long long)({x}))")}
    atomic_volatile = ""
    atomic_fence = "__threadfence();\n"
    subgroup_templates = {
        Op.SUBGROUP_SHUFFLE: f"__shfl_sync({_FULL}, {{v}}, (int)(({{a}}) & 31))",
        Op.SUBGROUP_SHUFFLE_UP: f"__shfl_up_sync({_FULL}, {{v}}, (unsigned)(({{a}}) & 31))",
        Op.SUBGROUP_SHUFFLE_DOWN: f"__shfl_down_sync({_FULL}, {{v}}, (unsigned)(({{a}}) & 31))",
        Op.SUBGROUP_SHUFFLE_XOR: f"__shfl_xor_sync({_FULL}, {{v}}, (int)(({{a}}) & 31))",
        Op.SUBGROUP_ANY: f"__any_sync({_FULL}, {{v}})",
        Op.SUBGROUP_ALL: f"__all_sync({_FULL}, {{v}})",
    }

    def render(self, kernel: ir.Kernel) -> str:
        """CUDA C++ with sub-group reductions written as warp shuffles in the documented tree order."""
        return super().render(reductions_as_shuffles(kernel))
