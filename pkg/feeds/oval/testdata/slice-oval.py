# slice.py FILE DEFID... : keep the named definitions and every test, object,
# state and variable they reference (attribute or element var_ref), each
# element's text unchanged. Definitions named by extend_definition are not
# followed: name them too.
import re, sys
s = open(sys.argv[1]).read()
defs = sys.argv[2:]
head = s[:s.index('<definitions>')]
def elem_by_id(section, id_):
    sec = re.search(r'<%s>(.*?)</%s>' % (section, section), s, re.S).group(1)
    m = re.search(r'<([\w:]+)[^>]*\sid="%s"[^>]*?(?:/>|>.*?</\1>)' % re.escape(id_), sec, re.S)
    if m is None:
        sys.exit('%s: %s not found' % (section, id_))
    return m.group(0)
out_defs = []
tests, objs, states, vars_ = {}, {}, {}, {}
for d in defs:
    m = re.search(r'<definition [^>]*\bid="%s".*?</definition>' % re.escape(d), s, re.S)
    out_defs.append(m.group(0))
    for t in re.findall(r'test_ref="([^"]+)"', m.group(0)):
        if t not in tests:
            tests[t] = elem_by_id('tests', t)
for t in tests.values():
    for o in re.findall(r'object_ref="([^"]+)"', t):
        objs.setdefault(o, elem_by_id('objects', o))
    for st in re.findall(r'state_ref="([^"]+)"', t):
        states.setdefault(st, elem_by_id('states', st))
for o in list(objs.values()) + list(states.values()):
    for v in re.findall(r'var_ref="([^"]+)"', o) + re.findall(r'var_ref>(oval:[^<]+)</', o):
        vars_.setdefault(v, elem_by_id('variables', v))
w = sys.stdout.write
w(head + '<definitions>\n' + '\n'.join(out_defs) + '\n</definitions>\n<tests>\n' + '\n'.join(tests.values()) +
  '\n</tests>\n<objects>\n' + '\n'.join(objs.values()) + '\n</objects>\n<states>\n' + '\n'.join(states.values()) + '\n</states>\n')
if vars_:
    w('<variables>\n' + '\n'.join(vars_.values()) + '\n</variables>\n')
w('</oval_definitions>\n')
