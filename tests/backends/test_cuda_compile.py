"""cuda with no GPU: NVRTC compiles every rendered kernel for sm_90, and launching says why not."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry
from portakern.runtime.backend import Device
from portakern.types import SCALAR_TYPES

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from test_cfamily_kernels import every_op_kernel, keyword_kernel  # noqa: E402

cupy = pytest.importorskip("cupy")
NO_DEVICE = Device("cuda", "compile-only:sm_90", "no device (compile only)")


@pytest.fixture(scope="module")
def be():
    return registry.get_backend("cuda")


CASES = [(t, False) for t in SCALAR_TYPES] + [(t, True) for t in SCALAR_TYPES if t.name in ("bool_", "int8", "uint64",
                                                                                     "float32", "float64")]


@pytest.mark.parametrize("t,debug", CASES, ids=lambda v: str(v) if not isinstance(v, bool) else ("debug" if v else "plain"))
def test_every_op_compiles_with_nvrtc_for_sm_90_without_a_device(be, t, debug):
    k = every_op_kernel(t, debug=debug, grid_ndim=3)[0]
    cubin = be.build(k, be.render(k), NO_DEVICE, "sm_90")
    assert cubin[:4] == b"\x7fELF"                       # a cubin is an ELF image


def test_ptx_target_and_default_target_give_ptx(be):
    k = keyword_kernel()
    for target in ("compute_90", None):
        ptx = be.build(k, be.render(k), NO_DEVICE, target)
        assert b".entry pk_kernel" in ptx and b".target sm_" in ptx


def test_bad_target_is_a_launch_error(be):
    k = keyword_kernel()
    with pytest.raises(pk.LaunchError):
        be.build(k, be.render(k), NO_DEVICE, "volta")


def test_nvrtc_rejection_is_a_compile_error_with_the_log(be):
    k = keyword_kernel()
    with pytest.raises(pk.CompileError) as info:
        be.build(k, be.render(k) + "\nthis is not C++;\n", NO_DEVICE, "sm_90")
    assert "NVRTC" in str(info.value) and "error" in str(info.value)


@pk.kernel
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


def test_kernel_compile_returns_a_cubin_with_no_gpu():
    x = np.ones(4, np.float32)
    cubin = saxpy.compile("cuda", np.float32(2), x, x, x, target="sm_90")
    assert cubin[:4] == b"\x7fELF"
    src = saxpy.source("cuda", np.float32(2), x, x, x)
    assert "__global__ void pk_kernel(" in src and "kernel 'saxpy'" in src


def test_launching_cuda_without_a_gpu_is_backend_unavailable_naming_the_reason(be):
    if be.is_available():
        pytest.skip("a GPU is present")
    x = np.ones(4, np.float32)
    before = x.copy()
    with pytest.raises(pk.BackendUnavailable) as info:
        saxpy.on("cuda")[4](np.float32(2), x, x, x)
    msg = str(info.value)
    assert "cuda" in msg and ("driver" in msg.lower() or "gpu" in msg.lower()) and "pip install" in msg
    assert isinstance(info.value, RuntimeError)
    np.testing.assert_array_equal(x, before)
    assert be.unavailable_reason()


class RecordingFunction:
    """Stands in for a CuPy kernel function: records each launch."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, grid, block, args, **options):
        self.calls.append((grid, block, args, *options.values()))


def test_launcher_passes_blocks_in_hardware_order_shapes_after_arrays_and_the_ndrange():
    from portakern_cuda.launch import CudaLauncher

    from portakern.ir import nodes as ir
    from portakern.runtime.backend import LaunchGrid
    from portakern.types import ArrayType, bool_, float32

    out = ir.ArrayRef("out", ArrayType(float32, 2))
    k = ir.Kernel("k", (ir.Param("flag", bool_), ir.Param("out", out.type)), (), (), ("out",), False, False,
                  grid_ndim=2)
    fn = RecordingFunction()
    dev = Device("cuda", "cuda:fake:sm_90", "fake", {"index": 0, "cc": "90", "props": {"maxThreadsPerBlock": 1024}})
    launcher = CudaLauncher(k, None, fn, dev)
    arr = np.zeros((5, 70), np.float32)                  # stands in for a CuPy array (has .shape)
    res = launcher(LaunchGrid((5, 70), None), [np.bool_(True), arr])
    assert res == {"out": arr}
    grid, block, args = fn.calls[0]
    assert block == (32, 5) and grid == (3, 1)           # x is the last pk dimension: ceil(70/32), ceil(5/5)
    assert args[0] == 1 and args[0].dtype == np.uint8 and args[1] is arr
    assert [int(a) for a in args[2:]] == [5, 70, 5, 70]  # out's shape, then the unpadded ndrange
    launcher(LaunchGrid((0, 70), None), [np.bool_(True), arr])
    assert len(fn.calls) == 1                            # an empty index space launches nothing
    with pytest.raises(pk.LaunchError, match="grid dimension y"):
        launcher(LaunchGrid((65536 * 8 + 1, 1), None), [np.bool_(True), arr])
    with pytest.raises(pk.LaunchError, match="at most 1024"):
        launcher(LaunchGrid((64, 64), (64, 64)), [np.bool_(True), arr])


def test_launcher_sizes_dynamic_shared_memory_from_the_arguments_and_opts_in_beyond_48_kib():
    from portakern_cuda.launch import CudaLauncher

    from portakern.ir import nodes as ir
    from portakern.runtime.backend import LaunchGrid
    from portakern.types import ArraySpace, ArrayType, float64, int8, int32, int64

    a = ir.ArrayRef("a", ArrayType(int8, 1, ArraySpace.LOCAL))
    b = ir.ArrayRef("b", ArrayType(float64, 1, ArraySpace.LOCAL))
    size = ir.Cast(ir.Var("n", int32), int64)
    k = ir.Kernel("k", (ir.Param("n", int32),), (ir.DeclArray(a, size=size), ir.DeclArray(b, size=size)), (), (),
                  False, True)
    fn = RecordingFunction()
    dev = Device("cuda", "cuda:fake:sm_90", "fake", {"index": 0, "cc": "90", "props": {"maxThreadsPerBlock": 1024}})
    launcher = CudaLauncher(k, None, fn, dev)
    launcher(LaunchGrid((32,), (32,)), [np.int32(5)])
    assert fn.calls[-1][3] == 16 + 5 * 8                  # a: 5 bytes rounded up to 16, then b
    assert not hasattr(fn, "max_dynamic_shared_size_bytes")
    launcher(LaunchGrid((32,), (32,)), [np.int32(8001)])   # 8016 + 64008 bytes: beyond 48 KiB
    assert fn.calls[-1][3] == 8016 + 64008 and fn.max_dynamic_shared_size_bytes == 72024
