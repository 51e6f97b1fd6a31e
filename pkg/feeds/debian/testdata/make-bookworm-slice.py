#!/usr/bin/env python3
# Builds bookworm-slice.json, a hand-made slice in the Debian security tracker's
# JSON shape, from the real facts in ../shared/corpus/expected/evidence (see README.md).
# Usage: python3 make-bookworm-slice.py /path/to/corpus/expected > bookworm-slice.json
import collections, json, re, sys

exp = sys.argv[1] if len(sys.argv) > 1 else '../../../../../shared/corpus/expected'
ev = exp + '/evidence/'
files = {'openssl': 'bookworm-security-libssl3.changelog.txt', 'perl': 'bookworm-security-perl-base.changelog.txt',
         'expat': 'bookworm-security-libexpat1.changelog.txt', 'pcre2': 'bookworm-security-libpcre2-8-0.changelog.txt',
         'python3.11': 'bookworm-security-libpython3.11-minimal.changelog.txt', 'xz-utils': 'bookworm-security-liblzma5.changelog.txt'}
# installed (bookworm 12.15) and candidate (bookworm-security) versions, from evidence/bookworm-sec-upgradable.txt
installed = {'openssl': '3.0.20-1~deb12u2', 'perl': '5.36.0-7+deb12u3', 'expat': '2.5.0-1+deb12u2', 'pcre2': '10.42-1',
             'python3.11': '3.11.2-6+deb12u8', 'xz-utils': '5.4.1-1+deb12u1'}
security = {'openssl': '3.0.22-1~deb12u2', 'perl': '5.36.0-7+deb12u4', 'expat': '2.5.0-1+deb12u5', 'pcre2': '10.42-1+deb12u2',
            'python3.11': '3.11.2-6+deb12u9', 'xz-utils': '5.4.1-1+deb12u2'}


def rel(src, status, fixed, urgency, repos=None):
    r = {'status': status, 'repositories': repos or {'bookworm': installed[src], 'bookworm-security': security[src]}}
    if fixed is not None:
        r['fixed_version'] = fixed
    r['urgency'] = urgency
    return {'bookworm': r}


out = collections.OrderedDict()
for src, fn in files.items():
    txt = open(ev + fn).read()
    entries = re.split(r'\n(?=\S+ \([^)]*\) bookworm-security; urgency=)', txt)
    recs = collections.OrderedDict()
    for ent in reversed(entries):  # oldest upload first: the first fixing version wins
        m = re.match(r'(\S+) \(([^)]*)\) bookworm-security; urgency=(\w+)', ent)
        if not m:
            continue
        ver, urg = m.group(2), m.group(3)
        # join wrapped lines (continuations do not start with a bullet)
        for line in re.sub(r'\n\s{4,}(?=[^\s*+-])', ' ', ent).split('\n'):
            for cve in re.findall(r'CVE-\d{4}-\d+', line):
                stripped = line.strip()
                if cve == 'CVE-2021-4189' or (cve == 'CVE-2026-17084' and stripped.startswith('for ')):
                    continue  # mentioned as context, not fixed here
                if cve in recs:
                    continue
                recs[cve] = {'description': re.sub(r'\s+', ' ', stripped.strip('-*+ ')),
                             'releases': rel(src, 'resolved', ver, urg)}
    out[src] = recs

out['xz-utils']['CVE-2026-34743'] = {
    'description': 'GHSA-5qpq-xqfv-j9pg, fixed by "Add upstream v5.4 commits to fix security issues" (CVE id from expected/findings.json)',
    'releases': rel('xz-utils', 'resolved', '5.4.1-1+deb12u2', 'medium')}
out['xz-utils']['CVE-2024-3094'] = {
    'description': 'Malicious code was discovered in the upstream tarballs of xz, starting with version 5.6.0.',
    'releases': rel('xz-utils', 'resolved', '0', 'not yet assigned')}
out['tar'] = {'CVE-2005-2541': {
    'description': 'Tar 1.15.1 does not properly warn the user when extracting setuid or setgid files, which may allow local users or remote attackers to gain privileges.',
    'releases': {'bookworm': {'status': 'open', 'repositories': {'bookworm': '1.34+dfsg-1.2+deb12u1'}, 'urgency': 'unimportant'}}}}
out['apt'] = {'CVE-2011-3374': {
    'description': 'It was found that apt-key in apt, all versions, do not correctly validate gpg keys with the master keyring, leading to a potential man-in-the-middle attack.',
    'releases': {'bookworm': {'status': 'open', 'repositories': {'bookworm': '2.6.1'}, 'urgency': 'unimportant'}}}}
out['libnet-easytcp-perl'] = {'CVE-2024-56830': {
    'description': "The Net::EasyTCP package 0.15 through 0.26 for Perl uses Perl's builtin rand() if no standard module for secure random number generation is available.",
    'releases': {'bookworm': {'status': 'open', 'repositories': {'bookworm': '0.26-6'}, 'urgency': 'end-of-life'}}}}
json.dump(out, sys.stdout, indent=2)
print()
