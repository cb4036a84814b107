"""The prelude of the C-family renderer: small helper functions the generated kernels call.

Helpers are generated on demand (only what a kernel uses, in dependency order) from templates
parameterised by the target's data (type names, function qualifier, math names, atomics), so the
OpenCL and CUDA renderers share every line of their numerics. Each helper implements one total
operation of docs/semantics.md: floor division and modulo, guarded shifts, wrapping integer power and
abs, saturating float->int conversion, NaN-propagating min/max with -0.0 < +0.0, atomics (native
where the target has them, compare-and-swap on the bit pattern elsewhere) and debug bounds checks.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CompileError
from ..types import ScalarType, float32, uint32, uint64

if TYPE_CHECKING:
    from .cfamily import CFamilyRenderer

_BITWISE = {"and": "&", "or": "|", "xor": "^"}
SUFFIX = {"bool_": "b", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "uint8": "u8",
          "uint16": "u16", "uint32": "u32", "uint64": "u64", "float32": "f32", "float64": "f64",
          "float16": "f16", "bfloat16": "bf16"}


class Prelude:
    """The helpers one kernel needs, each emitted once, dependencies first."""

    def __init__(self, target: CFamilyRenderer) -> None:
        self.t = target
        self._code: dict[str, str] = {}
        self.pragmas: set[str] = set()

    def text(self) -> str:
        """Every requested helper, separated by blank lines."""
        return "\n\n".join(self._code.values())

    def _need(self, name: str, make: Callable[[], str]) -> str:
        if name not in self._code:
            self._code[name] = ""          # reserve the slot: dependencies made inside come first
            code = make()
            del self._code[name]
            self._code[name] = code
        return name

    def _fn(self, ret: str, name: str, params: str, body: str) -> str:
        inner = "\n".join("    " + ln for ln in body.strip("\n").splitlines())
        return f"{self.t.fn_qual} {ret} {name}({params})\n{{\n{inner}\n}}"

    # -- integer and float arithmetic -----------------------------------------------------------
    def floordiv(self, t: ScalarType) -> str:
        """Floor division: ints x//0 == 0 and MIN//-1 == MIN; floats as NumPy's floor_divide."""
        T, name = self.t.ctype(t), f"pk_floordiv_{SUFFIX[t.name]}"
        if t.is_float:
            z, h, one = self.t.const(0.0, t), self.t.const(0.5, t), self.t.const(1.0, t)
            fmod, floor, cs = self.t.mathfn("fmod", t), self.t.mathfn("floor", t), self.t.mathfn("copysign", t)
            body = f"""
if (b == {z}) return a / b;
{T} mod = {fmod}(a, b);
{T} div = (a - mod) / b;           /* nearly an integer: snap it like NumPy's npy_divmod */
if (mod != {z} && ((b < {z}) != (mod < {z}))) div -= {one};
if (div == {z}) return {cs}({z}, a / b);
{T} fl = {floor}(div);
if (div - fl > {h}) fl += {one};
return fl;"""
        elif t.is_signed:
            body = f"""
if (b == 0) return 0;
if (b == -1) return {self.t.wrap('-', t, 'a')};   /* MIN // -1 wraps to MIN */
{T} q = ({T})(a / b);
if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
return q;"""
        else:
            body = f"return b == 0 ? ({T})0 : ({T})(a / b);"
        return self._need(name, lambda: self._fn(T, name, f"{T} a, {T} b", body))

    def mod(self, t: ScalarType) -> str:
        """Modulo with the divisor's sign (Python, NumPy); x % 0 == 0 for ints."""
        T, name = self.t.ctype(t), f"pk_mod_{SUFFIX[t.name]}"
        if t.is_float:
            z = self.t.const(0.0, t)
            fmod, cs = self.t.mathfn("fmod", t), self.t.mathfn("copysign", t)
            body = f"""
{T} mod = {fmod}(a, b);
if (b == {z}) return mod;          /* NaN, as NumPy */
if (mod != {z}) {{
    if ((b < {z}) != (mod < {z})) mod += b;
}} else {{
    mod = {cs}({z}, b);
}}
return mod;"""
        elif t.is_signed:
            body = f"""
if (b == 0 || b == -1) return 0;
{T} r = ({T})(a % b);
if (r != 0 && ((r < 0) != (b < 0))) r += b;
return r;"""
        else:
            body = f"return b == 0 ? ({T})0 : ({T})(a % b);"
        return self._need(name, lambda: self._fn(T, name, f"{T} a, {T} b", body))

    def ipow(self, t: ScalarType) -> str:
        """Integer power by repeated squaring, wrapping; a negative exponent gives 0 unless |a| == 1."""
        T, U, name = self.t.ctype(t), self.t.wide_unsigned(t), f"pk_pow_{SUFFIX[t.name]}"
        neg = ""
        if t.is_signed:
            neg = f"if (b < 0) return a == 1 ? ({T})1 : a == -1 ? ((b & 1) ? ({T})-1 : ({T})1) : ({T})0;\n"
        body = neg + f"""{U} r = 1, x = ({U})a, e = ({U})b;
while (e != 0) {{
    if (e & 1) r *= x;
    x *= x;
    e >>= 1;
}}
return ({T})r;"""
        return self._need(name, lambda: self._fn(T, name, f"{T} a, {T} b", body))

    def range_next(self) -> str:
        """The next value of a ``range`` loop variable, or ``stop`` when a step would pass it.

        ``k + step`` may overflow int64 near the limits (UB in C, and a wrapped ``k`` would keep the
        loop going): the distance left to ``stop`` is compared with the step in unsigned arithmetic
        first, so ``k + step`` is only computed when it lands strictly before ``stop``. Called as a
        ``for`` increment, so only after an iteration whose test passed (``k`` is before ``stop``)."""
        T, U, name = self.t.type_names["int64"], self.t.type_names["uint64"], "pk_range_next"
        body = f"""
if (step > 0) return ({U})stop - ({U})k > ({U})step ? k + step : stop;
return ({U})k - ({U})stop > (({U})0 - ({U})step) ? k + step : stop;"""
        return self._need(name, lambda: self._fn(T, name, f"{T} k, {T} stop, {T} step", body))

    def shift(self, left: bool, t: ScalarType) -> str:
        """Shifts by a count outside [0, width) give 0 (or -1 for >> of a negative signed value)."""
        T, U, w = self.t.ctype(t), self.t.wide_unsigned(t), t.bits
        name = f"pk_{'shl' if left else 'shr'}_{SUFFIX[t.name]}"
        bad = f"b < 0 || b >= {w}" if t.is_signed else f"b >= {w}"
        if left:
            body = f"return ({bad}) ? ({T})0 : ({T})(({U})a << b);"
        elif t.is_signed:
            body = f"return ({bad}) ? (a < 0 ? ({T})-1 : ({T})0) : ({T})(a >> b);"
        else:
            body = f"return ({bad}) ? ({T})0 : ({T})(a >> b);"
        return self._need(name, lambda: self._fn(T, name, f"{T} a, {T} b", body))

    def iabs(self, t: ScalarType) -> str:
        """abs of a signed int, wrapping: abs(MIN) == MIN."""
        T, name = self.t.ctype(t), f"pk_abs_{SUFFIX[t.name]}"
        body = f"return a < 0 ? {self.t.wrap('-', t, 'a')} : a;"
        return self._need(name, lambda: self._fn(T, name, f"{T} a", body))

    def minmax(self, is_min: bool, t: ScalarType) -> str:
        """min/max; for floats NaN-propagating (as np.minimum) with -0.0 < +0.0 (not fmin/fmax)."""
        T, name = self.t.ctype(t), f"pk_{'min' if is_min else 'max'}_{SUFFIX[t.name]}"
        cmp = "<" if is_min else ">"
        if t.is_float:
            isnan, sb = self.t.mathfn("isnan", t), self.t.mathfn("signbit", t)
            pick = "(a) : (b)" if is_min else "(b) : (a)"
            body = f"""
if ({isnan}(a) || {isnan}(b)) return a + b;    /* a NaN in, a NaN out */
if (a == b) return {sb}(a) ? {pick};           /* -0.0 < +0.0 */
return a {cmp} b ? a : b;"""
        else:
            body = f"return a {cmp} b ? a : b;"
        return self._need(name, lambda: self._fn(T, name, f"{T} a, {T} b", body))

    def copysign(self, t: ScalarType) -> str:
        """copysign whose sign source is never a NaN's sign bit: copysign(x, NaN) == |x|."""
        T, name = self.t.ctype(t), f"pk_copysign_{SUFFIX[t.name]}"
        isnan, fabs, cs = self.t.mathfn("isnan", t), self.t.mathfn("fabs", t), self.t.mathfn("copysign", t)
        body = f"return {isnan}(b) ? {fabs}(a) : {cs}(a, b);   /* a NaN's sign is not portable */"
        return self._need(name, lambda: self._fn(T, name, f"{T} a, {T} b", body))

    def float_to_int(self, src: ScalarType, dst: ScalarType) -> str:
        """Saturating float->int: out-of-range values clamp to the type's limits, NaN -> 0.

        Every decision is an integer comparison of the bit pattern (for non-negative floats the
        pattern orders as the value), never a float comparison: a compiler that assumes finite
        math (or mishandles an infinity) cannot drop a guard and let the raw conversion through,
        which on x86 turns -inf into INT_MIN, whose low byte is 0 (opencl gave int8(-inf) == 0,
        exactly that value, where every other backend gave -128).
        The limit is 2**(bits-1) (or 2**bits), exact in every float type."""
        F, T = self.t.ctype(src), self.t.ctype(dst)
        name = f"pk_{SUFFIX[dst.name]}_from_{SUFFIX[src.name]}"
        ubits = self.t.type_names[f"uint{src.bits}"]
        to_bits = self.t.bitcasts(src)[0].format(x="x")
        ut = uint64 if src.bits == 64 else uint32
        fdt = np.dtype(src.name)
        inf = self.t.const(int(np.array(np.inf, fdt).view(ut.dtype)), ut)
        top = self.t.const(int(np.array(2.0 ** (dst.bits - 1 if dst.is_signed else dst.bits), fdt).view(ut.dtype)), ut)
        sign = f"(u >> {src.bits - 1})"
        hi = self.t.const(int(dst.max), dst)
        if dst.is_signed:
            low = f"return {sign} ? {self.t.const(int(dst.min), dst)} : {hi};"
        else:
            low = f"return {sign} ? 0 : {hi};"
        body = f"""
const {ubits} u = {to_bits};
const {ubits} mag = u & ~((({ubits})1) << {src.bits - 1});
if (mag > {inf}) return 0;    /* NaN */
if (mag >= {top}) {low}
{"" if dst.is_signed else f"if ({sign}) return 0;    /* negatives, -0.0 */"}
return ({T})x;"""
        body = "\n".join(ln for ln in body.splitlines() if ln.strip())
        return self._need(name, lambda: self._fn(T, name, f"{F} x", body))

    # -- half precision storage (docs/semantics.md "Half precision") ------------------------------
    # On the bits, in integers: PoCL lacks cl_khr_fp16 and NVRTC without headers lacks cuda_fp16.h,
    # and integer code cannot flush a denormal or quiet a NaN behind our back.
    def half_to_f32(self, t: ScalarType) -> str:
        """float16/bfloat16 bits -> float32, exactly (denormals, infinities and NaNs included)."""
        U, F = self.t.type_names["uint32"], self.t.ctype_name("float32")
        name = f"pk_f32_from_{SUFFIX[t.name]}"
        from_bits = self.t.bitcasts(float32)[1]
        if t.name == "bfloat16":
            body = f"return {from_bits.format(x=f'(({U})h) << 16')};"
        else:
            body = f"""
{U} s = (({U})(h & 0x8000u)) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
if (e == 0x1fu) u = s | 0x7f800000u | (m << 13);              /* inf, NaN (payload kept) */
else if (e != 0u) u = s | ((e + 112u) << 23) | (m << 13);     /* normal */
else if (m == 0u) u = s;                                      /* +-0 */
else {{                                                        /* denormal: normalise */
    e = 113u;
    while ((m & 0x400u) == 0u) {{ m <<= 1; e -= 1u; }}
    u = s | (e << 23) | ((m & 0x3ffu) << 13);
}}
return {from_bits.format(x="u")};"""
        return self._need(name, lambda: self._fn(F, name, f"{self.t.type_names['uint16']} h", body))

    def f32_to_half(self, t: ScalarType) -> str:
        """float32 -> float16/bfloat16 bits, rounded to nearest even once; overflow gives infinity,
        NaN stays a (quiet) NaN, results below the smallest denormal round to a signed zero."""
        U, H = self.t.type_names["uint32"], self.t.type_names["uint16"]
        name = f"pk_{SUFFIX[t.name]}_from_f32"
        to_bits = self.t.bitcasts(float32)[0].format(x="x")
        if t.name == "bfloat16":
            body = f"""
{U} u = {to_bits};
if ((u & 0x7fffffffu) > 0x7f800000u) return ({H})((u >> 16) | 0x40u);   /* NaN: quiet, sign kept */
u += 0x7fffu + ((u >> 16) & 1u);                                     /* round to nearest even */
return ({H})(u >> 16);"""
        else:
            body = f"""
const {U} u = {to_bits};
const {U} s = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
if (a > 0x7f800000u) return ({H})(s | 0x7e00u | ((a >> 13) & 0x1ffu));   /* NaN: quiet */
if (a >= 0x477ff000u) return ({H})(s | 0x7c00u);      /* >= 65520 (ties to even) and inf: inf */
if (a >= 0x38800000u) {{                              /* normal: rebias, round to nearest even */
    const {U} r = a - 0x38000000u;
    return ({H})(s | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
}}
if (a <= 0x33000000u) return ({H})s;                  /* <= 2**-25 (a tie with zero): +-0 */
{{                                                     /* denormal: m * 2**(e-150) in units of 2**-24 */
    const {U} e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, sh = 126u - e;
    const {U} q = m >> sh, rem = m & ((1u << sh) - 1u), tie = 1u << (sh - 1u);
    return ({H})(s | (q + ((rem > tie || (rem == tie && (q & 1u))) ? 1u : 0u)));
}}"""
        return self._need(name, lambda: self._fn(H, name, f"{self.t.ctype_name('float32')} x", body))

    # -- atomics --------------------------------------------------------------------------------
    def atomic(self, op: str, t: ScalarType, space: str) -> str:
        """``pk_atomic_<op>_<type>_<space>(p, v)`` returning the old value: the target's native
        atomic where it has one, else a compare-and-swap loop on the value's bit pattern."""
        if t.name not in ("int32", "uint32", "int64", "uint64", "float32", "float64"):
            raise CompileError(f"atomics are not supported on {t} arrays "
                               "(supported: int32, uint32, int64, uint64, float32, float64)")
        T, name = self.t.ctype(t), f"pk_atomic_{op}_{SUFFIX[t.name]}_{space}"
        sp = self.t.space_qual.get(space, "")
        if space == "private":             # no other work-item can see it: a plain read-modify-write
            body = f"{T} old = *p;\n*p = {self._combine(op, t, 'old', 'v')};\nreturn old;"
            return self._need(name, lambda: self._fn(T, name, f"{T}* p, {T} v", body))
        if t.bits == 64:
            self.pragmas.update(self.t.atomic64_pragmas)
        native: object = self.t.native_atomics.get((op, t.name))
        ptr = f"{self.t.atomic_volatile}{sp}{T}* p"
        guard = None
        if isinstance(native, tuple):      # (macro, template): native only where the macro is defined
            guard, native = native
        template = str(native) if native is not None else None
        fence = self.t.atomic_fence if op == "xchg" else ""   # xchg releases locks: see atomic_cas
        if template is not None and guard is None:
            body = f"{fence}{T} old = {template.format(p='p', v='v', T=T)};\n{fence}return old;"
            return self._need(name, lambda: self._fn(T, name, f"{ptr}, {T} v", body))
        B = self.t.ctype(ScalarType(f"uint{t.bits}", "u", t.bits))
        to_bits, from_bits = self.t.bitcasts(t)
        cas = self.t.cas[t.bits].format(p="q", cmp="assumed", val="{val}")
        new = to_bits.format(x=self._combine(op, t, from_bits.format(x="assumed"), "v"))
        body = f"""{fence}{self.t.atomic_volatile}{sp}{B}* q = ({self.t.atomic_volatile}{sp}{B}*)p;
{B} old = *q, assumed;
do {{
    assumed = old;
    old = {cas.format(val=new)};
}} while (old != assumed);         /* compares bit patterns: terminates on NaN too */
{fence}return {from_bits.format(x='old')};"""
        if guard is not None and template is not None:
            body = f"#if defined({guard})\nreturn {template.format(p='p', v='v', T=T)};\n#else\n{body}\n#endif"
        return self._need(name, lambda: self._fn(T, name, f"{ptr}, {T} v", body))

    def atomic_cas(self, t: ScalarType, space: str) -> str:
        """``pk_atomic_cas_<type>_<space>(p, cmp, v)`` returning the old value: one compare-and-swap
        on the element's unsigned bit pattern (floats compare by bits). Fenced on both sides, as
        ``xchg``, so that a spin lock built from the two orders the critical section's plain loads
        and stores (the other atomics are relaxed)."""
        T, name = self.t.ctype(t), f"pk_atomic_cas_{SUFFIX[t.name]}_{space}"
        sp = self.t.space_qual.get(space, "")
        to_bits, from_bits = self.t.bitcasts(t)
        if space == "private":             # no other work-item can see it: a plain compare and store
            same = f"{to_bits.format(x='old')} == {to_bits.format(x='cmp')}"
            body = f"{T} old = *p;\nif ({same}) *p = v;\nreturn old;"
            return self._need(name, lambda: self._fn(T, name, f"{T}* p, {T} cmp, {T} v", body))
        if t.bits == 64:
            self.pragmas.update(self.t.atomic64_pragmas)
        B = self.t.ctype(ScalarType(f"uint{t.bits}", "u", t.bits))
        vol = self.t.atomic_volatile
        cas = self.t.cas[t.bits].format(p=f"({vol}{sp}{B}*)p", cmp=to_bits.format(x="cmp"),
                                        val=to_bits.format(x="v"))
        fence = self.t.atomic_fence
        body = f"{fence}{B} old = {cas};\n{fence}return {from_bits.format(x='old')};"
        return self._need(name, lambda: self._fn(T, name, f"{vol}{sp}{T}* p, {T} cmp, {T} v", body))

    def _combine(self, op: str, t: ScalarType, a: str, b: str) -> str:
        if op == "xchg":
            return b
        if op in ("and", "or", "xor"):
            return f"({a} {_BITWISE[op]} {b})"
        if op in ("min", "max"):
            return f"{self.minmax(op == 'min', t)}({a}, {b})"
        sym = "+" if op == "add" else "-"
        return self.t.wrap(sym, t, a, b) if t.is_int else f"({a} {sym} {b})"

    # -- bounds checks (boundscheck/debug) ------------------------------------------------------
    def check(self, ndim: int) -> str:
        """``pk_check<n>(&o, err, site, i..., n...)``: true and the row-major offset in ``o`` when
        every index is in bounds; otherwise false, ``o = 0``, and the first failure recorded in the
        error buffer (flag, site, indices, shape) for the host to raise KernelIndexError."""
        L, name = self.t.ctype_name("int64"), f"pk_check{ndim}"
        g = self.t.space_qual.get("global", "")
        idx = ", ".join(f"{L} i{d}" for d in range(ndim))
        dims = ", ".join(f"{L} n{d}" for d in range(ndim))
        U = self.t.ctype_name("uint64")
        # one unsigned compare per dimension: a negative index becomes huge, so it fails too
        inb = " && ".join(f"({U})i{d} < ({U})n{d}" for d in range(ndim))
        off = "i0"
        for d in range(1, ndim):
            off = f"({off}) * n{d} + i{d}"
        rec = " ".join(f"err[{2 + d}] = i{d};" for d in range(ndim)) + " " + \
            " ".join(f"err[{2 + ndim + d}] = n{d};" for d in range(ndim))
        cas = self.t.cas[32].format(p=f"({self.t.atomic_volatile}{g}{self.t.ctype_name('uint32')}*)err",
                                    cmp="0u", val="1u")
        body = f"""
if ({inb}) {{
    *o = {off};
    return true;
}}
if ({cas} == 0u) {{
    err[1] = site; {rec}
}}
*o = 0;
return false;"""
        params = f"{L}* o, {g}{L}* err, int site, {idx}, {dims}"
        return self._need(name, lambda: self._fn("bool", name, params, body))
