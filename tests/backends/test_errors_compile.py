"""CompileError for every class of construct outside the language (docs/language.md sections 4 and 5):
the message carries file:line, the source line with a caret, what is wrong and a hint; the caller's
arrays are untouched."""
from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import portakern as pk

G = 1


def plain_python_function(v):
    return v + 1


def bad_call(x, out):
    i = pk.global_id(0)
    out[i] = plain_python_function(x[i])  # BAD


def bad_list(x, out):
    i = pk.global_id(0)
    v = [1, 2]  # BAD  # noqa: F841
    out[i] = x[i]


def bad_dict(x, out):
    i = pk.global_id(0)
    v = {1: 2}  # BAD  # noqa: F841
    out[i] = x[i]


def bad_string(x, out):
    i = pk.global_id(0)
    v = "abc"  # BAD  # noqa: F841
    out[i] = x[i]


def bad_print(x, out):
    i = pk.global_id(0)
    print(i)  # BAD
    out[i] = x[i]


def bad_comprehension(x, out):
    i = pk.global_id(0)
    out[i] = sum([k for k in range(3)])  # BAD


def bad_lambda(x, out):
    i = pk.global_id(0)
    f = lambda v: v + 1  # BAD  # noqa: E731, F841
    out[i] = x[i]


def bad_try(x, out):
    i = pk.global_id(0)
    try:  # BAD
        out[i] = x[i]
    except Exception:  # noqa: BLE001
        pass


def bad_with(x, out):
    i = pk.global_id(0)
    with open("f"):  # BAD
        out[i] = x[i]


def bad_global_write(x, out):
    global G
    i = pk.global_id(0)
    G = 2  # BAD
    out[i] = x[i]


def bad_return_value(x, out):
    i = pk.global_id(0)
    out[i] = x[i]
    return 1  # BAD


def bad_slice(x, out):
    i = pk.global_id(0)
    out[i] = x[1:3]  # BAD


def bad_wrong_index_count(x, out):
    i = pk.global_id(0)
    out[i] = x[i, i]  # BAD


def bad_float_index(x, out):
    i = pk.global_id(0)
    out[i] = x[1.5]  # BAD


def bad_undefined_name(x, out):
    i = pk.global_id(0)
    out[i] = undefined_thing  # BAD  # noqa: F821


def bad_non_literal_dim(x, out):
    i = pk.global_id(0)
    d = i
    out[i] = x[pk.global_id(d)]  # BAD


def bad_yield(x, out):
    i = pk.global_id(0)
    yield i  # BAD


@pk.func
def recursive_helper(n):
    if n <= 0:
        return 0
    return recursive_helper(n - 1) + 1  # BAD


def bad_recursion(x, out):
    i = pk.global_id(0)
    out[i] = recursive_helper(3)


BAD_KERNELS = [bad_call, bad_list, bad_dict, bad_string, bad_print, bad_comprehension, bad_lambda, bad_try,
               bad_with, bad_global_write, bad_return_value, bad_slice, bad_wrong_index_count, bad_float_index,
               bad_undefined_name, bad_non_literal_dim, bad_yield]


def _bad_line(fn) -> int:
    lines, start = inspect.getsourcelines(fn)
    return start + next(k for k, text in enumerate(lines) if "# BAD" in text)


def _launch(backend, kern, x, out):
    if backend == "cuda":
        return kern.compile("cuda", x, out, target="sm_90")
    return kern.on(backend)[x.size](x, out)


@pytest.mark.parametrize("fn", BAD_KERNELS, ids=lambda f: f.__name__)
def test_unsupported_construct_is_a_compile_error_with_location_caret_and_hint(backend, fn):
    kern = pk.kernel(fn)
    x = np.arange(4, dtype=np.float32)
    out = np.full(4, -1.0, dtype=np.float32)
    with pytest.raises(pk.CompileError) as info:
        _launch(backend, kern, x, out)
    msg = str(info.value)
    assert f"{os.path.basename(__file__)}:{_bad_line(fn)}" in msg, msg
    assert "^" in msg, msg
    assert "hint" in msg.lower(), msg
    assert "# BAD" in msg, msg                          # the offending source line is quoted
    np.testing.assert_array_equal(out, -1.0)          # inputs untouched


def test_recursion_is_a_compile_error(backend):
    kern = pk.kernel(bad_recursion)
    x = np.arange(4, dtype=np.float32)
    out = np.full(4, -1.0, dtype=np.float32)
    with pytest.raises(pk.CompileError) as info:
        _launch(backend, kern, x, out)
    assert "recurs" in str(info.value).lower(), str(info.value)
    assert os.path.basename(__file__) in str(info.value)
    np.testing.assert_array_equal(out, -1.0)


def test_compile_error_is_a_portakern_error():
    assert issubclass(pk.CompileError, pk.PortakernError)


def test_kernel_source_raises_the_same_compile_error():
    kern = pk.kernel(bad_print)
    with pytest.raises(pk.CompileError) as info:
        kern.source("numpy", np.zeros(4, np.float32), np.zeros(4, np.float32))
    assert f":{_bad_line(bad_print)}" in str(info.value)
