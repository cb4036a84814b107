"""PyTorch peers on the CPU: tensor expressions as a PyTorch user writes them, run eagerly (``torch``)
or through ``torch.compile`` (``torch-compile``, Inductor's C++/OpenMP code)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from .. import cases as C

Run = Callable[[], dict[str, Any]]
#: kernels whose idiomatic PyTorch form is a library call (BLAS), shown but never "the fastest peer"
LIBRARY = frozenset({"matmul"})


class Framework:
    """CPU tensors sharing the inputs' memory; PyTorch's CPU ops return when done."""

    name = "torch"

    def to_dev(self, a: Any) -> Any:
        return torch.from_numpy(a) if isinstance(a, np.ndarray) else a

    def to_host(self, a: Any) -> np.ndarray:
        return a.numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

    def sync(self, outs: Iterable[Any]) -> None:
        """Nothing to wait for: CPU operators are synchronous."""

    def device_name(self) -> str:
        return f"torch {torch.__version__} cpu, {torch.get_num_threads()} threads"


def saxpy(a: float, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return a * x + y


def triad(b: torch.Tensor, c: torch.Tensor, s: float) -> torch.Tensor:
    return b + s * c


def reduce_sum(x: torch.Tensor) -> torch.Tensor:
    return x.sum()


def softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=1)


def layernorm(x: torch.Tensor, g: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.nn.functional.layer_norm(x, (x.shape[1],), g, b, eps)


def jacobi2d(u: torch.Tensor) -> torch.Tensor:
    out = u.clone()
    out[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
    return out


def histogram(x: torch.Tensor) -> torch.Tensor:
    b = (x * C.NBINS).to(torch.int64).clamp_(max=C.NBINS - 1)
    return torch.bincount(b, minlength=C.NBINS).to(torch.int32)


def transpose(a: torch.Tensor) -> torch.Tensor:
    return a.t().contiguous()


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b


def _cnd(d: torch.Tensor) -> torch.Tensor:
    k = 1.0 / (1.0 + 0.2316419 * d.abs())
    c = 0.3989422804014327 * torch.exp(-0.5 * d * d) * (
        k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429)))))
    return torch.where(d > 0, 1.0 - c, c)


def black_scholes(s: torch.Tensor, x: torch.Tensor, t: torch.Tensor, r: float, v: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    sq = torch.sqrt(t)
    d1 = (torch.log(s / x) + (r + 0.5 * v * v) * t) / (v * sq)
    d2 = d1 - v * sq
    c1, c2 = _cnd(d1), _cnd(d2)
    e = torch.exp(-r * t)
    return s * c1 - x * e * c2, x * e * (1.0 - c2) - s * (1.0 - c1)


def mandel_step(zr: torch.Tensor, zi: torch.Tensor, it: torch.Tensor, cr: torch.Tensor, ci: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    live = zr * zr + zi * zi <= 4.0
    t = zr * zr - zi * zi + cr
    return torch.where(live, t, zr), torch.where(live, 2.0 * zr * zi + ci, zi), it + live.to(torch.int32)


def tiny(x: torch.Tensor) -> torch.Tensor:
    return x.add_(1.0)


_FUNCS = {f.__name__: f for f in (saxpy, triad, reduce_sum, softmax, layernorm, jacobi2d, histogram, transpose,
                                  matmul, black_scholes, mandel_step, tiny)}


def _builders(wrap: Callable[[Callable], Callable]) -> dict[str, Callable[[dict, int, Any], Run]]:
    f = {name: wrap(fn) for name, fn in _FUNCS.items()}

    def mandelbrot(d: dict, n: int, fw: Any) -> Run:
        # The escape-time loop stays in Python: one (compiled) masked step per iteration, as jnp's does.
        idx = torch.arange(n, dtype=torch.float32)
        cr = (float(d["x0"]) + idx * float(d["dx"]))[None, :].expand(n, n).contiguous()
        ci = (float(d["y0"]) + idx * float(d["dy"]))[:, None].expand(n, n).contiguous()

        def run() -> dict[str, Any]:
            zr, zi = torch.zeros(n, n), torch.zeros(n, n)
            it = torch.zeros(n, n, dtype=torch.int32)
            for _ in range(C.MAXIT):
                zr, zi, it = f["mandel_step"](zr, zi, it, cr, ci)
            return {"out": it}
        return run

    def bs(d: dict, n: int, fw: Any) -> Run:
        def run() -> dict[str, Any]:
            c, p = f["black_scholes"](d["S"], d["X"], d["T"], float(d["r"]), float(d["v"]))
            return {"call": c, "put": p}
        return run

    return {
        "tiny": lambda d, n, fw: lambda: {"x": f["tiny"](d["x"])},
        "saxpy": lambda d, n, fw: lambda: {"out": f["saxpy"](float(d["a"]), d["x"], d["y"])},
        "triad": lambda d, n, fw: lambda: {"a": f["triad"](d["b"], d["c"], float(d["s"]))},
        "reduce_sum": lambda d, n, fw: lambda: {"sum": f["reduce_sum"](d["x"])},
        "softmax": lambda d, n, fw: lambda: {"out": f["softmax"](d["x"])},
        "layernorm": lambda d, n, fw: lambda: {"out": f["layernorm"](d["x"], d["gamma"], d["beta"], float(d["eps"]))},
        "jacobi2d": lambda d, n, fw: lambda: {"out": f["jacobi2d"](d["u"])},
        "histogram": lambda d, n, fw: lambda: {"hist": f["histogram"](d["x"])},
        "transpose": lambda d, n, fw: lambda: {"out": f["transpose"](d["a"])},
        "matmul": lambda d, n, fw: lambda: {"c": f["matmul"](d["a"], d["b"])},
        "black_scholes": bs,
        "mandelbrot": mandelbrot,
    }


BUILDERS = _builders(lambda fn: fn)


def compiled_builders() -> dict[str, Callable[[dict, int, Any], Run]]:
    """The same functions through ``torch.compile`` (compiled on first call; shapes are static)."""
    return _builders(lambda fn: torch.compile(fn, dynamic=False))
