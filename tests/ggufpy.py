"""Independent pure-Python GGUF reader for the e2e tests (no numpy).

Reads the header and tensor data of a little-endian GGUF v2/v3 file and
dequantizes F32, F16, Q8_0 and Q4_0 straight from ggml's block layouts
(Q8_0: f16 d + 32 int8, x = d*q; Q4_0: f16 d + 16 bytes, low nibbles are
values 0..15, high nibbles 16..31, x = d*(q-8)), so qlens's numbers can be
checked against code that shares nothing with it.

  python3 ggufpy.py diff BASE OTHER    -> JSON {name: [mse, sqnr, max, rel, bpw]}
  python3 ggufpy.py f16 SRC DST        -> copy SRC with every 2-D tensor in F16
  python3 ggufpy.py same A B [KEY..]   -> exit 0 when A and B hold the same
                                          metadata (values of KEYs aside), tensor
                                          infos and tensor bytes
"""
import json, math, struct, sys

SCALAR = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
BLOCK = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34)}  # type: (values, bytes)


class Reader:
    def __init__(self, path):
        self.b = open(path, 'rb').read()
        self.p = 0

    def get(self, fmt):
        v = struct.unpack_from('<' + fmt, self.b, self.p)
        self.p += struct.calcsize('<' + fmt)
        return v

    def string(self):
        (n,) = self.get('Q')
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.get('IQ')
            return [self.value(et) for _ in range(n)]
        return self.get(SCALAR[t])[0]


def parse(path):
    r = Reader(path)
    magic, ver, nt, nkv = r.get('4sIQQ')
    assert magic == b'GGUF'
    kv = []
    for _ in range(nkv):
        k = r.string()
        (t,) = r.get('I')
        start = r.p
        r.value(t)
        kv.append((k, t, r.b[start:r.p]))
    tensors = []
    for _ in range(nt):
        name = r.string().decode()
        (nd,) = r.get('I')
        ne = r.get('Q' * nd)
        t, off = r.get('IQ')
        tensors.append((name, list(ne), t, off))
    align = 32
    data = (r.p + align - 1) // align * align
    return r.b, kv, tensors, data, ver


def half(b, o):
    return struct.unpack_from('<e', b, o)[0]


def values(b, t, ne, base):
    n = 1
    for d in ne:
        n *= d
    if t == 0:
        return list(struct.unpack_from('<%df' % n, b, base))
    if t == 1:
        return list(struct.unpack_from('<%de' % n, b, base))
    out = []
    vals, size = BLOCK[t]
    for k in range(n // vals):
        o = base + k * size
        d = half(b, o)
        if t == 8:
            out.extend(d * q for q in struct.unpack_from('<32b', b, o + 2))
        else:
            qs = b[o + 2:o + 18]
            out.extend(d * ((q & 15) - 8) for q in qs)
            out.extend(d * ((q >> 4) - 8) for q in qs)
    return out


def load(path):
    b, _, tensors, data, _ = parse(path)
    return {name: (t, ne, values(b, t, ne, data + off)) for name, ne, t, off in tensors}


def diff(base, other):
    a, o = load(base), load(other)
    res = {}
    for name, (t, ne, w) in a.items():
        if name not in o:
            continue
        ot, one, q = o[name]
        se = sig = mx = 0.0
        for x, y in zip(w, q):
            e = y - x
            se += e * e
            sig += x * x
            mx = max(mx, abs(e))
        n = len(w)
        vals, size = BLOCK[ot]
        sq = 300.0 if se == 0 else 10 * math.log10(sig / se)
        rel = 0.0 if se == 0 else math.sqrt(se / sig)
        res[name] = [se / n, sq, mx, rel, 8.0 * size / vals]
    json.dump(res, sys.stdout)


def to_f16(src, dst):
    b, kv, tensors, data, ver = parse(src)
    out = bytearray(b'GGUF' + struct.pack('<IQQ', ver, len(tensors), len(kv)))
    for k, t, raw in kv:
        out += struct.pack('<Q', len(k)) + k + struct.pack('<I', t) + raw
    blobs, off = [], 0
    for name, ne, t, o in tensors:
        v = values(b, t, ne, data + o)
        nt = 1 if len(ne) == 2 else 0
        blob = struct.pack('<%d%s' % (len(v), 'e' if nt == 1 else 'f'), *v)
        nb = name.encode()
        out += struct.pack('<Q', len(nb)) + nb + struct.pack('<I', len(ne))
        out += struct.pack('<%dQ' % len(ne), *ne) + struct.pack('<IQ', nt, off)
        blobs.append(blob + b'\0' * ((-len(blob)) % 32))
        off += len(blobs[-1])
    out += b'\0' * ((-len(out)) % 32)
    for blob in blobs:
        out += blob
    open(dst, 'wb').write(out)


def same(a, b, skip):
    ba, kva, ta, da, va = parse(a)
    bb, kvb, tb, db, vb = parse(b)
    ka = [(k, t, raw if k.decode() not in skip else None) for k, t, raw in kva]
    kb = [(k, t, raw if k.decode() not in skip else None) for k, t, raw in kvb]
    if ka != kb:
        print('metadata differs'); return 1
    if ta != tb:
        print('tensor infos differ'); return 1
    if ba[da:] != bb[db:]:
        print('tensor data differs'); return 1
    return 0


if __name__ == '__main__':
    if sys.argv[1] == 'same':
        sys.exit(same(sys.argv[2], sys.argv[3], set(sys.argv[4:])))
    if sys.argv[1] == 'diff':
        diff(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'f16':
        to_f16(sys.argv[2], sys.argv[3])
