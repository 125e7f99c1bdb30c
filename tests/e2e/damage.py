#!/usr/bin/env python3
"""Makes damaged copies of a log for run-damaged.sh, deterministically.

    damage.py LOG OUTDIR COUNT

Writes COUNT files: flipped bytes, cut at random places, shuffled,
duplicated and deleted lines, swapped values, huge numbers, deep nesting.
"""
import os
import random
import sys


def main():
    src, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(src, "rb").read()
    lines = data.split(b"\n")
    rnd = random.Random(6)
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        how = i % 8
        d = bytearray(data)
        if how == 0:  # flipped bytes
            for _ in range(rnd.randint(1, 8)):
                p = rnd.randrange(len(d))
                d[p] ^= 1 << rnd.randrange(8)
        elif how == 1:  # cut anywhere
            d = d[:rnd.randrange(len(d))]
        elif how == 2:  # shuffled lines (the header stays first half the time)
            ls = lines[:]
            rnd.shuffle(ls)
            d = b"\n".join(ls)
        elif how == 3:  # duplicated and deleted lines
            ls = lines[:]
            for _ in range(3):
                j = rnd.randrange(len(ls))
                if rnd.random() < 0.5:
                    ls.insert(j, ls[rnd.randrange(len(ls))])
                elif j > 0:
                    del ls[j]
            d = b"\n".join(ls)
        elif how == 4:  # random bytes in place of a line
            ls = lines[:]
            j = rnd.randrange(len(ls))
            ls[j] = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 200)))
            d = b"\n".join(ls)
        elif how == 5:  # numbers made huge or negative
            s = data
            for old in (b'"id":1', b'"from":1', b'"module":0', b'"count":1', b'"to":2'):
                s = s.replace(old, old[:-1] + rnd.choice(
                    [b"99999999999999999999999", b"-1", b"1e400", b"0.5", b"18446744073709551615"]))
            d = bytearray(s)
        elif how == 6:  # hex fields damaged
            s = data
            for old in (b'"offset":"0x', b'"base":"0x', b'"pc":"0x'):
                s = s.replace(old, old + rnd.choice([b"zz", b"fffffffffffffffffff", b"", b"-"]), 1)
            d = bytearray(s)
        else:  # a deeply nested value inside a record
            depth = rnd.choice([63, 64, 65, 5000])
            nest = b"[" * depth + b"]" * depth
            ls = lines[:]
            j = rnd.randrange(1, len(ls) - 1)
            ls[j] = ls[j][:-1] + b',"x":' + nest + b"}" if ls[j].endswith(b"}") else nest
            d = b"\n".join(ls)
        with open(os.path.join(out, "damaged-%03d.log" % i), "wb") as f:
            f.write(bytes(d))


if __name__ == "__main__":
    main()
