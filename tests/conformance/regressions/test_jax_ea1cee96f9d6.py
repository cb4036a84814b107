"""Regression saved by `portakern conformance --seed 0` on backend 'jax'.

Found: r1_0[7]: expected 0.0, got -0.0 (4 element(s) differ)

The kernel:

    @pk.kernel
    def conf_ea1cee96f9d6(x0, o0, o1, r0_0, f0, r1_0, f1):
        i = pk.global_id(0)
        if i < x0.shape[0]:
            a0 = x0[i]
            v0 = pk.int32((pk.uint16(24) // pk.int32(11)))
            v1 = pk.float64((pk.uint64(25) - pk.rint(a0)))
            for j0 in range(1):
                for j1 in range(3):
                    if pk.bool_(pk.int8(3)):
                        break
                    if pk.bool_(pk.uint8(0)):
                        break
                v1 = pk.float64((pk.min(a0, pk.float32(j0)) + ((pk.uint8(v0) % pk.uint32(13)) >> (pk.uint16(25) - pk.uint32(v0)))))
                for j1 in range(1):
                    o0[i] = v0
            o0[i] = pk.int64(-8)
            o1[i] = pk.copysign(((v1 * v1) + v1), ((v0 % pk.uint8(25)) / pk.uint64(5)))
            t0_0 = pk.float32(a0)
            r0_0[i] = t0_0
            f0[i] = pk.log1p(t0_0)
            t1_0 = pk.float64((v1 if pk.bool_(False) else pk.min(v1, v1)))
            r1_0[i] = t1_0
            f1[i] = pk.tan(t1_0)
"""
from portakern.conformance.program import AtomicSpec, Batch, Case, Expr, LocalStage, Stmt, Tier1  # noqa: F401
from portakern.conformance.regression import bits_array, check_batch

BATCH = Batch(programs=(Case(inputs=(('x0', 'float32'),), outputs=(('o0', 'bool'), ('o1', 'float32')), body=(Stmt(kind='assign', target='v0', dtype='int32', expr=Expr(kind='bin', op='//', args=(Expr(kind='lit', op='', args=(), dtype='uint16', value=24), Expr(kind='lit', op='', args=(), dtype='int32', value=11)), dtype='int32', value=None), body=(), orelse=(), count=0), Stmt(kind='assign', target='v1', dtype='float64', expr=Expr(kind='bin', op='-', args=(Expr(kind='lit', op='', args=(), dtype='uint64', value=25), Expr(kind='call', op='rint', args=(Expr(kind='var', op='', args=(), dtype='float32', value='a0'),), dtype='float32', value=None)), dtype='float64', value=None), body=(), orelse=(), count=0), Stmt(kind='for', target='j0', dtype='int64', expr=None, body=(Stmt(kind='for', target='j1', dtype='int64', expr=None, body=(Stmt(kind='break_if', target='', dtype='', expr=Expr(kind='cast', op='', args=(Expr(kind='lit', op='', args=(), dtype='int8', value=3),), dtype='bool', value=None), body=(), orelse=(), count=0), Stmt(kind='break_if', target='', dtype='', expr=Expr(kind='cast', op='', args=(Expr(kind='lit', op='', args=(), dtype='uint8', value=0),), dtype='bool', value=None), body=(), orelse=(), count=0)), orelse=(), count=3), Stmt(kind='assign', target='v1', dtype='float64', expr=Expr(kind='bin', op='+', args=(Expr(kind='call', op='min', args=(Expr(kind='var', op='', args=(), dtype='float32', value='a0'), Expr(kind='cast', op='', args=(Expr(kind='var', op='', args=(), dtype='int64', value='j0'),), dtype='float32', value=None)), dtype='float32', value=None), Expr(kind='bin', op='>>', args=(Expr(kind='bin', op='%', args=(Expr(kind='cast', op='', args=(Expr(kind='var', op='', args=(), dtype='int32', value='v0'),), dtype='uint8', value=None), Expr(kind='lit', op='', args=(), dtype='uint32', value=13)), dtype='uint32', value=None), Expr(kind='bin', op='-', args=(Expr(kind='lit', op='', args=(), dtype='uint16', value=25), Expr(kind='cast', op='', args=(Expr(kind='var', op='', args=(), dtype='int32', value='v0'),), dtype='uint32', value=None)), dtype='uint32', value=None)), dtype='uint32', value=None)), dtype='float64', value=None), body=(), orelse=(), count=0), Stmt(kind='for', target='j1', dtype='int64', expr=None, body=(Stmt(kind='store', target='o0', dtype='bool', expr=Expr(kind='var', op='', args=(), dtype='int32', value='v0'), body=(), orelse=(), count=0),), orelse=(), count=1)), orelse=(), count=1), Stmt(kind='store', target='o0', dtype='bool', expr=Expr(kind='lit', op='', args=(), dtype='int64', value=-8), body=(), orelse=(), count=0), Stmt(kind='store', target='o1', dtype='float32', expr=Expr(kind='call', op='copysign', args=(Expr(kind='bin', op='+', args=(Expr(kind='bin', op='*', args=(Expr(kind='var', op='', args=(), dtype='float64', value='v1'), Expr(kind='var', op='', args=(), dtype='float64', value='v1')), dtype='float64', value=None), Expr(kind='var', op='', args=(), dtype='float64', value='v1')), dtype='float64', value=None), Expr(kind='bin', op='/', args=(Expr(kind='bin', op='%', args=(Expr(kind='var', op='', args=(), dtype='int32', value='v0'), Expr(kind='lit', op='', args=(), dtype='uint8', value=25)), dtype='int32', value=None), Expr(kind='lit', op='', args=(), dtype='uint64', value=5)), dtype='float64', value=None)), dtype='float64', value=None), body=(), orelse=(), count=0)), tier1=(Tier1(op='log1p', args=(Expr(kind='var', op='', args=(), dtype='float32', value='a0'),), arg_outs=('r0_0',), out='f0', dtype='float32'), Tier1(op='tan', args=(Expr(kind='sel', op='if', args=(Expr(kind='lit', op='', args=(), dtype='bool', value=False), Expr(kind='var', op='', args=(), dtype='float64', value='v1'), Expr(kind='call', op='min', args=(Expr(kind='var', op='', args=(), dtype='float64', value='v1'), Expr(kind='var', op='', args=(), dtype='float64', value='v1')), dtype='float64', value=None)), dtype='float64', value=None),), arg_outs=('r1_0',), out='f1', dtype='float64')), local=None, atomic=None, n=37, wg=None, strided=frozenset(['o1', 'x0']), values={'x0': bits_array('float32', [1091872496, 1046025929, 3212836696, 5572, 2147483649, 201929, 8388609, 2147483648, 3205955464, 1056964608, 1056964609, 2143289344, 4286578688, 2147483648, 348, 3234286188, 1120403457, 0, 218, 1056964608, 1088203712, 1101723317, 3246639894, 3208642559, 2147483648, 1036831950, 3241465703, 3221225473, 2147483648, 4286578688, 0, 3197737370, 3253731328, 3210151656, 4286578688, 3208642560, 3249680665]), 'o0': bits_array('bool', [1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0]), 'o1': bits_array('float32', [2147483648, 3198062587, 1945, 412542887, 2776629248, 3197087879, 5376, 3198294791, 1021771206, 1078530011, 8388607, 0, 7873, 1077936127, 4286578688, 1048576000, 2143289344, 0, 1347, 3198535363, 422314853, 3051, 856, 1086809625, 3248396685, 3207721684, 3540804142, 1104073924, 4286578688, 1092616192, 1040707232, 1132429311, 216, 323, 0, 1058651747, 0]), 'r0_0': bits_array('float32', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'f0': bits_array('float32', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'r1_0': bits_array('float64', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'f1': bits_array('float64', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])}),), n=37, wg=None)


def test_jax_ea1cee96f9d6_matches_the_oracle():
    check_batch(BATCH, 'jax')
