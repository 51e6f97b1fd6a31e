package match

import (
	"testing"

	"github.com/wardensec/warden/pkg/extract/os/distro"
)

// TestNamespaceOfRealOSRelease: real /etc/os-release files of Oracle Linux
// (the oraclelinux:9 image, 9.3), SUSE Linux Enterprise Server 15 SP5 and
// openSUSE Leap 15.6, detected as the distro extractor does, give the
// namespaces the OVAL readers write their rows under.
func TestNamespaceOfRealOSRelease(t *testing.T) {
	for _, c := range []struct {
		name, osRelease, id, ns string
	}{
		{"oracle linux 9.3", `NAME="Oracle Linux Server"
VERSION="9.3"
ID="ol"
ID_LIKE="fedora"
VARIANT="Server"
VARIANT_ID="server"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Oracle Linux Server 9.3"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:oracle:linux:9:3:server"
HOME_URL="https://linux.oracle.com/"
BUG_REPORT_URL="https://github.com/oracle/oracle-linux"

ORACLE_BUGZILLA_PRODUCT="Oracle Linux 9"
ORACLE_BUGZILLA_PRODUCT_VERSION=9.3
ORACLE_SUPPORT_PRODUCT="Oracle Linux"
ORACLE_SUPPORT_PRODUCT_VERSION=9.3
`, "ol", "ol:9"},
		{"sles 15 sp5", `NAME="SLES"
VERSION="15-SP5"
VERSION_ID="15.5"
PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"
ID="sles"
ID_LIKE="suse"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:suse:sles:15:sp5"
DOCUMENTATION_URL="https://documentation.suse.com/"
`, "sles", "sles:15.5"},
		{"opensuse leap 15.6", `NAME="openSUSE Leap"
VERSION="15.6"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.6"
PRETTY_NAME="openSUSE Leap 15.6"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.6"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Leap"
LOGO="distributor-logo-Leap"
`, "opensuse-leap", "opensuse-leap:15.6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := distro.Detect(map[string][]byte{distro.EtcOSRelease: []byte(c.osRelease)}, nil)
			if d == nil || d.ID != c.id {
				t.Fatalf("detected %+v, want ID %s", d, c.id)
			}
			if got := Namespace(d); got != c.ns {
				t.Errorf("namespace %q, want %q", got, c.ns)
			}
		})
	}
}
