"""Regression saved by `portakern conformance --seed 11` on backend 'numpy'.

Found: CompileError: <portakern-conformance-7c7610211ce3>:33: a int16 number has no attribute 'x' in kernels
    o0[i] = pk.where(pk.bool_(False), (-pk.int16(3)), (pk.int16(pk.vec(a0, a0, a0, a0, a0, a0, a0, a1)) if pk.bool_(False) else pk.int16(2)).x)
                                                      ^

The kernel:

    @pk.kernel
    def conf_7c7610211ce3(x0, x1, x2, x3, o0, o1, acc, tsz):
        i = pk.global_id(0)
        lid = pk.local_id(0)
        tile = pk.local_array(tsz, pk.uint32)
        s = pk.uint32(0)
        if i < x0.shape[0]:
            a0 = x0[i]
            a1 = x1[i]
            a2 = x2[i]
            a3 = x3[i]
            s = pk.uint32(pk.uint32(21))
        tile[lid] = s
        pk.barrier()
        h = 1
        while h < pk.local_size(0):
            if lid % (2 * h) == 0:
                tile[lid] = tile[lid] + tile[lid + h]
            h *= 2
            pk.barrier()
        w = tile[(lid + 2) % 4]
        if i < x0.shape[0]:
            a0 = x0[i]
            a1 = x1[i]
            a2 = x2[i]
            a3 = x3[i]
            v0 = pk.float32((pk.int8(5) // a3))
            v1 = pk.uint16(pk.min(pk.uint16(0), pk.uint16(30)))
            o0[i] = (pk.vec(pk.int8(0), pk.int8(0)).x if pk.vec(pk.bool_(False), pk.bool_(False)).x else pk.vec(pk.int8(2), pk.int8(0), pk.int8(0))[0])
            v0 = pk.float32((pk.vec(pk.int16(3), pk.int16(0), pk.int16(0)) + a3)[0])
            v1 = pk.uint16(v1)
            v0 = pk.float32((a3 if (pk.vec(pk.int16(0), pk.int16(0), pk.int16(0), pk.int16(0), pk.int16(0), pk.int16(0), pk.int16(0), pk.int16(0)) == pk.uint8(0))[5] else a3))
            o0[i] = pk.where(pk.bool_(False), (-pk.int16(3)), (pk.int16(pk.vec(a0, a0, a0, a0, a0, a0, a0, a1)) if pk.bool_(False) else pk.int16(2)).x)
            o1[i] = pk.int8(2)
            pk.atomic_add(acc, i % 1, pk.float32(pk.float32(a0)))
"""
from portakern.conformance.program import AtomicSpec, Batch, Case, Expr, LocalStage, Stmt, Tier1  # noqa: F401
from portakern.conformance.regression import bits_array, check_batch

BATCH = Batch(programs=(Case(inputs=(('x0', 'int32'), ('x1', 'int32'), ('x2', 'int32'), ('x3', 'float32')), outputs=(('o0', 'bool'), ('o1', 'int8')), body=(Stmt(kind='assign', target='v0', dtype='float32', expr=Expr(kind='bin', op='//', args=(Expr(kind='lit', op='', args=(), dtype='int8', value=5), Expr(kind='var', op='', args=(), dtype='float32', value='a3')), dtype='float32', value=None), body=(), orelse=(), count=0), Stmt(kind='assign', target='v1', dtype='uint16', expr=Expr(kind='call', op='min', args=(Expr(kind='lit', op='', args=(), dtype='uint16', value=0), Expr(kind='lit', op='', args=(), dtype='uint16', value=30)), dtype='uint16', value=None), body=(), orelse=(), count=0), Stmt(kind='store', target='o0', dtype='bool', expr=Expr(kind='sel', op='if', args=(Expr(kind='vec', op='', args=(Expr(kind='lit', op='', args=(), dtype='bool', value=False),), dtype='bool', value=(0, 2, ((Expr(kind='lit', op='', args=(), dtype='bool', value=False),),))), Expr(kind='vec', op='', args=(Expr(kind='lit', op='', args=(), dtype='int8', value=0),), dtype='int8', value=(0, 2, ((Expr(kind='lit', op='', args=(), dtype='int8', value=0),),))), Expr(kind='vec', op='', args=(Expr(kind='lit', op='', args=(), dtype='int8', value=2),), dtype='int8', value=(0, 3, ((Expr(kind='lit', op='', args=(), dtype='int8', value=0), Expr(kind='lit', op='', args=(), dtype='int8', value=0)),)))), dtype='int8', value=None), body=(), orelse=(), count=0), Stmt(kind='assign', target='v0', dtype='float32', expr=Expr(kind='vec', op='', args=(Expr(kind='bin', op='+', args=(Expr(kind='lit', op='', args=(), dtype='int16', value=3), Expr(kind='var', op='', args=(), dtype='float32', value='a3')), dtype='float32', value=None),), dtype='float32', value=(0, 3, ((Expr(kind='lit', op='', args=(), dtype='int16', value=0), Expr(kind='lit', op='', args=(), dtype='int16', value=0)), None))), body=(), orelse=(), count=0), Stmt(kind='assign', target='v1', dtype='uint16', expr=Expr(kind='var', op='', args=(), dtype='uint16', value='v1'), body=(), orelse=(), count=0), Stmt(kind='assign', target='v0', dtype='float32', expr=Expr(kind='sel', op='if', args=(Expr(kind='vec', op='', args=(Expr(kind='bin', op='==', args=(Expr(kind='lit', op='', args=(), dtype='int16', value=0), Expr(kind='lit', op='', args=(), dtype='uint8', value=0)), dtype='bool', value=None),), dtype='bool', value=(5, 8, ((Expr(kind='lit', op='', args=(), dtype='int16', value=0), Expr(kind='lit', op='', args=(), dtype='int16', value=0), Expr(kind='lit', op='', args=(), dtype='int16', value=0), Expr(kind='lit', op='', args=(), dtype='int16', value=0), Expr(kind='lit', op='', args=(), dtype='int16', value=0), Expr(kind='lit', op='', args=(), dtype='int16', value=0), Expr(kind='lit', op='', args=(), dtype='int16', value=0)), None))), Expr(kind='var', op='', args=(), dtype='float32', value='a3'), Expr(kind='var', op='', args=(), dtype='float32', value='a3')), dtype='float32', value=None), body=(), orelse=(), count=0), Stmt(kind='store', target='o0', dtype='bool', expr=Expr(kind='sel', op='where', args=(Expr(kind='lit', op='', args=(), dtype='bool', value=False), Expr(kind='un', op='neg', args=(Expr(kind='lit', op='', args=(), dtype='int16', value=3),), dtype='int16', value=None), Expr(kind='vec', op='', args=(Expr(kind='sel', op='if', args=(Expr(kind='lit', op='', args=(), dtype='bool', value=False), Expr(kind='cast', op='', args=(Expr(kind='var', op='', args=(), dtype='int32', value='a0'),), dtype='int16', value=None), Expr(kind='lit', op='', args=(), dtype='int16', value=2)), dtype='int16', value=None),), dtype='int16', value=(0, 8, ((Expr(kind='var', op='', args=(), dtype='int32', value='a0'), Expr(kind='var', op='', args=(), dtype='int32', value='a0'), Expr(kind='var', op='', args=(), dtype='int32', value='a0'), Expr(kind='var', op='', args=(), dtype='int32', value='a0'), Expr(kind='var', op='', args=(), dtype='int32', value='a0'), Expr(kind='var', op='', args=(), dtype='int32', value='a0'), Expr(kind='var', op='', args=(), dtype='int32', value='a1')), None)))), dtype='int16', value=None), body=(), orelse=(), count=0), Stmt(kind='store', target='o1', dtype='int8', expr=Expr(kind='lit', op='', args=(), dtype='int8', value=2), body=(), orelse=(), count=0)), tier1=(), local=LocalStage(expr=Expr(kind='lit', op='', args=(), dtype='uint32', value=21), dtype='uint32', shift=2, tree='+', guarded=False, size=4), atomic=AtomicSpec(op='add', dtype='float32', buckets=1, expr=Expr(kind='cast', op='', args=(Expr(kind='var', op='', args=(), dtype='int32', value='a0'),), dtype='float32', value=None)), n=35, wg=4, strided=frozenset([]), values={'x0': bits_array('int32', [0, 22, 7, -2, 0, 3, 8, 4, 1, 2, 1, 1, 5, 1, -2, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 0, 0, 2, 1]), 'x1': bits_array('int32', [0, 1, 0, 1, 0, 1, 2, 2, 0, 0, 2, 2, 2, 0, 2, 2, 1, 1, 0, 1, 2, 0, 2, 2, 2, 1, 0, 1, 2, 1, 1, 1, 0, 2, 0]), 'x2': bits_array('int32', [1, 0, 1, 0, 0, 1, 0, 2, 1, 0, 0, 2, 0, 2, 0, 0, 1, 1, 0, 1, 2, 2, 1, 1, 1, 0, 2, 0, 1, 0, 2, 2, 2, 2, 0]), 'x3': bits_array('float32', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1065353216, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'o0': bits_array('bool', [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0]), 'o1': bits_array('int8', [0, 123, 0, 0, 2, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 2, 1, 0, 0, 1, 0, 0, 2, 1, 1, 1, 1, 2]), 'acc': bits_array('float32', [0])}, constant=frozenset([])),), n=35, wg=4)


def test_numpy_7c7610211ce3_matches_the_oracle():
    check_batch(BATCH, 'numpy')
