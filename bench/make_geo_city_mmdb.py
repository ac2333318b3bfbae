#!/usr/bin/env python3
"""Writes a synthetic City-shaped MaxMind DB for timing `anondb lookup --geo`.

65,536 /24 networks in 100.0.0.0/8 (an IPv4 tree, 32-bit records), each with
its own record laid out like GeoIP2-City's (city, continent, country,
location, postal, registered_country, subdivisions; names in 8 languages),
about 62 MB: every lookup of a random address in 100.0.0.0/8 decodes a
record the annotator's cache has not seen. Standard library only.

    python3 bench/make_geo_city_mmdb.py OUT.mmdb
"""
import random
import struct
import sys


def ctrl(t, size):
    if size < 29:
        sz, extra = size, b''
    elif size < 285:
        sz, extra = 29, bytes([size - 29])
    elif size < 65821:
        sz, extra = 30, struct.pack('>H', size - 285)
    else:
        raise ValueError(size)
    head = bytes([(t << 5) | sz]) if t <= 7 else bytes([sz, t - 7])
    return head + extra


def s(x):
    b = x.encode()
    return ctrl(2, len(b)) + b


def uint(t, v, n):
    b = v.to_bytes(n, 'big').lstrip(b'\0')
    return ctrl(t, len(b)) + b


def u16(v): return uint(5, v, 2)
def u32(v): return uint(6, v, 4)
def u64(v): return uint(9, v, 8)
def dbl(v): return bytes([0x68]) + struct.pack('>d', v)


def m(d):
    out = ctrl(7, len(d))
    for k, v in d.items():
        out += s(k) + v
    return out


def arr(xs):
    return ctrl(11, len(xs)) + b''.join(xs)


LANGS = ['de', 'en', 'es', 'fr', 'ja', 'pt-BR', 'ru', 'zh-CN']
COUNTRIES = [('GB', 'United Kingdom'), ('US', 'United States'), ('DE', 'Germany'), ('SE', 'Sweden'),
             ('JP', 'Japan'), ('FR', 'France'), ('BR', 'Brazil'), ('IN', 'India')]


def names(base):
    return m({lang: s(base if lang == 'en' else base + '-' + lang) for lang in LANGS})


def main(out_path):
    random.seed(1)
    data = bytearray()
    offsets = []
    for i in range(65536):
        cc, cn = COUNTRIES[i % len(COUNTRIES)]
        offsets.append(len(data))
        data += m({
            'city': m({'geoname_id': u32(1000000 + i), 'names': names('City%05d' % i)}),
            'continent': m({'code': s('EU'), 'geoname_id': u32(6255148), 'names': names('Europe')}),
            'country': m({'geoname_id': u32(2635167 + i % 8), 'iso_code': s(cc), 'names': names(cn)}),
            'location': m({'accuracy_radius': u16(100), 'latitude': dbl(51.5), 'longitude': dbl(-0.1),
                           'time_zone': s('Europe/London')}),
            'postal': m({'code': s('P%d' % i)}),
            'registered_country': m({'geoname_id': u32(2635167), 'iso_code': s(cc), 'names': names(cn)}),
            'subdivisions': arr([m({'geoname_id': u32(i), 'iso_code': s('S%d' % (i % 50)),
                                    'names': names('Sub%d' % (i % 50))})]),
        })
    # The path to 100.0.0.0/8, then a full tree of 16 levels: its leaves are the /24s.
    nodes = []

    def new():
        nodes.append([None, None])
        return len(nodes) - 1

    cur = new()
    top = [(100 >> (7 - k)) & 1 for k in range(8)]
    for k in range(8):
        n = new()
        nodes[cur][top[k]] = ('n', n)
        cur = n
    level = [cur]
    for _ in range(15):
        nxt = []
        for p in level:
            a, b = new(), new()
            nodes[p] = [('n', a), ('n', b)]
            nxt += [a, b]
        level = nxt
    for j, p in enumerate(level):
        nodes[p] = [('d', offsets[2 * j]), ('d', offsets[2 * j + 1])]
    count = len(nodes)
    out = bytearray()
    for node in nodes:
        for r in node:
            v = count if r is None else (r[1] if r[0] == 'n' else count + 16 + r[1])
            out += struct.pack('>I', v)
    out += b'\0' * 16 + data + b'\xab\xcd\xefMaxMind.com'
    out += m({'node_count': u32(count), 'record_size': u16(32), 'ip_version': u16(4),
              'binary_format_major_version': u16(2), 'binary_format_minor_version': u16(0),
              'build_epoch': u64(1767225600), 'database_type': s('Synthetic-City'),
              'languages': arr([s('en')]), 'description': m({'en': s('synthetic timing database')})})
    with open(out_path, 'wb') as f:
        f.write(out)
    print('wrote %s: %d nodes, %d bytes' % (out_path, count, len(out)))


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
