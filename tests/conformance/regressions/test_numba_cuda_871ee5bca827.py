"""Regression saved by `portakern conformance --seed 0` on backend 'numba-cuda'.

Found: LaunchError: backend 'numba-cuda' failed to run kernel 'conf_871ee5bca827': ValueError: tid=[0, 0, 0] ctaid=[0, 0, 0]: math domain error

The kernel:

    @pk.kernel
    def conf_871ee5bca827(x0, o0, r0_0, f0):
        i = pk.global_id(0)
        if i < x0.shape[0]:
            a0 = x0[i]
            v0 = pk.int8(a0)
            o0[i] = a0
            t0_0 = pk.float32(pk.float32(-2.0))
            r0_0[i] = t0_0
            f0[i] = pk.acos(t0_0)
"""
from portakern.conformance.program import AtomicSpec, Batch, Case, Expr, LocalStage, Stmt, Tier1  # noqa: F401
from portakern.conformance.regression import bits_array, check_batch

BATCH = Batch(programs=(Case(inputs=(('x0', 'int8'),), outputs=(('o0', 'int8'),), body=(Stmt(kind='assign', target='v0', dtype='int8', expr=Expr(kind='var', op='', args=(), dtype='int8', value='a0'), body=(), orelse=(), count=0), Stmt(kind='store', target='o0', dtype='int8', expr=Expr(kind='var', op='', args=(), dtype='int8', value='a0'), body=(), orelse=(), count=0)), tier1=(Tier1(op='acos', args=(Expr(kind='lit', op='', args=(), dtype='float32', value=-2.0),), arg_outs=('r0_0',), out='f0', dtype='float32'),), local=None, atomic=None, n=1, wg=None, strided=frozenset([]), values={'x0': bits_array('int8', [0]), 'o0': bits_array('int8', [0]), 'r0_0': bits_array('float32', [0]), 'f0': bits_array('float32', [0])}),), n=1, wg=None)


def test_numba_cuda_871ee5bca827_matches_the_oracle():
    check_batch(BATCH, 'numba-cuda')
