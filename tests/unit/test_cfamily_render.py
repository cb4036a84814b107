"""Structural properties of the C-family renderer's output (pure: no framework, no device)."""
from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from portakern.codegen.cabi import ENTRY_NAME, ERR_WORDS, launch_layout, mangle
from portakern.ir import nodes as ir
from portakern.types import SCALAR_TYPES, ArrayType, float32, int32, int64

sys.path.insert(0, str(Path(__file__).parent))
from test_cfamily_kernels import every_op_kernel, kernel_2d, keyword_kernel  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[2] / "backends"))
from portakern_cuda.render import NVRTC_OPTIONS, CudaRenderer  # noqa: E402
from portakern_opencl.render import OpenCLRenderer  # noqa: E402

RENDERERS = [OpenCLRenderer(), CudaRenderer()]


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.dialect)
def test_min_max_never_use_fmin_fmax_which_drop_nans(r):
    for t in (float32,):
        src = r.render(every_op_kernel(t)[0])
        assert not re.search(r"\bfmin[f]?\(|\bfmax[f]?\(", src)
        assert "pk_min_f32" in src and "pk_max_f32" in src


def test_opencl_source_turns_contraction_off_and_enables_fp64_only_when_used():
    r = OpenCLRenderer()
    f32 = r.render(every_op_kernel(float32)[0])
    f64 = r.render(every_op_kernel(SCALAR_TYPES[-1])[0])
    assert "#pragma OPENCL FP_CONTRACT OFF" in f32 and "#pragma OPENCL FP_CONTRACT OFF" in f64
    assert "cl_khr_fp64" not in r.render(kernel_2d())
    assert "#pragma OPENCL EXTENSION cl_khr_fp64 : enable" in f64


def test_nvrtc_options_forbid_fma_contraction_and_flush_to_zero():
    assert "--fmad=false" in NVRTC_OPTIONS and "--ftz=false" in NVRTC_OPTIONS
    assert not any("fast" in o for o in NVRTC_OPTIONS)


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.dialect)
def test_only_the_helpers_a_kernel_uses_are_emitted_each_once(r):
    src = r.render(kernel_2d())
    assert "pk_floordiv" not in src and "pk_atomic" not in src
    full = r.render(every_op_kernel(int32)[0])
    for helper in ("pk_floordiv_i32", "pk_mod_i32", "pk_shl_i32", "pk_shr_i32", "pk_pow_i32",
                   "pk_atomic_add_i32_global", "pk_i32_from_f32"):
        definitions = [ln for ln in full.splitlines() if ln.startswith(r.fn_qual) and f" {helper}(" in ln]
        assert len(definitions) == 1, helper


@pytest.mark.parametrize("r,want", [(OpenCLRenderer(), ("get_global_id(1)", "get_global_id(0)")),
                                    (CudaRenderer(), ("blockIdx.y", "blockIdx.x"))], ids=["opencl", "cuda"])
def test_last_pk_dimension_is_hardware_x(r, want):
    src = r.render(kernel_2d())
    i_line = next(ln for ln in src.splitlines() if " pk_global_id0 = " in ln)
    j_line = next(ln for ln in src.splitlines() if " pk_global_id1 = " in ln)
    assert want[0] in i_line and want[1] in j_line


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.dialect)
def test_padded_work_items_are_guarded_unless_the_kernel_has_barriers(r):
    guard = re.compile(r"if \(.*>= pk[._]ndrange0 \|\| .*>= pk[._]ndrange1\) return;")
    assert guard.search(r.render(kernel_2d()))
    barrier_kernel = every_op_kernel(int32)[0]
    assert barrier_kernel.uses_barrier and not re.search(r">= pk[._]ndrange", r.render(barrier_kernel))


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.dialect)
def test_user_names_live_behind_a_prefix_and_the_entry_name_is_fixed(r):
    src = r.render(keyword_kernel())
    params = src.split(f"void {ENTRY_NAME}(", 1)[1].split(")", 1)[0]
    for name in ("int", "float", "kernel", "threadIdx"):
        assert re.search(rf"\bu_{name}\b", params), name
    for name in ("pk_o0", "sqrt", "x_", "x__"):
        assert re.search(rf"\bu_{name}\b", src), name
    assert not re.search(r"\bfloat_?\(", src.split("*/", 1)[1])     # the kernel's Python name is no C name


def test_mangle_is_injective_and_gives_c_identifiers_outside_the_generated_namespace():
    names = ["int", "int_", "int__", "x", "x_", "pk_o1", "pk_o1_", "__x", "u_3b1_", "β", "kernel", "ok",
             "é", "u_e9_", "u__e9_", "w_e9_", "_e9_", "<lambda>", "a b", "a_20_b", "ᵢ", "x\u0301"]
    out = [mangle(n) for n in names]
    assert len(set(out)) == len(out)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", o) for o in out)
    assert all(o.startswith(("u_", "w_")) for o in out)
    assert mangle("é") != mangle("u_e9_")


def test_kernel_name_and_path_cannot_inject_into_the_c_header_comment():
    k = keyword_kernel()
    evil = "/tmp/x*/\n#define u_int 0\n/*"
    k = replace(k, name="a*/b\n#define x", loc=ir.Loc(evil, 3))
    for r in RENDERERS:
        src = r.render(k)
        header, rest = src.split("*/", 1)
        assert header.count("\n") == 2
        assert not any(ln.lstrip().startswith("#define") for ln in src.splitlines())
        assert "*/" not in rest.split(f"void {ENTRY_NAME}", 1)[0].replace("in pk_dims. */", "")


def test_launch_layout_lists_shapes_ndrange_and_error_buffer_in_order():
    k = every_op_kernel(int32, debug=True, grid_ndim=2)[0]
    unpacked = [kind for kind, _ in launch_layout(k, pack_dims=False)]
    assert unpacked == ["array", "shape", "array", "shape", "array", "shape", "shape", "array", "shape",
                        "shape", "array", "shape", "ndrange", "ndrange", "err"]
    packed = launch_layout(k, pack_dims=True)
    assert [kind for kind, _ in packed] == ["array"] * 5 + ["dims", "err"]
    assert packed[5][1] == [("shape", (0, 0)), ("shape", (1, 0)), ("shape", (2, 0)), ("shape", (2, 1)),
                            ("shape", (3, 0)), ("shape", (3, 1)), ("shape", (4, 0)), ("ndrange", 0),
                            ("ndrange", 1)]
    assert ERR_WORDS >= 2 + 2 * 8


def test_opencl_passes_every_extent_in_one_struct_and_cuda_one_parameter_each():
    k = kernel_2d()
    cl_src, cu_src = OpenCLRenderer().render(k), CudaRenderer().render(k)
    assert "typedef struct" in cl_src and "pk_dims pk)" in cl_src and "pk.u_out_shape1" in cl_src
    assert "long long pk_u_out_shape1" in cu_src and "long long pk_ndrange1" in cu_src


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.dialect)
def test_debug_kernels_check_every_access_through_the_error_buffer(r):
    src = r.render(every_op_kernel(float32, debug=True)[0])
    assert "pk_err" in src and "pk_check1(" in src and "pk_check2(" in src
    plain = r.render(every_op_kernel(float32)[0])
    assert "pk_err" not in plain and "pk_check" not in plain


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.dialect)
def test_float_constants_round_trip_exactly(r):
    import numpy as np

    for v in (0.1, -0.0, 1e-45, 3.4028234663852886e38, 16777217.0, float("inf"), float("-inf")):
        text = r.const(v, float32)
        if "inf" in str(v):
            continue
        lit = text.strip("()").rstrip("f")
        assert np.float32(lit) == np.float32(v) and np.signbit(np.float32(lit)) == np.signbit(np.float32(v))
    assert r.const(-2 ** 63, SCALAR_TYPES[4]).startswith("(-9223372036854775807")


def _barrier_kernel(body) -> object:
    from portakern.ir import nodes as ir
    from portakern.types import ArrayType, float32

    return ir.Kernel("b", (ir.Param("x", ArrayType(float32, 1)), ir.Param("out", ArrayType(float32, 1))),
                     tuple(body), (), ("out",), uses_barrier=True, uses_local=False)


def test_barrier_fences_global_memory_only_where_work_items_can_communicate_through_it():
    from portakern.codegen.cbarrier import barriers_needing_global_fence
    from portakern.ir import nodes as ir
    from portakern.types import ArrayType, float32, int64

    x, out = ir.ArrayRef("x", ArrayType(float32, 1)), ir.ArrayRef("out", ArrayType(float32, 1))
    zero = ir.Const(0, int64)
    read = ir.Evaluate(ir.Load(x, (zero,), float32))
    write = ir.Store(out, (zero,), ir.Const(1.0, float32))
    b1, b2 = ir.Barrier(), ir.Barrier()
    # reads before, the only write after the last barrier (a work-group reduction): no global fence
    assert barriers_needing_global_fence(_barrier_kernel([read, b1, read, b2, write])) == set()
    # a write before and a read after, even of another parameter (it may alias): fence
    assert barriers_needing_global_fence(_barrier_kernel([write, b1, read])) == {id(b1)}
    # in a loop, a write after the barrier comes before it on the next iteration: fence
    loop = ir.For(ir.Var("k", int64), zero, ir.Const(4, int64), ir.Const(1, int64), (read, b1, write))
    assert barriers_needing_global_fence(_barrier_kernel([loop])) == {id(b1)}
    src = OpenCLRenderer().render(_barrier_kernel([read, b1, write, b2, read]))
    assert src.count("barrier(CLK_LOCAL_MEM_FENCE);") == 1
    assert src.count("barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);") == 1


def _range_kernel(start: int, step: int | None) -> tuple:
    """``for k in range(start, out.shape[0], step): out[k] = k`` (``step`` None: a runtime step)."""
    out = ir.ArrayRef("out", ArrayType(int64, 1))
    stepv = ir.ArrayRef("steps", ArrayType(int64, 1))
    k = ir.Var("k", int64)
    step_e = ir.Load(stepv, (ir.Const(0, int64),), int64) if step is None else ir.Const(step, int64)
    loop = ir.For(k, ir.Const(start, int64), ir.Shape(out, 0, int64), step_e, (ir.Store(out, (k,), k),))
    params = (ir.Param("out", out.type), ir.Param("steps", stepv.type))
    return ir.Kernel("ranges", params, (loop,), (k,), ("out",), False, False)


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.dialect)
def test_unit_step_range_loops_stay_a_plain_increment(r):
    # k < stop <= INT64_MAX before k++ cannot overflow: the common loop keeps the form compilers vectorise
    for start in (0, 3):
        src = r.render(_range_kernel(start, 1))
        assert re.search(r"for \([^;]*; u_k < [^;]+; u_k\+\+\)", src), src
        assert "pk_range_next" not in src


@pytest.mark.parametrize("r", RENDERERS, ids=lambda r: r.dialect)
@pytest.mark.parametrize("step", [2, -3, None])
def test_non_unit_range_steps_never_add_past_stop(r, step):
    # k += step wraps past INT64_MAX near the limit (UB in C): the increment goes through the guarded helper
    src = r.render(_range_kernel(0, step))
    assert re.search(r"; u_k = pk_range_next\(u_k, [^)]*\)\)", src), src
    assert "u_k += " not in src
