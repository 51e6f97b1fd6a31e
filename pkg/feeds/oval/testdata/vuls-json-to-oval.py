#!/usr/bin/env python3
"""Writes Oracle ELSA OVAL XML back from vuls-data-update's JSON of it.

vuls-data-update (github.com/MaineK00n/vuls-data-update) stores each element of
Oracle's com.oracle.elsa-all.xml as one JSON file, field for field:
definitions/<id>.json, tests/rpminfo_test/<id>.json,
objects/rpminfo_object/<id>.json, states/rpminfo_state/<id>.json. This script
puts them back into one OVAL document, element names, attributes and text as
the JSON has them, in Oracle's layout (one element a line). Usage:

    python3 vuls-json-to-oval.py DIR > out.xml
"""
import glob
import json
import os
import sys
from xml.sax.saxutils import escape, quoteattr

NS = ('xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5" '
      'xmlns:oval="http://oval.mitre.org/XMLSchema/oval-common-5" '
      'xmlns:red-def="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux"')


def attrs(d, names):
    return "".join(" %s=%s" % (xml, quoteattr(d[key])) for key, xml in names if d.get(key))


def criteria(c, out):
    out.append("<criteria%s>" % attrs(c, [("operator", "operator")]))
    for cr in c.get("criterions") or []:
        out.append("<criterion%s/>" % attrs(cr, [("test_ref", "test_ref"), ("comment", "comment")]))
    for sub in c.get("criterias") or []:
        criteria(sub, out)
    out.append("</criteria>")


def definition(d, out):
    m = d["metadata"]
    out.append("<definition%s>" % attrs(d, [("id", "id"), ("version", "version"), ("class", "class")]))
    out.append("<metadata>")
    out.append("<title>%s</title>" % escape(m["title"]))
    aff = m.get("affected") or {}
    out.append("<affected%s>" % attrs(aff, [("family", "family")]))
    for p in aff.get("platform") or []:
        out.append("<platform>%s</platform>" % escape(p))
    out.append("</affected>")
    for r in m.get("reference") or []:
        out.append("<reference%s/>" % attrs(r, [("source", "source"), ("ref_id", "ref_id"), ("ref_url", "ref_url")]))
    out.append("<description>%s</description>" % escape(m.get("description", "")))
    a = m.get("advisory") or {}
    out.append("<advisory>")
    for k in ("severity", "rights"):
        if a.get(k):
            out.append("<%s>%s</%s>" % (k, escape(a[k]), k))
    if (a.get("issued") or {}).get("date"):
        out.append('<issued date=%s/>' % quoteattr(a["issued"]["date"]))
    for c in a.get("cve") or []:
        out.append("<cve%s>%s</cve>" % (attrs(c, [("cvss2", "cvss2"), ("cvss3", "cvss3"), ("href", "href"), ("public", "public")]), escape(c["text"])))
    cpes = (a.get("affected_cpe_list") or {}).get("cpe") or []
    if cpes:
        out.append("<affected_cpe_list>")
        for c in cpes:
            out.append("<cpe>%s</cpe>" % escape(c))
        out.append("</affected_cpe_list>")
    out.append("</advisory>")
    out.append("</metadata>")
    criteria(d["criteria"], out)
    out.append("</definition>")


def load(pattern):
    return [json.load(open(p)) for p in sorted(glob.glob(pattern))]


def main(root):
    out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<oval_definitions %s>" % NS, "<definitions>"]
    for d in load(os.path.join(root, "definitions", "*.json")):
        definition(d, out)
    out += ["</definitions>", "<tests>"]
    for t in load(os.path.join(root, "tests", "rpminfo_test", "*.json")):
        out.append("<rpminfo_test%s>" % attrs(t, [("xmlns", "xmlns"), ("id", "id"), ("version", "version"), ("comment", "comment"), ("check", "check")]))
        out.append("<object object_ref=%s/>" % quoteattr(t["object"]["object_ref"]))
        if (t.get("state") or {}).get("state_ref"):
            out.append("<state state_ref=%s/>" % quoteattr(t["state"]["state_ref"]))
        out.append("</rpminfo_test>")
    out += ["</tests>", "<objects>"]
    for o in load(os.path.join(root, "objects", "rpminfo_object", "*.json")):
        out.append("<rpminfo_object%s>" % attrs(o, [("xmlns", "xmlns"), ("id", "id"), ("version", "version")]))
        out.append("<name>%s</name>" % escape(o["name"]))
        out.append("</rpminfo_object>")
    out += ["</objects>", "<states>"]
    for s in load(os.path.join(root, "states", "rpminfo_state", "*.json")):
        out.append("<rpminfo_state%s>" % attrs(s, [("xmlns", "xmlns"), ("id", "id"), ("attr_version", "version")]))
        for k in ("signature_keyid", "version", "arch", "evr"):
            if k in s:
                v = s[k]
                out.append("<%s%s>%s</%s>" % (k, attrs(v, [("datatype", "datatype"), ("operation", "operation")]), escape(v["text"]), k))
        out.append("</rpminfo_state>")
    out += ["</states>", "</oval_definitions>"]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
