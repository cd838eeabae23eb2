#!/usr/bin/env python3
"""Check the syzkaller description of /dev/viommu_shadow against its uapi header.

Parses viommu_shadow.txt (syzlang, next to this script) and
include/uapi/linux/viommu_shadow.h, checks names in Python and values with a
C file of _Static_asserts compiled against the header ($CC, default cc):
- ioctls: ioctl$VIOMMU_SHADOW_X[$variant] passes cmd const[X] on the fd of
  openat$ /dev/viommu_shadow; X is a header `#define ... _IO(...)` with the
  header's type byte and number VIOMMU_SHADOW_CMD_X, unlike the others; the
  arg is the struct the header's comments give for X; all X are described.
- structs: each is a header struct (a name$variant is name) with its fields
  in order, the header's offsets, sizes and sizeof; all are described.
- constants: each is the header's (or a `define` here, which must compile)
  and fits its integer; each "/* struct::field */" group of #defines is that
  field's exact flag set, of disjoint bits; syz-extract's .const file, if
  present next to the description, has the header's values.

Usage, from anywhere: python3 tools/testing/syzkaller/check_description.py
Prints a line per group and a summary line; exits 1 on any mismatch.
"""
import os, re, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
DESC = os.path.join(HERE, 'viommu_shadow.txt')
UAPI = os.path.join(TOP, 'include', 'uapi')
HEADER = os.path.join(UAPI, 'linux', 'viommu_shadow.h')

# Sizes in bytes (64-bit target); the resources and the AT_FDCWD and
# open_flags names are declared by syzkaller's dev_vfio.txt, dev_iommu.txt, sys.txt.
FIXED = {'int8': 1, 'int16': 2, 'int32': 4, 'int64': 8, 'intptr': 8, 'ptr': 8, 'ptr64': 8, 'vma': 8,
         'vma64': 8, 'fd': 4, 'fd_vfio': 4, 'fd_iommufd': 4, 'ioas_handle': 4, 'hwpt_handle': 4}
EXTERNAL_CONSTS = {'AT_FDCWD'}
EXTERNAL_FLAGS = {'open_flags'}
WRAPPERS = ('const', 'flags', 'len', 'bytesize', 'bytesize2', 'bytesize4', 'bytesize8', 'bitsize', 'proc')
INT = re.compile(r'int(8|16|32|64)$')
IDENT = re.compile(r'[A-Za-z_]\w*$')
problems = []  # (group, message)
bad = lambda group, msg: problems.append((group, msg))


def split_top(s):
    """Split s at the commas outside brackets and quotes."""
    parts, depth, cur, quoted = [], 0, '', False
    for ch in s:
        quoted ^= ch == '"'
        depth += 0 if quoted else (ch in '[(') - (ch in '])')
        if ch == ',' and depth == 0 and not quoted:
            parts, cur = parts + [cur.strip()], ''
        else:
            cur += ch
    return parts + [cur.strip()] if cur.strip() else parts


def parse_type(t):
    """'ptr64[out, array[int64], opt]' -> ('ptr64', ['out', 'array[int64]', 'opt'])"""
    m = re.fullmatch(r'([\w$]+)(?::\d+)?(?:\[(.*)\])?', t.strip(), re.S)
    if not m:
        raise SystemExit(f'check_description: cannot parse type {t!r}')
    return m.group(1), split_top(m.group(2) or '')


def parse_description(path):
    d = {'calls': [], 'structs': {}, 'unions': {}, 'flags': {}, 'defines': {}, 'resources': {}}
    block = None
    for n, raw in enumerate(open(path), 1):
        line = re.sub(r'(^|\s)#.*', '', raw).strip()
        if not line or re.match(r'(include|incdir)\s', line):
            continue
        if block is not None:
            if re.fullmatch(r'[}\]]\s*(\[.*\])?', line):
                block = None
            else:  # field: name type [(direction)]
                block.append(re.fullmatch(r'(\w+)\s+(.+?)(?:\s+\(\w+\))?', line).groups())
        elif re.fullmatch(r'[\w$]+\s*[{\[]', line):
            block = d['structs' if line[-1] == '{' else 'unions'].setdefault(line[:-1].strip(), [])
        elif re.match(r'define\s', line):
            d['defines'].update([line.split(None, 2)[1:]])
        elif re.match(r'resource\s', line):
            d['resources'].update([re.match(r'resource\s+(\w+)\[(\w+)\]', line).groups()])
        elif re.fullmatch(r'\w+\s*=.*', line):
            name, vals = line.split('=', 1)
            d['flags'][name.strip()] = split_top(vals)
        elif re.fullmatch(r'[\w$]+\(.*\)\s*[\w$]*', line):
            name, args, ret = re.fullmatch(r'([\w$]+)\((.*)\)\s*([\w$]*)', line).groups()
            d['calls'].append((name, [a.split(None, 1) for a in split_top(args)], ret))
        else:
            bad('description', f'{path}:{n}: cannot parse {line!r}')
    return d


def parse_header(path):
    raw = open(path).read()
    code = re.sub(r'/\*.*?\*/', ' ', raw, flags=re.S).replace('\\\n', ' ')
    h = {'macros': dict(re.findall(r'^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(.*)$', code, re.M))}
    h['ioctls'] = sorted(n for n, v in h['macros'].items()
                         if n.startswith('VIOMMU_SHADOW_') and re.match(r'_IO(W|R|WR)?\s*\(', v))
    h['enums'] = {i.split('=')[0].strip() for body in re.findall(r'\benum\b[^{;]*\{(.*?)\}', code, re.S)
                  for i in body.split(',') if i.strip()}
    h['structs'] = {name: re.findall(r'(\w+)\s*(?:\[[^\]]*\])?\s*;', body)
                    for name, body in re.findall(r'\bstruct\s+(\w+)\s*\{(.*?)\}\s*;', code, re.S)}
    # "/* struct::field ... */" right above a run of #defines: that field's flags
    h['families'] = [(s, f, re.findall(r'#define\s+(\w+)', defs)) for s, f, defs in re.findall(
        r'/\*\s*(\w+)::(\w+)\b[^*]*\*/\s*\n((?:[ \t]*#define[^\n]*\n)+)', raw)]
    # "struct X - ioctl(CMD)" (kernel-doc) or "ioctl(CMD), with struct X"
    h['arg'] = {c: s for s, c in re.findall(r'struct\s+(\w+)\s+-\s+ioctl\((\w+)\)', raw)}
    h['arg'].update(re.findall(r'ioctl\((\w+)\),\s+with\s+struct\s+(\w+)', raw))
    return h


def size_align(d, t):
    """Size and alignment in bytes of a description type, as syzkaller lays it out."""
    name, opts = parse_type(t)
    if name in FIXED:
        return FIXED[name], FIXED[name]
    if name in WRAPPERS or name in d['resources']:
        return size_align(d, opts[-1] if name in WRAPPERS else d['resources'][name])
    if name in d['unions']:
        sizes = [size_align(d, ft) for _, ft in d['unions'][name]]
        return max(s for s, _ in sizes), max(a for _, a in sizes)
    if name in d['structs']:
        return layout(d, name)[1:]
    raise SystemExit(f'check_description: unknown type {name!r}')


def layout(d, struct):
    """([(field, type, offset, size)], sizeof, alignof) of a described struct."""
    out, off, align = [], 0, 1
    for fname, ftype in d['structs'][struct]:
        size, a = size_align(d, ftype)
        off = -(-off // a) * a
        out.append((fname, ftype, off, size))
        off, align = off + size, max(align, a)
    return out, -(-off // align) * align, align


def constants_in(d, t, where, out, seen):
    """Append (constant or literal, bits of the integer it goes in, where) for type t."""
    name, opts = parse_type(t)
    last = opts[-1] if opts else ''
    bits = int(name[3:]) if INT.match(name) else int(last[3:]) if INT.match(last) else 64
    if name == 'const':
        out.append((opts[0], bits, where))
    elif name == 'flags' and opts[0] not in EXTERNAL_FLAGS:
        if opts[0] not in d['flags']:
            bad('constants', f'{where}: flag set {opts[0]} is not defined')
        out.extend((v, bits, f'{where} ({opts[0]})') for v in d['flags'].get(opts[0], []))
    elif INT.match(name):
        out.extend((v, bits, where) for o in opts for v in re.split(r'[:\s]+', o))
    elif name in ('ptr', 'ptr64'):
        constants_in(d, opts[1], where, out, seen)
    elif name == 'array':
        constants_in(d, opts[0], where, out, seen)
        out.extend((v, 64, where) for o in opts[1:] for v in o.split(':'))
    elif name in d['structs'] or name in d['unions']:
        if name not in seen:
            seen.add(name)
            for fname, ftype in d['structs'].get(name) or d['unions'][name]:
                constants_in(d, ftype, f'{name}.{fname}', out, seen)


def check_ioctls(d, h, A):
    fds = [r for n, args, r in d['calls'] if n.startswith('openat$') and '"/dev/viommu_shadow"' in str(args)]
    described = {}
    for name, args, _ in (x for x in d['calls'] if x[0].startswith('ioctl$')):
        cmd, a = name.split('$')[1], dict(args)
        described.setdefault(cmd, []).append(name)
        if a.get('cmd') != f'const[{cmd}]':
            bad('ioctls', f'{name}: cmd is {a.get("cmd")}, not const[{cmd}]')
        if cmd not in h['ioctls']:
            bad('ioctls', f'{name}: {cmd} is not an ioctl macro of the header')
            continue
        if a.get('fd') not in fds:
            bad('ioctls', f'{name}: fd is {a.get("fd")}, not openat$ of /dev/viommu_shadow')
        arg = parse_type(a.get('arg', 'none[none]'))[1][-1].split('$')[0]
        if h['arg'].get(cmd) != arg:
            bad('ioctls', f'{name}: arg is {arg}, the header says struct {h["arg"].get(cmd)}')
        A(f'_IOC_TYPE({cmd}) == VIOMMU_SHADOW_TYPE', 'ioctls', f'{cmd} has another type byte')
        enum = cmd.replace('VIOMMU_SHADOW_', 'VIOMMU_SHADOW_CMD_', 1)
        if enum in h['enums']:
            A(f'_IOC_NR({cmd}) == {enum}', 'ioctls', f'{cmd} is not numbered {enum}')
    for x in (x for x in h['ioctls'] if x not in described):
        bad('ioctls', f'header ioctl {x} is not described (no ioctl${x})')
    cmds = sorted(set(described) & set(h['ioctls']))
    for i, x in enumerate(cmds):
        for y in cmds[i + 1:]:
            A(f'{x} != {y}', 'ioctls', f'{x} and {y} have the same number')
    return cmds, sum(map(len, described.values()))


def check_structs(d, h, A):
    nfields = 0
    for name in d['structs']:
        hs, (fields, size, _) = name.split('$')[0], layout(d, name)
        if hs not in h['structs']:
            bad('structs', f'{name}: the header has no struct {hs}')
            continue
        if [f[0] for f in fields] != h['structs'][hs]:
            bad('structs', f'{name}: fields {[f[0] for f in fields]}, struct {hs} has {h["structs"][hs]}')
        A(f'sizeof(struct {hs}) == {size}', 'structs', f'{name} is {size} bytes, sizeof(struct {hs}) is not')
        for fname, ftype, off, fsize in (f for f in fields if f[0] in h['structs'][hs]):
            nfields += 1
            A(f'offsetof(struct {hs}, {fname}) == {off}', 'structs',
              f'{name}.{fname} is at offset {off} here, not in the header')
            A(f'sizeof(((struct {hs} *)0)->{fname}) == {fsize}', 'structs',
              f'{name}.{fname} is {fsize} bytes here ({ftype}), not in the header')
    for hs in (s for s in h['structs'] if not any(n.split('$')[0] == s for n in d['structs'])):
        bad('structs', f'header struct {hs} is not described')
    return nfields


def check_constants(d, h, A, c, hnames):
    for name, expr in d['defines'].items():
        c.append(f'_Static_assert(({name}) == ({expr}), "constants: define {name} is not the header\'s");'
                 if name in hnames else f'#define {name} {expr}')
    used, seen, checked = [], set(), set()
    for name, args, _ in d['calls']:
        for aname, atype in args:
            constants_in(d, atype, f'{name}:{aname}', used, seen)
    for s in list(d['structs']) + list(d['unions']):
        constants_in(d, s, s, used, seen)
    for val, bits, where in used:
        if not IDENT.match(val):
            if int(val, 0) >> bits:
                bad('constants', f'{where}: {val} does not fit int{bits}')
        elif val not in hnames | set(d['defines']) | EXTERNAL_CONSTS:
            bad('constants', f'{where}: {val} is not defined by the header')
        elif val not in EXTERNAL_CONSTS:
            checked.update([val] if val in hnames else [])
            if bits < 64:
                A(f'(unsigned long long)({val}) < (1ULL << {bits})', 'constants', f'{val} overflows {where}')
    for s, f, members in h['families']:
        targets = [(n, t) for n in d['structs'] if n.split('$')[0] == s for fn, t in d['structs'][n] if fn == f]
        if not targets:
            bad('constants', f'header flags of {s}::{f}: no such field is described')
        for n, t in targets:
            kind, opts = parse_type(t)
            have = d['flags'].get(opts[0], []) if kind == 'flags' else []
            if sorted(have) != sorted(members):
                bad('constants', f'{n}.{f} is {t} {have}; the header lists {members}')
        A(f'({" | ".join(members)}) == ({" + ".join(members)})', 'constants', f'{s}::{f} flags overlap')
        checked.update(members)
    if os.path.exists(DESC + '.const'):  # syz-extract's output, if it was run here
        for name, val in re.findall(r'^(\w+)\s*=\s*(?:.*?amd64:)?\s*(\d+)', open(DESC + '.const').read(), re.M):
            if name in hnames:
                A(f'(unsigned long long)({name}) == {val}ULL', 'constants', f'{name} is {val} in the .const file')
    return checked


def main():
    d, h = parse_description(DESC), parse_header(HEADER)
    c = ['#include <stddef.h>', '#include <linux/ioctl.h>', '#include <linux/viommu_shadow.h>']
    A = lambda cond, group, msg: c.append(f'_Static_assert({cond}, "{group}: {msg}");')
    cmds, ncalls = check_ioctls(d, h, A)
    nfields = check_structs(d, h, A)
    checked = check_constants(d, h, A, c, set(h['macros']) | h['enums'])
    with tempfile.NamedTemporaryFile('w', suffix='.c', prefix='syz_vshadow_') as tmp:
        tmp.write('\n'.join(dict.fromkeys(c)) + '\n')
        tmp.flush()
        cc = os.environ.get('CC', 'cc').split()
        res = subprocess.run(cc + ['-std=gnu11', '-fsyntax-only', '-I', UAPI, tmp.name],
                             capture_output=True, text=True)
    for line in res.stderr.splitlines():  # gcc and clang word a failed assert differently
        m = re.search(r'static.assert\w* failed.*?(?:"|\': )(ioctls|structs|constants): (.*?)"?$', line)
        if m:
            bad(*m.groups())
        elif 'error:' in line:
            bad('compile', line.replace(tmp.name, '<generated C>'))
    if res.returncode and not problems:
        bad('compile', f'{cc[0]} failed: {res.stderr.strip()}')

    groups = {'ioctls': f'{len(cmds)}/{len(h["ioctls"])} header ioctls in {ncalls} calls: names, numbers, args',
              'structs': f'{len(d["structs"])} for {len(h["structs"])} header structs, {nfields} fields: layout',
              'constants': f'{len(checked)} header constants, {len(d["defines"])} defines, '
                           f'{len(h["families"])} flag groups: defined, fit, complete'}
    for group, text in groups.items():
        mismatches = [m for g, m in problems if g == group]
        print(f'{group}: {text}: {"FAILED" if mismatches else "ok"}')
        print(''.join(f'  MISMATCH: {m}\n' for m in mismatches), end='')
    print(''.join(f'{g}: {m}\n' for g, m in problems if g not in groups), end='')
    if problems:
        print(f'syzkaller description: {len(problems)} mismatch(es) with {os.path.relpath(HEADER, TOP)}')
        return 1
    print(f'syzkaller description: {len(cmds)} ioctls, {len(h["structs"])} structs, {len(checked)} constants checked')
    return 0


if __name__ == '__main__':
    sys.exit(main())
