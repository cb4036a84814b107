"""OpenCL C 1.2 as data for the one C-family renderer. Pure: imports no framework."""
from __future__ import annotations

from portakern.codegen.barrier_ifs import hoist_barriers_out_of_ifs
from portakern.codegen.cfamily import CFamilyRenderer
from portakern.codegen.subgroup_local import lower_subgroups_to_local
from portakern.ir import nodes as ir
from portakern.ir.nodes import Op

_I64X = "cl_khr_int64_extended_atomics"


class OpenCLRenderer(CFamilyRenderer):
    """OpenCL C 1.2: address-space qualifiers, get_*_id builtins, atomic_* / atom_* atomics."""

    dialect = "OpenCL C 1.2"
    backend = "opencl"
    kernel_qual = "__kernel"
    fn_qual = "static inline"
    type_names = {"bool_": "bool", "int8": "char", "int16": "short", "int32": "int", "int64": "long",
                  "uint8": "uchar", "uint16": "ushort", "uint32": "uint", "uint64": "ulong",
                  "float32": "float", "float64": "double"}
    space_qual = {"global": "__global ", "local": "__local ", "private": ""}
    local_decl = "__local "
    local_args = True                 # a local array sized at launch is a __local kernel argument
    constant_qual = "__constant "     # a pk.constant array that fits the device's constant memory
    index_templates = {
        Op.GLOBAL_ID: "(({L})get_global_id({h}))",
        Op.LOCAL_ID: "(({L})get_local_id({h}))",
        Op.GROUP_ID: "(({L})get_group_id({h}))",
        Op.LOCAL_SIZE: "(({L})get_local_size({h}))",
        Op.NUM_GROUPS: "(({L})get_num_groups({h}))",
    }
    barrier = "barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);"
    barrier_local = "barrier(CLK_LOCAL_MEM_FENCE);"
    pack_dims = True                  # PoCL: fewer kernel arguments launch markedly faster
    # docs/semantics.md: without this pragma OpenCL may contract a*b+c into an fma.
    header = ("#pragma OPENCL FP_CONTRACT OFF",)
    fp64_pragmas = ("#pragma OPENCL EXTENSION cl_khr_fp64 : enable",)
    atomic64_pragmas = ("#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable",
                        "#if defined(cl_khr_int64_extended_atomics)\n"
                        "#pragma OPENCL EXTENSION cl_khr_int64_extended_atomics : enable\n#endif")
    specials = {("float32", "inf"): "INFINITY", ("float32", "nan"): "NAN",
                ("float64", "inf"): "((double)INFINITY)", ("float64", "nan"): "((double)NAN)"}
    int64_suffix = "L"
    native_atomics = {
        **{(op, t): f"atomic_{op}({{p}}, {{v}})"
           for op in ("add", "sub", "min", "max") for t in ("int32", "uint32")},
        **{(op, t): f"atom_{op}({{p}}, {{v}})" for op in ("add", "sub") for t in ("int64", "uint64")},
        **{(op, t): (_I64X, f"atom_{op}({{p}}, {{v}})") for op in ("min", "max") for t in ("int64", "uint64")},
        **{(op, t): f"atomic_{op}({{p}}, {{v}})" for op in ("and", "or", "xor") for t in ("int32", "uint32")},
        **{(op, t): (_I64X, f"atom_{op}({{p}}, {{v}})") for op in ("and", "or", "xor") for t in ("int64", "uint64")},
        **{("xchg", t): "atomic_xchg({p}, {v})" for t in ("int32", "uint32", "float32")},
        **{("xchg", t): "atom_xchg({p}, {v})" for t in ("int64", "uint64")},   # base atomics
    }
    cas = {32: "atomic_cmpxchg({p}, {cmp}, {val})", 64: "atom_cmpxchg({p}, {cmp}, {val})"}
    bitcast = {"float32": ("as_uint({x})", "as_float({x})"), "float64": ("as_ulong({x})", "as_double({x})")}
    atomic_volatile = "volatile "
    atomic_fence = "mem_fence(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE);\n"

    def render(self, kernel: ir.Kernel) -> str:
        """OpenCL C with every barrier outside ``if``s: PoCL hangs on some conditional barriers
        (docs/backends/opencl.md, "PoCL and barriers inside if"), and sub-group operations
        exchanged through local memory (PoCL has no sub-group extension)."""
        return super().render(hoist_barriers_out_of_ifs(lower_subgroups_to_local(kernel)))

    def fp32_options(self) -> list[str]:
        """Build options that keep float32 division and sqrt correctly rounded (docs/semantics.md)."""
        return ["-cl-fp32-correctly-rounded-divide-sqrt"]
