package distro

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/inventory"
)

// Real os-release files (Alpine 3.19.4 minirootfs, Debian 12, Ubuntu 24.04, Rocky 9.3).
const (
	alpineOS = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.4\nPRETTY_NAME=\"Alpine Linux v3.19\"\nHOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n"
	debianOS = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n"
	ubuntuOS = "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nVERSION=\"24.04.1 LTS (Noble Numbat)\"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=noble\n"
	rockyOS  = "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n"
)

func TestDetect(t *testing.T) {
	for name, c := range map[string]struct {
		files   map[string]string
		present []string
		want    *inventory.Distro
	}{
		"alpine":                           {map[string]string{EtcOSRelease: alpineOS}, nil, &inventory.Distro{ID: "alpine", VersionID: "3.19.4", PrettyName: "Alpine Linux v3.19"}},
		"debian":                           {map[string]string{UsrOSRelease: debianOS, DebianVersion: "12.7\n"}, nil, &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}},
		"ubuntu":                           {map[string]string{EtcOSRelease: ubuntuOS}, nil, &inventory.Distro{ID: "ubuntu", VersionID: "24.04", Codename: "noble", PrettyName: "Ubuntu 24.04.1 LTS", IDLike: []string{"debian"}}},
		"rocky":                            {map[string]string{EtcOSRelease: rockyOS, RedhatRelease: "Rocky Linux release 9.3 (Blue Onyx)\n"}, nil, &inventory.Distro{ID: "rocky", VersionID: "9.3", PrettyName: "Rocky Linux 9.3 (Blue Onyx)", IDLike: []string{"rhel", "centos", "fedora"}}},
		"etc wins":                         {map[string]string{EtcOSRelease: alpineOS, UsrOSRelease: debianOS}, nil, &inventory.Distro{ID: "alpine", VersionID: "3.19.4", PrettyName: "Alpine Linux v3.19"}},
		"alpine-release only":              {map[string]string{AlpineRelease: "3.20.3\n"}, nil, &inventory.Distro{ID: "alpine", VersionID: "3.20.3", PrettyName: "Alpine Linux v3.20.3"}},
		"debian_version only":              {map[string]string{DebianVersion: "11.11\n"}, nil, &inventory.Distro{ID: "debian", VersionID: "11", PrettyName: "Debian 11.11"}},
		"debian testing":                   {map[string]string{DebianVersion: "trixie/sid\n"}, nil, &inventory.Distro{ID: "debian", Codename: "trixie", PrettyName: "Debian trixie/sid"}},
		"centos 7":                         {map[string]string{RedhatRelease: "CentOS Linux release 7.9.2009 (Core)\n"}, nil, &inventory.Distro{ID: "centos", VersionID: "7.9.2009", PrettyName: "CentOS Linux release 7.9.2009 (Core)"}},
		"rhel":                             {map[string]string{RedhatRelease: "Red Hat Enterprise Linux release 9.4 (Plow)"}, nil, &inventory.Distro{ID: "rhel", VersionID: "9.4", PrettyName: "Red Hat Enterprise Linux release 9.4 (Plow)"}},
		"os-release without ID falls back": {map[string]string{EtcOSRelease: "NAME=x\n", AlpineRelease: "3.19.4"}, nil, &inventory.Distro{ID: "alpine", VersionID: "3.19.4", PrettyName: "Alpine Linux v3.19.4"}},
		"distroless": {map[string]string{EtcOSRelease: debianOS}, []string{"var/lib/dpkg/status.d/base-files"},
			&inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)", Distroless: true}},
		"status.d beside status is not distroless": {map[string]string{EtcOSRelease: debianOS}, []string{"var/lib/dpkg/status.d/x", DpkgStatus},
			&inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}},
		"distroless without os-release": {nil, []string{"var/lib/dpkg/status.d/x"}, &inventory.Distro{ID: "debian", Distroless: true}},
		"nothing":                       {map[string]string{RedhatRelease: "garbage"}, nil, nil},
		// Red Hat's content manifests (one per build layer; shape from Red Hat's security-data-guidelines).
		"rhel content sets": {map[string]string{
			RedhatRelease: "Red Hat Enterprise Linux release 9.4 (Plow)",
			ContentManifests + "python-312-container-1-25.json": `{"metadata": {"icm_version": 1}, "content_sets": ["rhel-9-for-aarch64-baseos-rpms", "rhel-9-for-aarch64-appstream-rpms"]}`,
			ContentManifests + "ubi9-container-9.4-1214.json":   `{"content_sets": ["rhel-9-for-aarch64-baseos-rpms"]}`,
			ContentManifests + "broken.json":                    `{"content_sets": [`,
		}, nil, &inventory.Distro{ID: "rhel", VersionID: "9.4", PrettyName: "Red Hat Enterprise Linux release 9.4 (Plow)",
			ContentSets: []string{"rhel-9-for-aarch64-appstream-rpms", "rhel-9-for-aarch64-baseos-rpms"}}},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string][]byte{}
			for k, v := range c.files {
				if !Required(k) {
					t.Fatalf("%s is not Required", k)
				}
				files[k] = []byte(v)
			}
			present := map[string]bool{}
			for _, p := range c.present {
				if !Marker(p) {
					t.Fatalf("%s is not a marker", p)
				}
				present[p] = true
			}
			if diff := cmp.Diff(c.want, Detect(files, present)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPURL(t *testing.T) {
	deb := &inventory.Distro{ID: "debian", VersionID: "12"}
	for _, c := range []struct {
		p    inventory.Package
		d    *inventory.Distro
		want string
	}{
		{inventory.Package{Name: "libssl3", Version: "3.1.7-r0", Arch: "x86_64", Ecosystem: inventory.Apk}, &inventory.Distro{ID: "alpine", VersionID: "3.19.4"}, "pkg:apk/alpine/libssl3@3.1.7-r0?arch=x86_64&distro=alpine-3.19.4"},
		{inventory.Package{Name: "libstdc++6", Version: "1:12.2.0-14", Arch: "amd64", Ecosystem: inventory.Dpkg}, deb, "pkg:deb/debian/libstdc++6@1:12.2.0-14?arch=amd64&distro=debian-12"},
		{inventory.Package{Name: "ca certs/x", Version: "1", Ecosystem: inventory.Dpkg}, &inventory.Distro{ID: "ubuntu", Codename: "noble"}, "pkg:deb/ubuntu/ca%20certs%2Fx@1?distro=ubuntu-noble"},
		{inventory.Package{Name: "openssl-libs", Version: "1:3.0.7-27.el9", Epoch: 1, Arch: "x86_64", Ecosystem: inventory.Rpm}, nil, "pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1"},
		{inventory.Package{Name: "x", Version: "1", Ecosystem: inventory.Npm, PURL: "pkg:npm/x@1"}, deb, "pkg:npm/x@1"},
	} {
		if got := PURL(&c.p, c.d); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
}

func FuzzParseOSRelease(f *testing.F) {
	for _, s := range []string{alpineOS, debianOS, ubuntuOS, rockyOS, "ID='a\\'b'\n", "ID=\"\n=\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := ParseOSRelease(b)
		if d != nil && d.ID == "" {
			t.Fatal("distro without ID")
		}
		Detect(map[string][]byte{RedhatRelease: b, DebianVersion: b, AlpineRelease: b}, nil)
	})
}
