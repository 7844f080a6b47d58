"""llama.cpp's --kl-divergence-base file and KL statistics, reimplemented
in plain Python from the definitions in llama.cpp's
tools/perplexity/perplexity.cpp (independently of qlens's C code), for
tests/e2e_kl_llamacpp.sh.

  python3 tests/kl_ref.py write IDS N_CTX N_CHUNKS BASE.f32 OUT.kl
      the base file llama-perplexity --kl-divergence-base writes, from raw
      logits (rows of the scored positions, float32, token-id order)
  python3 tests/kl_ref.py stats BASE.kl CAND.f32
      the statistics llama-perplexity --kl-divergence prints, as JSON
  python3 tests/kl_ref.py compare A.kl B.kl
      headers and tokens byte-equal; the largest difference of the packed
      uint16 values and of the per-record scale / min_log_prob

Float32 arithmetic is emulated (f32() after each single-precision
operation of the C++ code) where it matters to the packed values."""
import json
import math
import struct
import sys


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def nv_of(n_vocab):
    return 2 * ((n_vocab + 1) // 2) + 4


def read_rows(path, n_vocab):
    data = open(path, 'rb').read()
    n = len(data) // (4 * n_vocab)
    return [struct.unpack_from('<%df' % n_vocab, data, 4 * n_vocab * r) for r in range(n)]


def pack(x):
    """One record: llama.cpp's log_softmax(n_vocab, logits, log_prob, tok)."""
    mx = max(x)
    mn = max(min(x), f32(mx - 16))
    s = 0.0
    for v in x:
        s += f32(math.exp(f32(v - mx)))
    lse = f32(math.log(s))
    min_lp = f32(f32(mn - mx) - lse)
    scale = f32(f32(mx - mn) / 65535.0)
    q = [0] * len(x)
    if scale:
        inv = f32(1.0 / scale)
        for i, v in enumerate(x):
            if v > mn:
                q[i] = round(f32(inv * f32(v - mn)))  # nearest, ties to even
    words = list(q) + [0] * (nv_of(len(x)) - 4 - len(x))
    return struct.pack('<2f', scale, min_lp) + struct.pack('<%dH' % len(words), *words)


def write(ids_path, n_ctx, n_chunk, base_f32, out):
    ids = [int(t) for t in open(ids_path).read().split()][:n_ctx * n_chunk]
    rows = n_ctx - 1 - n_ctx // 2
    data = open(base_f32, 'rb').read()
    n_vocab = len(data) // (4 * rows * n_chunk)
    with open(out, 'wb') as f:
        f.write(b'_logits_' + struct.pack('<3i', n_ctx, n_vocab, n_chunk))
        f.write(struct.pack('<%di' % len(ids), *ids))
        for r in range(rows * n_chunk):
            f.write(pack(struct.unpack_from('<%df' % n_vocab, data, 4 * n_vocab * r)))


def read_kl(path):
    d = open(path, 'rb').read()
    assert d[:8] == b'_logits_'
    n_ctx, n_vocab, n_chunk = struct.unpack_from('<3i', d, 8)
    toks = struct.unpack_from('<%di' % (n_ctx * n_chunk), d, 20)
    off = 20 + 4 * n_ctx * n_chunk
    nv = nv_of(n_vocab)
    recs = []
    for r in range(n_chunk * (n_ctx - 1 - n_ctx // 2)):
        scale, min_lp = struct.unpack_from('<2f', d, off)
        q = struct.unpack_from('<%dH' % n_vocab, d, off + 8)
        recs.append((scale, min_lp, q))
        off += 2 * nv
    assert off == len(d), 'size'
    return n_ctx, n_vocab, n_chunk, toks, recs


def score(x, rec, tok, acc):
    """llama.cpp's log_softmax(n_vocab, logits, base_log_prob, tok, kld)."""
    scale, min_lp, q = rec
    mx, imax = x[0], 0
    for i in range(1, len(x)):
        if x[i] > mx:
            mx, imax = x[i], i
    s = 0.0
    for v in x:
        s += f32(math.exp(f32(v - mx)))
    lse = f32(math.log(s))
    nll = f32(f32(mx + lse) - x[tok])
    nll_base = f32(-f32(f32(scale * q[tok]) + min_lp))
    top = f32(mx + lse)
    kl, imax_base, best = 0.0, -1, 0.0
    for i in range(len(x)):
        lb = f32(f32(scale * q[i]) + min_lp)
        if i == 0 or lb > best:
            best, imax_base = lb, i
        if lb > -16.0:
            kl += f32(f32(math.exp(lb)) * f32(f32(lb - x[i]) + top))
    dp = f32(f32(math.exp(-nll)) - f32(math.exp(-nll_base)))
    for k, v in (('nll', nll), ('nll2', nll * nll), ('nllb', nll_base),
                 ('nllb2', nll_base * nll_base), ('nn', nll * nll_base), ('kld', kl),
                 ('kld2', kl * kl), ('dp', dp), ('dp2', dp * dp), ('dp4', dp ** 4)):
        acc[k] = acc.get(k, 0.0) + v
    acc['same'] = acc.get('same', 0) + (imax == imax_base)
    acc['n'] = acc.get('n', 0) + 1
    return kl, dp


def mean_unc(s, s2, n):
    f = s / n
    df = s2 / n - f * f
    return f, (math.sqrt(df / (n - 1)) if df > 0 and n > 10 else 0.0)


def pct(v, fraction):
    if fraction <= 0:
        return v[0]
    if fraction >= 1:
        return v[-1]
    p = f32(f32(fraction) * (len(v) - 1))
    ip = int(p)
    p -= ip
    return (1 - p) * v[ip] + p * v[min(ip + 1, len(v) - 1)]


def median(v):
    n = len(v)
    return 0.5 * (v[n // 2] + v[n // 2 - 1]) if n % 2 == 0 else v[n // 2]


def stats(kl_path, cand_f32):
    n_ctx, n_vocab, n_chunk, toks, recs = read_kl(kl_path)
    xs = read_rows(cand_f32, n_vocab)
    rows = n_ctx - 1 - n_ctx // 2
    first = n_ctx // 2
    acc, klv, dpv = {}, [], []
    for c in range(n_chunk):
        for j in range(rows):
            r = c * rows + j
            kl, dp = score(xs[r], recs[r], toks[c * n_ctx + first + j + 1], acc)
            klv.append(f32(kl))
            dpv.append(dp)
    n = acc['n']
    lp, lpu = mean_unc(acc['nll'], acc['nll2'], n)
    lb, lbu = mean_unc(acc['nllb'], acc['nllb2'], n)
    cov = (acc['nn'] / n - (acc['nll'] / n) * (acc['nllb'] / n)) / (n - 1)
    ppl, pplb = math.exp(lp), math.exp(lb)
    ratio = lp - lb
    ratio_u = math.sqrt(lpu * lpu + lbu * lbu - 2 * cov)
    kld, kldu = mean_unc(acc['kld'], acc['kld2'], n)
    dpm, dpu = mean_unc(acc['dp'], acc['dp2'], n)
    mse, mseu = mean_unc(acc['dp2'], acc['dp4'], n)
    rms = math.sqrt(mse)
    same = acc['same'] / n
    klv.sort()
    dpv.sort()
    out = {
        'count': n, 'ppl': ppl, 'ppl_stderr': ppl * lpu, 'base_ppl': pplb,
        'base_stderr': pplb * lbu, 'cor_ln_ppl': cov / (lpu * lbu),
        'ln_ppl_ratio': ratio, 'ln_ppl_ratio_stderr': ratio_u,
        'ppl_ratio': math.exp(ratio), 'ppl_ratio_stderr': math.exp(ratio) * ratio_u,
        'ppl_diff': ppl - pplb,
        'ppl_diff_stderr': math.sqrt((ppl * lpu) ** 2 + (pplb * lbu) ** 2 - 2 * ppl * pplb * cov),
        'kld_mean': kld, 'kld_stderr': kldu,
        'dp_mean': dpm, 'dp_stderr': dpu, 'dp_rms': rms, 'dp_rms_stderr': 0.5 / rms * mseu,
        'top1': same, 'top1_stderr': math.sqrt(same * (1 - same) / (n - 1)),
    }
    for name, v in (('kld', klv), ('dp', dpv)):
        out[name + '_max'] = v[-1]
        out[name + '_min'] = v[0]
        out[name + '_median'] = median(v)
        for key, fr in (('p99_9', .999), ('p99', .99), ('p95', .95), ('p90', .90),
                        ('p75', .75), ('p25', .25), ('p10', .10), ('p5', .05), ('p1', .01),
                        ('p0_1', .001)):
            out[name + '_' + key] = pct(v, fr)
    return out


def compare(a, b):
    """Headers + tokens byte-equal?  The largest difference of the unpacked
    log-probabilities kept in both files (within 16 nats of the top)."""
    A, B = read_kl(a), read_kl(b)
    da, db = open(a, 'rb').read(), open(b, 'rb').read()
    head = 20 + 4 * A[0] * A[2]
    res = {'header_equal': A[:3] == B[:3] and da[:head] == db[:head],
           'max_logprob_diff': 0.0, 'records': len(A[4])}
    for (sa, ma, qa), (sb, mb, qb) in zip(A[4], B[4]):
        for x, y in zip(qa, qb):
            if x and y:
                d = abs((sa * x + ma) - (sb * y + mb))
                res['max_logprob_diff'] = max(res['max_logprob_diff'], d)
    return res


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'write':
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif cmd == 'stats':
        print(json.dumps(stats(sys.argv[2], sys.argv[3])))
    elif cmd == 'compare':
        print(json.dumps(compare(sys.argv[2], sys.argv[3])))
    else:
        sys.exit('usage: kl_ref.py write|stats|compare ...')
