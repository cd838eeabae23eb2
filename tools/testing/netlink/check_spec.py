#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the YNL spec of the viommu_shadow netlink family against the code.

Documentation/netlink/specs/viommu_shadow.yaml, include/uapi/linux/
viommu_shadow.h and drivers/vfio/viommu_shadow/netlink.c must agree:
- the family name, version and multicast groups are the header's defines;
- each enum of the spec (definitions, the attribute set, the operations)
  is the header's enum of that name, entry for entry, name and value, in
  both directions (nothing missing on either side);
- each attribute's type is the one the header's kernel-doc gives it;
- the module's ops are the spec's: the same commands, do and dump where
  the spec has them, admin-perm on each, and its request policy accepts
  exactly the attributes the spec's requests carry;
- attributes named by operations exist.

With --ynl KSRC (a kernel source with tools/net/ynl, 6.4 or later), the
spec is also loaded by YNL's own parser, validated against the kernel's
schema for its protocol (python3-jsonschema), and its operations and multicast
group looked up there, as YNL's cli.py would (the documentation's ad-hoc
queries use it).

Usage: check_spec.py [--spec F] [--header F] [--source F] [--ynl KSRC]
Prints one line per check group and a summary; exits 1 on any mismatch.
"""
import argparse, os, re, sys

try:
    import yaml
except ImportError:
    # Debian's python3-yaml (scripts/deps.sh) when another python3 is first
    if sys.executable != '/usr/bin/python3' and os.path.exists('/usr/bin/python3'):
        os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
    sys.exit('check_spec.py: needs PyYAML (apt-get install python3-yaml)')

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
ap = argparse.ArgumentParser()
ap.add_argument('--spec', default=os.path.join(TOP, 'Documentation/netlink/specs/viommu_shadow.yaml'))
ap.add_argument('--header', default=os.path.join(TOP, 'include/uapi/linux/viommu_shadow.h'))
ap.add_argument('--source', default=os.path.join(TOP, 'drivers/vfio/viommu_shadow/netlink.c'))
ap.add_argument('--ynl', metavar='KSRC')
args = ap.parse_args()

problems = []
checked = {}


def bad(group, msg):
    problems.append((group, msg))


def count(group, n=1):
    checked[group] = checked.get(group, 0) + n


spec = yaml.safe_load(open(args.spec))
header = open(args.header).read()
source = open(args.source).read()
body = re.sub(r'/\*.*?\*/', '', header, flags=re.S)


def c_name(prefix, name):
    return (prefix + name).upper().replace('-', '_')


def header_enum(name):
    """[(name, value)] of `enum name { ... };`, without __X_MAX and X_MAX."""
    m = re.search(r'enum\s+%s\s*\{(.*?)\};' % re.escape(name), body, re.S)
    if not m:
        return None
    out, value = [], -1
    for item in m.group(1).split(','):
        item = item.strip()
        if not item:
            continue
        ident, _, expr = item.partition('=')
        ident = ident.strip()
        if expr.strip():
            try:
                value = int(expr.strip(), 0)
            except ValueError:
                value = None    # an expression: a MAX alias
        else:
            value += 1
        if ident.startswith('__') or ident.endswith('_MAX'):
            continue
        out.append((ident, value))
    return out


def compare(group, enum_name, want):
    have = header_enum(enum_name)
    if have is None:
        bad(group, 'the header has no enum %s' % enum_name)
        return
    count(group, len(want))
    for n, v in want:
        if (n, v) not in have:
            hv = dict(have).get(n)
            bad(group, '%s = %s in the spec, %s in the header' % (n, v, 'missing' if hv is None else hv))
    for n, v in have:
        if (n, v) not in want:
            bad(group, '%s = %s in the header, not in the spec' % (n, v))
    if [n for n, _ in have] != [n for n, _ in want if n in dict(have)]:
        bad(group, 'the order differs')


def define(name):
    m = re.search(r'#define\s+%s\s+(.+)' % name, body)
    return m.group(1).strip() if m else None


# family
g = 'family'
count(g, 3)
cf = c_name('', spec['c-family-name'])
cv = c_name('', spec['c-version-name'])
if define(cf) != '"%s"' % spec['name']:
    bad(g, '%s is %s, the spec name is "%s"' % (cf, define(cf), spec['name']))
if define(cv) != str(spec['version']):
    bad(g, '%s is %s, the spec version is %s' % (cv, define(cv), spec['version']))
groups = sorted('"%s"' % x['name'] for x in spec['mcast-groups']['list'])
hgroups = sorted(v.strip() for k, v in re.findall(r'#define\s+(VIOMMU_SHADOW_MCGRP_\w+)\s+(.+)', body))
if groups != hgroups:
    bad(g, 'multicast groups: spec %s, header %s' % (groups, hgroups))

# definitions
for d in spec['definitions']:
    g = 'enum ' + d['enum-name']
    start = d.get('value-start', 0)
    compare(g, d['enum-name'], [(c_name(d['name-prefix'], e), start + i) for i, e in enumerate(d['entries'])])

# attributes, with their types from the header's kernel-doc
types = {}
for aset in spec['attribute-sets']:
    g = 'attrs ' + aset['enum-name']
    want, value = [], -1
    for a in aset['attributes']:
        value = a.get('value', value + 1)
        cn = c_name(aset['name-prefix'], a['name'])
        want.append((cn, value))
        types[a['name']] = a['type']
        if a['type'] in ('pad', 'unused'):
            continue
        m = re.search(r'^\s*\*\s*@%s:\s*(\w+)' % cn, header, re.M)
        doc = {'string': 'string', 'flag': 'flag'}.get(a['type'], a['type'])
        count(g)
        if not m:
            bad(g, '%s has no kernel-doc line in the header' % cn)
        elif m.group(1) != doc:
            bad(g, '%s is %s in the spec, %s in the header' % (cn, a['type'], m.group(1)))
        if 'enum' in a:
            en = [d['enum-name'] for d in spec['definitions'] if d['name'] == a['enum']][0]
            if not re.search(r'@%s:[^@]*enum %s' % (cn, en), header):
                bad(g, '%s: the header does not name enum %s' % (cn, en))
    compare(g, aset['enum-name'], want)

# operations
ops = spec['operations']
g = 'ops ' + ops['enum-name']
want, value = [], -1
for op in ops['list']:
    value = op.get('value', value + 1)
    want.append((c_name(ops['name-prefix'], op['name']), value))
    for kind in ('do', 'dump', 'event'):
        part = op.get(kind)
        if not part:
            continue
        for sub in ([part] if kind == 'event' else [part.get('request'), part.get('reply')]):
            for a in (sub or {}).get('attributes', []):
                count(g)
                if a not in types:
                    bad(g, '%s %s names attribute %s, not in the set' % (op['name'], kind, a))
compare(g, ops['enum-name'], want)

# the module: its ops table and request policy
g = 'module'
m = re.search(r'struct genl_ops vshadow_nl_ops\[\]\s*=\s*\{(.*?)\n\};', source, re.S)
kops = {}
for blk in re.findall(r'\{(.*?)\}', m.group(1) if m else '', re.S):
    cmd = re.search(r'\.cmd\s*=\s*(\w+)', blk)
    if cmd:
        kops[cmd.group(1)] = blk
requests = set()
for op in ops['list']:
    cn = c_name(ops['name-prefix'], op['name'])
    has = [k for k in ('do', 'dump') if k in op]
    if not has:
        if cn in kops:
            bad(g, '%s is an event in the spec, an op in the module' % cn)
        continue
    count(g)
    blk = kops.pop(cn, None)
    if blk is None:
        bad(g, 'the module has no op %s' % cn)
        continue
    for k, field in (('do', '.doit'), ('dump', '.dumpit')):
        if (k in op) != (field in blk):
            bad(g, '%s: %s in the spec: %s, in the module: %s' % (cn, k, k in op, field in blk))
    if ('admin-perm' in op.get('flags', [])) != ('GENL_ADMIN_PERM' in blk):
        bad(g, '%s: admin-perm differs' % cn)
    for k in has:
        requests.update((op[k].get('request') or {}).get('attributes', []))
for cn in kops:
    bad(g, 'the module has op %s, the spec does not' % cn)
pol = re.search(r'nla_policy vshadow_nl_policy\[[^]]*\]\s*=\s*\{(.*?)\};', source, re.S)
kpol = set(re.findall(r'\[(VIOMMU_SHADOW_A_\w+)\]', pol.group(1) if pol else ''))
wpol = {c_name(spec['attribute-sets'][0]['name-prefix'], a) for a in requests}
count(g)
if kpol != wpol:
    bad(g, 'request policy: module %s, spec requests %s' % (sorted(kpol), sorted(wpol)))

# YNL's own reading of the spec: what cli.py does before it opens a socket.
if args.ynl:
    g = 'ynl: the spec in YNL (%s)' % os.path.basename(os.path.normpath(args.ynl))
    for sub in ('tools/net/ynl/pyynl', 'tools/net/ynl'):
        if os.path.isdir(os.path.join(args.ynl, sub, 'lib')):
            sys.path.insert(0, os.path.join(args.ynl, sub))
            break
    try:
        from lib import SpecFamily
        # the schema of the spec's protocol, as YNL picks it in-tree
        fam = SpecFamily(args.spec, os.path.join(args.ynl, 'Documentation/netlink',
                                                 spec['protocol'] + '.yaml'))
        count(g)
    except Exception as e:      # a schema violation, or no YNL there
        bad(g, 'YNL refuses the spec: %s: %s' % (type(e).__name__, str(e).splitlines()[0][:300]))
        fam = None
    if fam:
        # requests (do, dump) are cli.py's --do/--dump; events its ntfs
        for op in spec['operations']['list']:
            count(g)
            if ('do' in op or 'dump' in op) and op['name'] not in fam.ops:
                bad(g, 'YNL cannot send %s' % op['name'])
            elif 'event' in op and op['name'] not in fam.ntfs:
                bad(g, 'YNL does not take %s as an event' % op['name'])
            elif op['name'] not in fam.msgs:
                bad(g, 'YNL has no message %s' % op['name'])
        for grp in spec.get('mcast-groups', {}).get('list', []):
            count(g)
            if grp['name'] not in [x['name'] for x in fam.yaml['mcast-groups']['list']]:
                bad(g, 'YNL has no multicast group %s' % grp['name'])

for grp in checked:
    n = sum(1 for p in problems if p[0] == grp)
    print('%-40s %3d checked, %s' % (grp, checked[grp], 'ok' if not n else '%d wrong' % n))
for grp, msg in problems:
    print('check_spec.py: %s: %s' % (grp, msg))
print('check_spec.py: %d checks, %d mismatches' % (sum(checked.values()), len(problems)))
sys.exit(1 if problems else 0)
