#!/usr/bin/env python3
"""check_layers.py - fail the build when a header is included against the layer rule.

Usage: check_layers.py STAMP RULE... -- ROOT
  RULE   LAYER=LOWER,LOWER...  (the layers LAYER may include besides its own)
  ROOT   the source tree: every .c and .h under harness/<layer>/, locks/, shops/ and
         reports/ is checked; its layer is its folder

The rule is written once, at the top of meson.build, which passes it here.

Every #include "..." must name its folder (core/util.h, locks/strategy.h): a bare name
would hide which layer it comes from. On success STAMP is written; on failure every
offending line is printed as file:line: what is wrong, and the exit status is 1."""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
GENERATED = {'ovs_config.h'}  # made by meson in the build directory, for the command line


def layer_of(path):
    parts = os.path.normpath(path).split(os.sep)
    if 'harness' in parts:
        i = parts.index('harness')
        return parts[i + 1] if i + 2 < len(parts) else None
    for top in ('locks', 'shops', 'reports'):
        if top in parts:
            return top
    return None


def main(argv):
    stamp = argv[1]
    sep = argv.index('--')
    rules = {}
    for r in argv[2:sep]:
        name, _, lower = r.partition('=')
        rules[name] = set(x for x in lower.split(',') if x)
    root = argv[sep + 1]
    files = []
    for top in ('harness', 'locks', 'shops', 'reports'):
        for d, _, names in os.walk(os.path.join(root, top)):
            files += [os.path.join(d, n) for n in sorted(names) if n.endswith(('.c', '.h'))]
    bad = []
    for f in sorted(files):
        me = layer_of(f)
        if me not in rules:
            bad.append('%s:1: not in any layer (%s)' % (f, ', '.join(sorted(rules))))
            continue
        with open(f, encoding='utf-8') as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                if inc in GENERATED:
                    if me != 'cli':
                        bad.append('%s:%d: %s is for the command line only' % (f, n, inc))
                    continue
                head = inc.split('/')[0]
                if '/' not in inc or head not in rules:
                    bad.append('%s:%d: "%s": include headers by their layer\'s folder'
                               ' (core/, scenario/, locks/, shops/, infra/, engine/, cli/, reports/)'
                               % (f, n, inc))
                elif head != me and head not in rules[me]:
                    allowed = ', '.join(sorted(rules[me])) or 'nothing below it'
                    bad.append('%s:%d: %s includes %s: %s may use %s' %
                               (f, n, me, inc, me, allowed))
    if bad:
        print('\n'.join(bad), file=sys.stderr)
        print('layer rule broken (see the top of meson.build)', file=sys.stderr)
        return 1
    with open(stamp, 'w', encoding='utf-8') as fh:
        fh.write('ok\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
