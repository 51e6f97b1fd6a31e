package oval

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func read(t *testing.T, name string) (*vulndb.Batch, *feed.Warnings) {
	t.Helper()
	w := &feed.Warnings{}
	r := NewReader(w)
	if err := r.AddBytes(name, mustRead(t, name)); err != nil {
		t.Fatal(err)
	}
	bs := r.Batches()
	if len(bs) != 1 {
		t.Fatalf("batches = %+v", bs)
	}
	return bs[0], w
}

func TestUbuntu(t *testing.T) {
	b, w := read(t, "com.ubuntu.noble.usn.oval-slice.xml")
	if b.Source != SourceUbuntu || b.Records != 2 || len(w.List) != 0 {
		t.Fatalf("batch %s records %d warnings %q", b.Source, b.Records, w.List)
	}
	var got []string
	for _, a := range b.Advisories {
		got = append(got, a.ID+" "+a.Namespace+" "+a.Package+" "+a.FixedVersion+" "+a.Severity)
	}
	// USN-7000-1's test names its binary packages through a constant_variable;
	// the livepatch LSN has only kernel (uname/variable) tests: no package.
	want := []string{
		"USN-7000-1 ubuntu:24.04 expat 2.6.1-2ubuntu0.1 MEDIUM",
		"USN-7000-1 ubuntu:24.04 libexpat1 2.6.1-2ubuntu0.1 MEDIUM",
		"USN-7000-1 ubuntu:24.04 libexpat1-dev 2.6.1-2ubuntu0.1 MEDIUM",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("advisories (-want +got):\n%s", diff)
	}
	a := b.Advisories[1]
	if !cmp.Equal(a.Aliases, []string{"CVE-2024-45490", "CVE-2024-45491", "CVE-2024-45492"}) || a.Published.Format("2006-01-02") != "2024-09-12" ||
		len(a.CVSS) != 3 || a.CVSS[1].Score != 9.8 || a.SeveritySource != SourceUbuntu {
		t.Errorf("USN-7000-1 = %+v", a)
	}
}

func TestRocky(t *testing.T) {
	b, _ := read(t, "org.rockylinux.rlsa-9-slice.xml")
	if b.Source != SourceRocky || b.Records != 2 {
		t.Fatalf("batch %s records %d", b.Source, b.Records)
	}
	by := map[string]vulndb.Advisory{}
	for _, a := range b.Advisories {
		if a.Namespace != "rocky:9" {
			t.Errorf("namespace %q", a.Namespace)
		}
		by[a.ID+" "+a.Package] = a
	}
	a := by["RLSA-2022:4582 gzip"]
	if a.FixedVersion != "1.10-9.el9_0" || a.Severity != "HIGH" || !cmp.Equal(a.Aliases, []string{"CVE-2022-1271"}) || a.Status != vulndb.StatusFixed {
		t.Errorf("gzip = %+v", a)
	}
	if _, ok := by["RLSA-2022:4591 subversion"]; !ok {
		t.Errorf("subversion missing: %v", by)
	}
}

func TestMalformed(t *testing.T) {
	r := NewReader(nil)
	if err := r.AddBytes("x.xml", []byte("<oval_definitions><definitions><definition")); err == nil || !strings.Contains(err.Error(), "x.xml") {
		t.Errorf("truncated XML: err = %v", err)
	}
	w := &feed.Warnings{}
	r = NewReader(w)
	doc := `<oval_definitions><definitions><definition id="oval:org.rockylinux.rlsa:def:1" class="patch"><metadata><title>no id here</title></metadata></definition></definitions></oval_definitions>`
	if err := r.AddBytes("y.xml", []byte(doc)); err != nil {
		t.Fatal(err)
	}
	if len(w.List) != 1 || !strings.Contains(w.List[0], "oval:org.rockylinux.rlsa:def:1") {
		t.Errorf("warnings %q", w.List)
	}
}

func FuzzAddBytes(f *testing.F) {
	f.Add(mustRead(f, "com.ubuntu.noble.usn.oval-slice.xml"))
	f.Add(mustRead(f, "org.rockylinux.rlsa-9-slice.xml"))
	f.Add(mustRead(f, "rhel-8-vunnel.oval.xml"))
	f.Add(mustRead(f, "oracle-elsa-vunnel.oval.xml"))
	f.Add(mustRead(f, "suse-vunnel.oval.xml"))
	f.Add(mustRead(f, "opensuse.leap.15.3-slice.xml"))
	f.Add(mustRead(f, "com.ubuntu.noble.usn.oval-kernel-slice.xml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(nil)
		_ = r.AddBytes("fuzz", data)
		for _, b := range r.Batches() {
			for _, a := range b.Advisories {
				if a.ID == "" || a.Package == "" || a.Namespace == "" {
					t.Fatalf("incomplete advisory %+v", a)
				}
			}
		}
	})
}

// TestEvaluate: the normal form of criteria trees (the criterion comments
// stand for tests, as in a document without tests).
func TestEvaluate(t *testing.T) {
	type cr = struct {
		TestRef string `xml:"test_ref,attr"`
		Comment string `xml:"comment,attr"`
		Negate  string `xml:"negate,attr"`
	}
	pkg := func(n, v string) cr { return cr{Comment: n + " is earlier than " + v} }
	mod := func(m string) cr { return cr{Comment: "Module " + m + " is enabled"} }
	pre := cr{Comment: "Red Hat Enterprise Linux 8 is installed"}
	ix := &indexes{map[string]*Element{}, map[string]*Element{}, map[string]*Element{}, map[string]*Element{}}
	for name, c := range map[string]struct {
		tree Criteria
		want []string
	}{
		"precondition beside the packages in an OR is no alternative": {
			Criteria{Operator: "OR", Criterions: []cr{pre}, Criteria: []Criteria{{Operator: "AND", Criterions: []cr{pkg("a", "1")}}}},
			[]string{"a<1"},
		},
		"module ANDed with an OR of packages": {
			Criteria{Operator: "AND", Criterions: []cr{pre, mod("m:1")}, Criteria: []Criteria{{Operator: "OR", Criterions: []cr{pkg("a", "1"), pkg("b", "2")}}}},
			[]string{"a<1@m:1", "b<2@m:1"},
		},
		"two streams ORed": {
			Criteria{Operator: "OR", Criteria: []Criteria{
				{Operator: "AND", Criterions: []cr{mod("m:1"), pkg("a", "1")}},
				{Operator: "AND", Criterions: []cr{mod("m:2"), pkg("a", "2")}},
			}},
			[]string{"a<1@m:1", "a<2@m:2"},
		},
		"two streams of one module ANDed cannot hold": {
			Criteria{Operator: "AND", Criterions: []cr{mod("m:1"), mod("m:2"), pkg("a", "1")}},
			nil,
		},
		"negated criterion is neutral": {
			Criteria{Operator: "AND", Criterions: []cr{{Comment: "b is earlier than 9", Negate: "true"}, pkg("a", "1")}},
			[]string{"a<1"},
		},
		"only preconditions": {Criteria{Operator: "AND", Criterions: []cr{pre}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, f := range fixes(&Definition{Criteria: c.tree}, ix) {
				s := f.pkg + "<" + f.evr
				if f.module != "" {
					s += "@" + f.module
				}
				got = append(got, s)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
