package match

import "testing"

func TestSchemes(t *testing.T) {
	tests := []struct {
		s    Scheme
		a, b string
		want int
	}{
		// apk: revisions, _git/_p/_rc suffixes, letters.
		{Apk, "3.1.7-r0", "3.1.7-r1", -1},
		{Apk, "1.2.4_git20230717-r4", "1.2.4-r0", 1}, // _git is a post-release suffix
		{Apk, "1.2.4_rc1-r0", "1.2.4-r0", -1},
		{Apk, "1.2.4_p1-r0", "1.2.4-r0", 1},
		{Apk, "1.36.1-r19", "1.36.1-r2", 1},
		{Apk, "1.0a-r0", "1.0-r0", 1},
		// dpkg: epochs, tildes, revisions.
		{Dpkg, "1:1.0-1", "2.0-1", 1},
		{Dpkg, "3.0.20-1~deb12u2", "3.0.22-1~deb12u2", -1},
		{Dpkg, "1.0~rc1-1", "1.0-1", -1},
		{Dpkg, "20250419~deb12u2", "20230311+deb12u1", 1},
		{Dpkg, "1.26.12-1+deb12u1", "1.26.12-1", 1},
		{Dpkg, "5.36.0-7+deb12u3", "5.36.0-7+deb12u4", -1},
		{Dpkg, "10.42-1", "10.42-1+deb12u2", -1},
		// rpm EVR: epochs, tildes, carets.
		{RPM, "1:1.0-1.el9", "2.0-1.el9", 1},
		{RPM, "1.0~rc1-1", "1.0-1", -1},
		{RPM, "1.0^git1-1", "1.0-1", 1},
		{RPM, "1.0^git1-1", "1.0.1-1", -1},
		{RPM, "3.0.7-25.el9_3", "3.0.7-27.el9", -1},
		{RPM, "0:3.0.7-27.el9", "3.0.7-27.el9", 0},
		// Go: OSV SEMVER without "v", pseudo-versions against pseudo-versions, toolchain pre-releases.
		{GoMod, "v0.0.0-20210226172049-e18ecbb05110", "0.0.0-20210520170846-37e1c6afe023", -1},
		{GoMod, "v0.0.0-20210226172049-e18ecbb05110", "0.13.0", -1},
		{GoMod, "v0.3.8-0.20220124021120-d1c84af989ab", "0.3.7", 1},
		{GoMod, "v0.3.8-0.20220124021120-d1c84af989ab", "0.3.8", -1},
		{GoMod, "v2.2.2", "2.2.8", -1},
		{GoMod, "v2.0.0+incompatible", "2.0.0", 0},
		{GoMod, "1.26.8", "1.26.9", -1},
		{GoMod, "go1.21rc2", "1.21.0-rc.3", -1},
		{GoMod, "1.21rc2", "1.21.0", -1},
		// npm semver: pre-releases sort below the release.
		{Npm, "4.17.15", "4.17.20", -1},
		{Npm, "1.2.6-beta.1", "1.2.6", -1},
		{Npm, "1.2.0", "1.2.3", -1},
		// PEP 440: post, dev, pre, local, epochs.
		{PEP440, "1.26.12", "1.26.18", -1},
		{PEP440, "1.0.post1", "1.0", 1},
		{PEP440, "1.0.dev1", "1.0a1", -1},
		{PEP440, "1.0rc1", "1.0", -1},
		{PEP440, "1.0+local.1", "1.0", 1},
		{PEP440, "1!0.1", "2.0", 1},
		{PEP440, "2022.9.24", "2022.12.7", -1},
		// Maven qualifiers.
		{Maven, "2.14.1", "2.15.0", -1},
		{Maven, "2.15.0-rc1", "2.15.0", -1},
		{Maven, "1.0-SNAPSHOT", "1.0", -1},
		{Maven, "1.0.Final", "1.0", 0},
		{Maven, "1.0-alpha-1", "1.0-beta-1", -1},
		{Maven, "1.0-sp1", "1.0", 1},
		// Generic.
		{Generic, "1.2.3", "1.10.0", -1},
	}
	for _, tt := range tests {
		got, err := tt.s.Compare(tt.a, tt.b)
		if err != nil {
			t.Errorf("%s.Compare(%q, %q): %v", tt.s.Name(), tt.a, tt.b, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s.Compare(%q, %q) = %d, want %d", tt.s.Name(), tt.a, tt.b, got, tt.want)
		}
		if rev, _ := tt.s.Compare(tt.b, tt.a); rev != -tt.want {
			t.Errorf("%s.Compare(%q, %q) = %d, want %d (antisymmetry)", tt.s.Name(), tt.b, tt.a, rev, -tt.want)
		}
	}
}

func TestSchemesRejectGarbage(t *testing.T) {
	for _, tt := range []struct {
		s Scheme
		v string
	}{
		{GoMod, "(devel)"},
		{Npm, "not a version"},
		{PEP440, "1.0-garbage!!"},
		{Dpkg, "1:"},
		{RPM, ""},
	} {
		if _, err := tt.s.Compare(tt.v, "1.0"); err == nil {
			t.Errorf("%s.Compare(%q, 1.0): no error", tt.s.Name(), tt.v)
		}
	}
}

func FuzzSchemes(f *testing.F) {
	for _, s := range []string{"3.1.7-r0", "1:1.0~rc1-1", "1.0^git1-1", "v0.0.0-20210226172049-e18ecbb05110", "1!2.0.post1.dev3+x", "1.0-SNAPSHOT", ""} {
		f.Add(s, "1.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []Scheme{Apk, Dpkg, RPM, GoMod, Npm, PEP440, Maven, Generic} {
			_, _ = s.Compare(a, b) // must not panic
		}
	})
}
