"""Filler codes derived from real reference codes: bit permutation within groups of bit positions
with similar marginals (keeps per-position statistics and the temporal structure: runs, cuts),
shot-level reordering, light per-code noise. Never uniform random."""
import numpy as np
def bit_groups(ref_bits, group=8):
    marg = ref_bits.mean(0)
    order = np.argsort(marg, kind="stable")
    return [order[i:i + group] for i in range(0, len(order), group)]
def permute_bits(bits, groups, rng):
    perm = np.arange(bits.shape[1])
    for g in groups:
        perm[g] = rng.permutation(g)
    return bits[:, perm]
def shots(bits, jump=64):
    d = (bits[1:] != bits[:-1]).sum(1)
    return np.split(np.arange(len(bits)), np.flatnonzero(d > jump) + 1)
def filler_codes(source_bits_list, n_codes, rng, group=8, noise=0.02, cut_jump=64):
    """n_codes filler codes (packed uint8) from a list of (n, 256) unpacked real code arrays, and a filler-ref id per code."""
    allbits = np.concatenate(source_bits_list)
    groups = bit_groups(allbits, group)
    out, ids, total, k = [], [], 0, 0
    while total < n_codes:
        src = source_bits_list[rng.integers(len(source_bits_list))]
        b = permute_bits(src, groups, rng)
        sh = shots(b, cut_jump)
        order = rng.permutation(len(sh))
        b = b[np.concatenate([sh[i] for i in order])]
        if rng.random() < 0.5: b = b[::-1]
        b = b ^ (rng.random(b.shape) < noise)
        out.append(np.packbits(b.astype(np.uint8), axis=1)); ids.append(np.full(len(b), k)); total += len(b); k += 1
    return np.concatenate(out)[:n_codes], np.concatenate(ids)[:n_codes]
