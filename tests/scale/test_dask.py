"""portakern.dask: kernels per chunk of Dask arrays, on the threaded scheduler and on a LocalCluster
of two worker processes, bit-identical to one launch over the whole array (docs/scale.md)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="portakern[dask] is not installed")
distributed = pytest.importorskip("distributed", reason="portakern[dask] (dask.distributed) is not installed")

import portakern as pk  # noqa: E402
import portakern.dask as pkd  # noqa: E402
from benchmarks.kernels import jacobi2d as jacobi  # noqa: E402 - the benchmark's kernels, as users run them
from benchmarks.kernels import saxpy  # noqa: E402

BACKENDS = ["numpy", "numba", "opencl", "jax"]


@pk.kernel
def histogram(x, nbins, hist):
    i = pk.global_id(0)
    if i < x.shape[0]:
        pk.atomic_add(hist, x[i] % nbins, 1)


@pk.kernel
def bad(x, out):
    i = pk.global_id(0)
    try:
        out[i] = x[i]
    except ValueError:
        pass


@pk.kernel
def block_sum(x, out):
    """A work-group tree reduction: needs a workgroup that divides the chunk."""
    tmp = pk.local_array(4, pk.float64)
    lid = pk.local_id(0)
    tmp[lid] = x[pk.global_id(0)]
    pk.barrier()
    if lid == 0:
        out[pk.group_id(0)] = tmp[0] + tmp[1] + tmp[2] + tmp[3]


def _data(n=1000, shape=(37, 45)):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    u = rng.standard_normal(shape)
    return x, y, u


def _whole(kernel, backend, nd, *args):
    out = np.zeros_like(args[-1])
    kernel.on(backend)[nd](*args[:-1], out)
    return out


def _check_saxpy_and_jacobi(backend, compute):
    x, y, u = _data()
    a = np.float32(1.5)
    res = pkd.map_blocks(saxpy, a, da.from_array(x, chunks=300), da.from_array(y, chunks=300),
                         outputs="out", backend=backend)
    assert isinstance(res, da.Array) and res.chunks == ((300, 300, 300, 100),)
    got = compute(res)
    assert np.array_equal(got, _whole(saxpy, backend, x.size, a, x, y, x))
    step = pkd.map_overlap(jacobi, da.from_array(u, chunks=(10, 16)), outputs={"out": np.float64}, depth=1,
                           backend=backend)
    assert np.array_equal(compute(step), _whole(jacobi, backend, u.shape, u, u))


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_blocks_and_map_overlap_on_threads_match_one_launch_bit_for_bit(backend):
    _check_saxpy_and_jacobi(backend, lambda r: r.compute(scheduler="threads"))


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of two worker processes for the module (started and closed here)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40,
                                       env={"NUMBA_NUM_THREADS": "1"})   # Dask parallelises over chunks
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_blocks_and_map_overlap_on_a_two_process_cluster_match_one_launch(client, backend):
    _check_saxpy_and_jacobi(backend, lambda r: client.compute(r).result(timeout=60))


def test_a_kernel_defined_in_a_function_runs_on_worker_processes_from_its_source(client):
    scale = np.float64(3.0)

    @pk.kernel
    def scaled(x, out):
        i = pk.global_id(0)
        if i < out.shape[0]:
            out[i] = x[i] * scale

    x = np.arange(50, dtype=np.float64)
    got = client.compute(pkd.map_blocks(scaled, da.from_array(x, chunks=20), outputs="out",
                                        backend="numpy")).result(timeout=60)
    assert np.array_equal(got, x * 3.0)


def test_results_compose_with_other_dask_operations_and_stay_lazy():
    x, y, _ = _data()
    dx, dy = da.from_array(x, chunks=250), da.from_array(y, chunks=250)
    res = pkd.map_blocks(saxpy, np.float32(2), dx, dy, outputs="out", backend="numpy")
    total = (res * 2).sum()
    assert isinstance(total, da.Array)
    assert total.compute() == (2 * (np.float32(2) * x + y)).sum()


def test_a_compile_error_in_a_graph_is_raised_at_compute_time_as_the_same_compile_error(client):
    x = np.arange(8, dtype=np.float64)
    with pytest.raises(pk.CompileError) as local:
        bad.on("numpy")[8](x, np.zeros_like(x))
    res = pkd.map_blocks(bad, da.from_array(x, chunks=4), outputs="out", backend="numpy")  # lazy: no error yet
    with pytest.raises(pk.CompileError) as threaded:
        res.compute(scheduler="threads")
    with pytest.raises(pk.CompileError) as remote:
        client.compute(res).result(timeout=60)
    assert str(threaded.value) == str(local.value) == str(remote.value)
    assert "test_dask.py" in str(remote.value)


def test_chunk_local_histograms_combined_with_dask_equal_the_whole_array_histogram():
    x = np.random.default_rng(3).integers(0, 1000, 1000).astype(np.int64)
    per = pkd.map_blocks(histogram, da.from_array(x, chunks=300), np.int64(16),
                         outputs={"hist": pkd.per_chunk(np.int64, (16,))}, backend="numpy")
    assert per.shape == (4, 16) and per.chunks == ((1, 1, 1, 1), (16,))
    assert np.array_equal(per.sum(axis=0).compute(), np.bincount(x % 16, minlength=16))


def test_several_outputs_and_a_template_give_the_initial_contents():
    @pk.kernel
    def split(x, pos, neg):
        i = pk.global_id(0)
        if x[i] > 0:
            pos[i] = x[i]
        else:
            neg[i] = x[i]

    x = np.array([1.0, -2.0, 3.0, -4.0, 5.0])
    dx = da.from_array(x, chunks=2)
    pos, neg = pkd.map_blocks(split, dx, outputs={"pos": da.full(5, -1.0, chunks=2), "neg": np.float64},
                              backend="numpy")
    assert np.array_equal(pos.compute(), [1.0, -1.0, 3.0, -1.0, 5.0])
    assert np.array_equal(neg.compute(), [0.0, -2.0, 0.0, -4.0, 0.0])


def test_a_chunk_smaller_than_the_halo_is_a_launch_error_naming_the_chunk():
    u = da.from_array(np.zeros((12, 12)), chunks=((5, 5, 1, 1), 6))
    with pytest.raises(pk.LaunchError, match=r"'u': chunk 2 along axis 0 has 1 cells, fewer than the halo depth 2"):
        pkd.map_overlap(jacobi, u, outputs="out", depth=2, backend="numpy")


def test_chunks_that_the_workgroup_does_not_divide_are_a_launch_error_naming_the_chunk():
    x = da.from_array(np.ones(14), chunks=(8, 6))
    res = pkd.map_blocks(block_sum, x, outputs={"out": np.float64}, workgroup=4, backend="numpy")
    with pytest.raises(pk.LaunchError, match=r"chunk \(1,\) \(shape \(6,\)\): .*multiple of the workgroup"):
        res.compute(scheduler="threads")


def test_bad_outputs_and_arguments_are_launch_errors():
    x = da.ones(10, chunks=5)
    with pytest.raises(pk.LaunchError, match="output 'nope' is not a parameter"):
        pkd.map_blocks(saxpy, 1.0, x, x, outputs="nope")
    with pytest.raises(pk.LaunchError, match=r"3 input arguments given, expected 1 \(u;"):
        pkd.map_blocks(jacobi, x, x, x, outputs="out")
    with pytest.raises(pk.LaunchError, match="no Dask array"):
        pkd.map_blocks(saxpy, 1.0, np.ones(3), np.ones(3), outputs="out")
    with pytest.raises(pk.LaunchError, match="one number of dimensions"):
        pkd.map_blocks(saxpy, 1.0, x, da.ones((10, 2), chunks=5), outputs="out")
    with pytest.raises(pk.LaunchError, match="cannot be chunked alike"):
        pkd.map_blocks(saxpy, 1.0, x, da.ones(12, chunks=6), outputs="out")
    with pytest.raises(pk.LaunchError, match="per_chunk outputs are for map_blocks"):
        pkd.map_overlap(saxpy, 1.0, x, x, outputs={"out": pkd.per_chunk(np.float64)}, depth=1)
    with pytest.raises(pk.LaunchError, match="depth must be"):
        pkd.map_overlap(jacobi, da.ones((8, 8), chunks=4), outputs="out", depth=(1, 1, 1))
    with pytest.raises(pk.LaunchError, match="depth must be"):
        pkd.map_overlap(jacobi, da.ones((8, 8), chunks=4), outputs="out", depth=-1)
    with pytest.raises(pk.LaunchError, match="boundary must be one of"):
        pkd.map_overlap(jacobi, da.ones((8, 8), chunks=4), outputs="out", depth=1, boundary="bogus")
    with pytest.raises(pk.LaunchError, match="expected a dtype"):
        pkd.map_blocks(saxpy, 1.0, x, x, outputs={"out": "not a dtype"})


def test_ndrange_can_be_a_function_of_the_chunk_shape():
    @pk.kernel
    def pairs(x, out):
        i = pk.global_id(0)
        out[2 * i] = x[2 * i + 1]
        out[2 * i + 1] = x[2 * i]

    x = np.arange(12.0)
    got = pkd.map_blocks(pairs, da.from_array(x, chunks=4), outputs="out", ndrange=lambda shape: shape[0] // 2,
                         backend="numpy").compute()
    assert np.array_equal(got, x.reshape(-1, 2)[:, ::-1].ravel())


def test_pk_use_around_graph_building_chooses_the_backend_of_every_chunk(monkeypatch):
    seen = []
    real = pk.Kernel.on

    def spy(self, backend, device=None):
        seen.append(backend)
        return real(self, backend, device)

    monkeypatch.setattr(pk.Kernel, "on", spy)
    x = da.from_array(np.arange(10.0), chunks=5)
    with pk.use("numba"):
        res = pkd.map_blocks(saxpy, 2.0, x, x, outputs="out")
    res.compute(scheduler="threads")
    assert seen == ["numba", "numba"]


def test_cuda_chunks_compile_for_cuda_and_fail_clearly_without_a_gpu():
    """Without a GPU the chunk's kernel compiles for sm_90 and running says why it cannot; with one,
    NumPy chunks run on cuda when asked and CuPy chunks are routed there by their type."""
    x = np.arange(64, dtype=np.float32)
    assert saxpy.compile("cuda", np.float32(2), x[:32], x[:32], x[:32], target="sm_90")
    res = pkd.map_blocks(saxpy, np.float32(2), da.from_array(x, chunks=32), da.from_array(x, chunks=32),
                         outputs="out", backend="cuda")
    if pk.get_backend("cuda").is_available():
        assert np.array_equal(res.compute(scheduler="threads"), 3 * x)
        cupy = pytest.importorskip("cupy")
        chunks_on_gpu = da.from_array(x, chunks=32).map_blocks(cupy.asarray)
        on_gpu = pkd.map_blocks(saxpy, np.float32(2), chunks_on_gpu, chunks_on_gpu, outputs="out")  # routed to cuda
        assert isinstance(on_gpu._meta, cupy.ndarray)
        assert np.array_equal(cupy.asnumpy(on_gpu.compute(scheduler="threads")), 3 * x)
    else:
        with pytest.raises(pk.BackendUnavailable, match="cuda"):
            res.compute(scheduler="threads")


def test_two_launches_of_one_kernel_in_one_graph_keep_their_own_arguments():
    x = da.from_array(np.arange(10.0), chunks=5)
    twice = pkd.map_blocks(saxpy, 2.0, x, x, outputs="out", backend="numpy")
    thrice = pkd.map_blocks(saxpy, 3.0, x, x, outputs="out", backend="numpy")
    assert twice.name != thrice.name
    assert np.array_equal((twice + thrice).compute(scheduler="threads"), 7 * np.arange(10.0))


def test_a_backend_error_with_an_unpicklable_cause_still_travels_as_a_compile_error(fake_backend):
    """dask.distributed pickles a task's error with its causes (tblib); a framework error holding a C
    handle cannot be pickled, and the client then got a bare Exception instead of CompileError."""
    tblib = pytest.importorskip("tblib.pickling_support")

    class Unpicklable(RuntimeError):
        def __reduce__(self):
            raise TypeError("cannot pickle a C handle")

    def build(self, kernel, source, device, target=None):
        raise Unpicklable("the compiler rejected the generated source")

    fake_backend.build = build
    res = pkd.map_blocks(saxpy, 2.0, da.ones(8, chunks=4), da.ones(8, chunks=4), outputs="out", backend="fake")
    with pytest.raises(pk.CompileError, match="rejected the generated source") as info:
        res.compute(scheduler="threads")
    tblib.install(info.value)
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, pk.CompileError) and str(again) == str(info.value)


def test_with_a_periodic_boundary_the_interior_is_bit_identical_to_one_launch():
    _, _, u = _data()
    got = pkd.map_overlap(jacobi, da.from_array(u, chunks=(10, 16)), outputs="out", depth=1, boundary="periodic",
                          backend="numpy").compute(scheduler="threads")
    whole = _whole(jacobi, "numpy", u.shape, u, u)
    assert np.array_equal(got[1:-1, 1:-1], whole[1:-1, 1:-1])
    wrapped = 0.25 * (u[-1, 5] + u[1, 5] + u[0, 4] + u[0, 6])     # the edge follows the boundary rule
    assert got[0, 5] == wrapped and whole[0, 5] == u[0, 5]
