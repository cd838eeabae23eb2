#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Parse every page under Documentation/ with docutils; fail on any warning.

Sphinx's own roles and directives (doc, ref, toctree, literalinclude) are
accepted as they are; a literalinclude must name a file that exists.  This
catches broken markup, bad tables and dangling `section`_ references
before a Sphinx build would.

Usage: check_rst.py [FILE...]   (default: Documentation/**/*.rst)
"""
import glob, io, os, sys

try:
    import docutils.core
    from docutils import nodes
    from docutils.parsers.rst import Directive, directives, roles
except ImportError:
    if sys.executable != '/usr/bin/python3' and os.path.exists('/usr/bin/python3'):
        os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
    sys.exit('check_rst.py: needs docutils (apt-get install python3-docutils)')

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))


def literal_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.literal(rawtext, text)], []


class Ignored(Directive):
    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = {'maxdepth': directives.unchanged, 'language': directives.unchanged}

    def run(self):
        return []


class LiteralInclude(Ignored):
    required_arguments = 1
    optional_arguments = 0

    def run(self):
        src = self.state.document.current_source
        path = os.path.join(os.path.dirname(src), self.arguments[0])
        if not os.path.isfile(path):
            raise self.error('literalinclude: no file %s' % path)
        return []


roles.register_local_role('doc', literal_role)
roles.register_local_role('ref', literal_role)
directives.register_directive('toctree', Ignored)
directives.register_directive('literalinclude', LiteralInclude)

files = sys.argv[1:] or sorted(glob.glob(os.path.join(TOP, 'Documentation', '**', '*.rst'), recursive=True))
bad = 0
for f in files:
    err = io.StringIO()
    with open(f) as fh:
        docutils.core.publish_doctree(fh.read(), source_path=f, settings_overrides={
            'report_level': 2, 'warning_stream': err, 'halt_level': 5})
    msgs = [m for m in err.getvalue().splitlines() if '(WARNING/' in m or '(ERROR/' in m or '(SEVERE/' in m]
    bad += len(msgs)
    for m in msgs:
        print('check_rst.py: ' + m)
print('check_rst.py: %d pages, %d problems' % (len(files), bad))
sys.exit(1 if bad else 0)
